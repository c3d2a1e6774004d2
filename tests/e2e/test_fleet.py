"""The simulated fleet: SSM commands change what instances run; the fleet drives ALB health."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from harbormaster.clients import client
from harbormaster.local import LocalEngine
from tests.e2e.deploy_world import fence_parameters

pytestmark = pytest.mark.e2e
REGISTRY = "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/repo@sha256:"
V1, V2, BAD = REGISTRY + "1" * 64, REGISTRY + "2" * 64, REGISTRY + "b" * 64


def deploy_command(instance: str, image: str) -> dict[str, Any]:
    """The stack's deploy document, as the instance step sends it (the fleet reads `ImageUri`)."""
    [stack] = boto3.client("cloudformation").describe_stacks(StackName="harbormaster")["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    document = outputs["DeployDocumentName"]
    ssm = boto3.client("ssm")
    parameters = {"ImageUri": image, **fence_parameters(outputs["TableName"], "api")}
    command_id = ssm.send_command(
        InstanceIds=[instance], DocumentName=document, Parameters={k: [v] for k, v in parameters.items()}
    )["Command"]["CommandId"]
    return ssm.get_command_invocation(CommandId=command_id, InstanceId=instance)


def health(target_group: str) -> dict[str, str]:
    described = boto3.client("elbv2").describe_target_health(TargetGroupArn=target_group)
    return {d["Target"]["Id"]: d["TargetHealth"]["State"] for d in described["TargetHealthDescriptions"]}


@pytest.fixture
def fleet_of_four(engine: LocalEngine) -> tuple[LocalEngine, str, list[str]]:
    target_group = engine.fleet.target_group("api-tg")
    ids = engine.fleet.launch(4, V1, tags={"Role": "api"}, target_group=target_group)
    return engine, target_group, ids


def test_a_launched_fleet_runs_its_image_and_is_healthy(fleet_of_four: tuple[LocalEngine, str, list[str]]) -> None:
    engine, target_group, ids = fleet_of_four
    assert health(target_group) == dict.fromkeys(ids, "healthy")
    assert {engine.fleet.images[i] for i in ids} == {V1}
    assert engine.fleet.min_healthy_seen(target_group) == 4


def test_a_deploy_command_changes_the_image(fleet_of_four: tuple[LocalEngine, str, list[str]]) -> None:
    engine, _, ids = fleet_of_four
    invocation = deploy_command(ids[0], V2)
    assert (invocation["Status"], invocation["ResponseCode"]) == ("Success", 0)
    assert engine.fleet.images[ids[0]] == V2
    assert engine.fleet.images[ids[1]] == V1


def test_a_bad_image_fails_the_command_with_log_lines_and_is_unhealthy(
    fleet_of_four: tuple[LocalEngine, str, list[str]],
) -> None:
    engine, target_group, ids = fleet_of_four
    engine.fleet.bad_image(BAD)
    invocation = deploy_command(ids[0], BAD)
    assert (invocation["Status"], invocation["ResponseCode"]) == ("Failed", 1)
    assert "last log lines" in invocation["StandardErrorContent"]
    assert health(target_group)[ids[0]] == "unhealthy"
    assert engine.fleet.min_healthy_seen(target_group) == 3


def test_a_failing_command_fails_once(fleet_of_four: tuple[LocalEngine, str, list[str]]) -> None:
    engine, _, ids = fleet_of_four
    engine.fleet.fail_next_command(ids[1])
    assert deploy_command(ids[1], V2)["Status"] == "Failed"
    assert engine.fleet.images[ids[1]] == V1
    assert deploy_command(ids[1], V2)["Status"] == "Success"


def test_a_target_that_never_turns_healthy(fleet_of_four: tuple[LocalEngine, str, list[str]]) -> None:
    engine, target_group, ids = fleet_of_four
    engine.fleet.never_healthy(ids[2])
    assert deploy_command(ids[2], V2)["Status"] == "Success"
    assert health(target_group)[ids[2]] == "unhealthy"


def test_an_instance_terminated_mid_way(fleet_of_four: tuple[LocalEngine, str, list[str]]) -> None:
    engine, _, ids = fleet_of_four
    engine.fleet.terminate_when_commanded(ids[3])
    assert deploy_command(ids[3], V2)["Status"] == "Undeliverable"
    state = boto3.client("ec2").describe_instances(InstanceIds=[ids[3]])["Reservations"][0]["Instances"][0]
    assert state["State"]["Name"] == "terminated"


def test_deregistering_drains_then_registering_starts_initial(
    fleet_of_four: tuple[LocalEngine, str, list[str]],
) -> None:
    engine, target_group, ids = fleet_of_four
    elbv2 = boto3.client("elbv2")
    elbv2.deregister_targets(TargetGroupArn=target_group, Targets=[{"Id": ids[0]}])

    def state() -> str:
        described = elbv2.describe_target_health(TargetGroupArn=target_group, Targets=[{"Id": ids[0]}])
        return str(described["TargetHealthDescriptions"][0]["TargetHealth"]["State"])

    # AWS's defaults, on the engine's clock: draining for the 300 s deregistration delay, then
    # healthy only after 5 checks 30 s apart.
    assert state() == "draining"
    engine.clock.advance(timedelta(seconds=299))
    assert state() == "draining"
    engine.clock.advance(timedelta(seconds=1))
    assert state() == "unused"
    assert engine.fleet.min_healthy_seen(target_group) == 3
    elbv2.register_targets(TargetGroupArn=target_group, Targets=[{"Id": ids[0]}])
    engine.clock.advance(timedelta(seconds=149))
    assert state() == "initial"
    engine.clock.advance(timedelta(seconds=1))
    assert state() == "healthy"


def test_throttling_is_absorbed_by_the_adaptive_retries_of_our_clients(
    fleet_of_four: tuple[LocalEngine, str, list[str]],
) -> None:
    engine, target_group, _ = fleet_of_four
    engine.fleet.throttle("elbv2", "DescribeTargetHealth", times=3)
    assert len(client("elbv2").describe_target_health(TargetGroupArn=target_group)["TargetHealthDescriptions"]) == 4

    engine.fleet.throttle("elbv2", "DescribeTargetHealth", times=1)
    no_retries = boto3.client("elbv2", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    with pytest.raises(ClientError, match="Throttling"):
        no_retries.describe_target_health(TargetGroupArn=target_group)


def test_throttling_a_json_api(engine: LocalEngine) -> None:
    engine.fleet.throttle("ssm", "GetParameter", times=1)
    boto3.client("ssm").put_parameter(Name="/x", Value="1", Type="String")
    no_retries = boto3.client("ssm", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    with pytest.raises(ClientError, match="ThrottlingException"):
        no_retries.get_parameter(Name="/x")
    assert no_retries.get_parameter(Name="/x")["Parameter"]["Value"] == "1"
