"""Scheduler adapters against moto: batching with split-on-failure, hibernation fallback, discovery."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from harbormaster.clients import client, reset_clients
from harbormaster.schedule import resources


@pytest.fixture
def ec2() -> Iterator[Any]:
    with mock_aws():
        reset_clients()
        yield boto3.client("ec2")
    reset_clients()


def launch(ec2: Any, count: int, schedule: str = "office-hours") -> list[str]:
    tags = [{"ResourceType": "instance", "Tags": [{"Key": resources.SCHEDULE_TAG, "Value": schedule}]}]
    found = ec2.run_instances(ImageId="ami-12c6146b", MinCount=count, MaxCount=count, TagSpecifications=tags)
    return sorted(i["InstanceId"] for i in found["Instances"])


def test_a_failing_instance_is_found_by_splitting_and_the_rest_stop(ec2: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = launch(ec2, 120)
    broken = ids[77]
    calls: list[int] = []
    real = client("ec2").stop_instances

    def stop_instances(**kwargs: Any) -> Any:
        calls.append(len(kwargs["InstanceIds"]))
        if broken in kwargs["InstanceIds"]:
            raise ClientError({"Error": {"Code": "IncorrectInstanceState", "Message": "cannot stop"}}, "StopInstances")
        return real(**kwargs)

    with mock.patch.object(client("ec2"), "stop_instances", stop_instances):
        failures = resources.stop_ec2(ids)

    assert failures == {broken: "IncorrectInstanceState: cannot stop"}
    states = {
        i["InstanceId"]: i["State"]["Name"]
        for r in ec2.describe_instances(InstanceIds=ids)["Reservations"]
        for i in r["Instances"]
    }
    assert states[broken] == "running"
    assert sorted(i for i, s in states.items() if s == "stopped") == sorted(set(ids) - {broken})
    assert calls[:3] == [50, 50, 25]  # batches of 50; the failing one split in halves …
    assert len(calls) < 20  # … a handful of calls, not one per instance


def test_hibernate_falls_back_to_stop_when_not_configured(ec2: Any) -> None:
    ids = launch(ec2, 2)
    seen: list[bool] = []
    real = client("ec2").stop_instances

    def stop_instances(**kwargs: Any) -> Any:
        seen.append(bool(kwargs.get("Hibernate")))
        if kwargs.get("Hibernate"):
            raise ClientError(
                {"Error": {"Code": "UnsupportedHibernationConfiguration", "Message": "no"}}, "StopInstances"
            )
        return real(**kwargs)

    with mock.patch.object(client("ec2"), "stop_instances", stop_instances):
        assert resources.stop_ec2(ids, hibernate=True) == {}
    assert seen == [True, False]


def test_discovery_finds_the_tagged_instances_and_skips_asg_members(ec2: Any) -> None:
    ids = launch(ec2, 30)
    member = launch(ec2, 1)[0]
    ec2.create_tags(Resources=[member], Tags=[{"Key": resources.ASG_MEMBER_TAG, "Value": "dev-asg"}])
    launch(ec2, 1, schedule="other")
    with mock.patch.object(client("ec2"), "describe_instances", wraps=client("ec2").describe_instances):
        found, skipped = resources.discover()
    assert sorted(r.id for r in found if r.schedule == "office-hours") == ids
    assert [(k, i) for k, i, _ in skipped] == [("ec2", member)]
