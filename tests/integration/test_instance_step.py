"""The per-instance step machine against moto (no engine): deadlines and refusals."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from harbormaster.clients import reset_clients
from harbormaster.deploy.instance import step
from harbormaster.deploy.models import InstanceTask
from harbormaster.state.fence import key
from tests.conftest import create_items_table

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def aws() -> Iterator[dict[str, str]]:
    with mock_aws():
        reset_clients()
        ec2 = boto3.client("ec2")
        vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
        group = boto3.client("elbv2").create_target_group(Name="tg", Protocol="HTTP", Port=8080, VpcId=vpc)[
            "TargetGroups"
        ][0]["TargetGroupArn"]
        tagged, untagged = (
            ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, TagSpecifications=tags)["Instances"][0][
                "InstanceId"
            ]
            for tags in (
                [{"ResourceType": "instance", "Tags": [{"Key": "harbormaster:environment", "Value": "api"}]}],
                [],
            )
        )
        boto3.client("elbv2").register_targets(TargetGroupArn=group, Targets=[{"Id": tagged}, {"Id": untagged}])
        create_items_table()
        os.environ.update({"TABLE_NAME": "t", "DEPLOY_DOCUMENT_NAME": "AWS-RunShellScript"})
        boto3.resource("dynamodb").Table("t").put_item(Item={**fence_key(), "release_id": "r1"})  # r1 holds "api"
        yield {"group": group, "tagged": tagged, "untagged": untagged}
        reset_clients()


def fence_key() -> dict[str, str]:
    return key("api")


def task(aws: dict[str, str], instance: str, **changes: object) -> InstanceTask:
    base = InstanceTask(
        environment="api",
        release_id="r1",
        instance_id=instance,
        image_uri="1.dkr.ecr/x@sha256:" + "a" * 64,
        target_group_arn=aws["group"],
        port=8080,
        drain_seconds=10,
        poll_seconds=2,
        health_timeout_seconds=30,
        command_timeout_seconds=60,
        container_name="app",
        health_path="/health",
    )
    return base.model_copy(update=changes)


def test_start_deregisters_and_waits_the_drain(aws: dict[str, str]) -> None:
    after = step(task(aws, aws["tagged"]), NOW)
    assert (after.phase, after.wait_seconds) == ("draining", 10)
    assert after.deadline == NOW + timedelta(seconds=10 + 60)
    registered = boto3.client("elbv2").describe_target_health(TargetGroupArn=aws["group"])["TargetHealthDescriptions"]
    assert [d["Target"]["Id"] for d in registered] == [aws["untagged"]]


def test_a_step_whose_release_lost_the_environment_takes_nothing_out(aws: dict[str, str]) -> None:
    boto3.resource("dynamodb").Table("t").put_item(Item={**fence_key(), "release_id": "r2"})
    after = step(task(aws, aws["tagged"]), NOW)
    assert after.phase == "superseded" and "desired: r2" in str(after.note)
    registered = boto3.client("elbv2").describe_target_health(TargetGroupArn=aws["group"])["TargetHealthDescriptions"]
    assert len(registered) == 2
    touched = boto3.resource("dynamodb").Table("t").get_item(Key={"pk": "ENV#api", "sk": "RELEASE#r1"}).get("Item")
    assert touched is None  # nothing recorded either


def test_an_instance_not_tagged_for_the_environment_is_refused_untouched(aws: dict[str, str]) -> None:
    after = step(task(aws, aws["untagged"]), NOW)
    assert after.phase == "failed" and "is not tagged harbormaster:environment=api" in str(after.note)
    registered = boto3.client("elbv2").describe_target_health(TargetGroupArn=aws["group"])["TargetHealthDescriptions"]
    assert len(registered) == 2


def test_an_instance_stopped_while_registering_is_skipped_not_failed(aws: dict[str, str]) -> None:
    registering = task(aws, aws["tagged"], phase="registering", deadline=NOW)
    boto3.client("ec2").stop_instances(InstanceIds=[aws["tagged"]])
    after = step(registering, NOW)
    assert (after.phase, after.note) == ("skipped", "instance went away while registering")


def test_a_healthy_target_is_done_and_counted(aws: dict[str, str]) -> None:
    boto3.resource("dynamodb").Table("t").put_item(Item={"pk": "ENV#api", "sk": "RELEASE#r1", "instances_done": 0})
    after = step(task(aws, aws["tagged"], phase="registering", deadline=NOW + timedelta(seconds=30)), NOW)
    assert after.phase == "done"
    item = boto3.resource("dynamodb").Table("t").get_item(Key={"pk": "ENV#api", "sk": "RELEASE#r1"})["Item"]
    assert item["instances_done"] == 1


def test_final_phases_do_nothing(aws: dict[str, str]) -> None:
    for phase in ("done", "skipped", "failed"):
        finished = task(aws, aws["tagged"], phase=phase)
        assert step(finished, NOW) == finished
