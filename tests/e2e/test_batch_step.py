"""The batch step on the engine, called directly: one AWS call per operation for a whole batch,
per-instance outcomes, refusals before anything is taken out, and looks that back off."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from harbormaster import clock
from harbormaster.clients import client
from harbormaster.deploy.batch import step
from harbormaster.deploy.models import BatchSettings, BatchTask, RolloutProgress
from harbormaster.deploy.progress import announce, progress_event
from harbormaster.local import LocalEngine
from harbormaster.notify.events import ImageRef
from harbormaster.notify.publisher import ALERT_TOPIC_ENV
from tests.e2e.deploy_world import fence_parameters

pytestmark = pytest.mark.e2e
ENV = "api-dev"
IMAGE = "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/api@sha256:" + "b" * 64


@pytest.fixture
def calls(engine: LocalEngine) -> Iterator[Counter[str]]:
    """AWS operations the step makes, by name (client side, as the handler calls them)."""
    counted: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        counted[f"{model.service_model.service_name}.{model.name}"] += 1

    for service in ("ec2", "elbv2", "ssm", "dynamodb"):
        client(service).meta.events.register("before-call.*.*", count)
    yield counted
    for service in ("ec2", "elbv2", "ssm", "dynamodb"):
        client(service).meta.events.unregister("before-call.*.*", count)


def _fleet(engine: LocalEngine, size: int, **timing: int) -> tuple[str, list[str]]:
    group = engine.fleet.target_group("batch-tg", environment=ENV, **timing)
    instances = engine.fleet.launch(size, "v1", tags={"harbormaster:environment": ENV}, target_group=group)
    os.environ["DEPLOY_DOCUMENT_NAME"] = engine.stack.outputs["DeployDocumentName"]
    os.environ["TABLE_NAME"] = engine.stack.outputs["TableName"]
    fence_parameters(engine.stack.outputs["TableName"], ENV, "r1")  # r1 holds the environment
    return group, instances


def _task(group: str, instances: list[str], **settings: Any) -> BatchTask:
    base = BatchSettings(
        environment=ENV,
        release_id="r1",
        image_uri=IMAGE,
        target_group_arn=group,
        port=8080,
        drain_seconds=30,
        poll_seconds=5,
        healthy_after_seconds=60,
        health_check_interval_seconds=30,
        health_timeout_seconds=120,
        command_timeout_seconds=600,
        container={"ContainerName": "app", "HealthPath": "/health"},
    )
    return BatchTask(settings=base.model_copy(update=settings), instance_ids=instances)


def _run(engine: LocalEngine, task: BatchTask) -> tuple[BatchTask, list[str]]:
    """Step until final, advancing the virtual clock by each wait; the phases seen."""
    seen = [task.phase]
    for _ in range(50):
        task = step(task)
        seen.append(task.phase)
        if task.phase in {"done", "failed", "superseded"}:
            return task, seen
        engine.clock.advance(timedelta(seconds=task.wait_seconds))
    raise AssertionError(f"no final phase after 50 steps: {seen}")


def test_a_batch_of_120_moves_with_one_call_per_operation(engine: LocalEngine, calls: Counter[str]) -> None:
    group, instances = _fleet(engine, 120, deregistration_delay=30, health_check_interval=30, healthy_threshold=2)
    done, seen = _run(engine, _task(group, instances))
    assert done.phase == "done", done.note
    assert {member.phase for member in done.members.values()} == {"done"}
    assert seen == ["start", "draining", "commanding", "registering", "done"]  # one look per phase
    assert calls["elbv2.DeregisterTargets"] == calls["elbv2.RegisterTargets"] == 1
    assert calls["ssm.SendCommand"] == 3  # 50 + 50 + 20: SendCommand takes at most 50 instances
    assert calls["ssm.ListCommandInvocations"] == 3  # one page of 50 per command
    assert calls["elbv2.DescribeTargetHealth"] == 3  # start, drained, healthy
    assert all(engine.fleet.images[i] == IMAGE for i in instances)
    release = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
    item = release.get_item(Key={"pk": f"ENV#{ENV}", "sk": "RELEASE#r1"})["Item"]
    assert item["instances_done"] == 120 and len(item["touched"]) == 120


def test_a_batch_whose_release_lost_the_environment_takes_nothing_out(engine: LocalEngine) -> None:
    group, instances = _fleet(engine, 3)
    fence_parameters(os.environ["TABLE_NAME"], ENV, "r2")
    after = step(_task(group, instances))
    assert after.phase == "superseded" and "desired: r2" in str(after.note)
    assert engine.fleet._registered(group) == set(instances)


def test_an_instance_not_tagged_for_the_environment_fails_the_batch_before_anything_is_out(
    engine: LocalEngine,
) -> None:
    group, instances = _fleet(engine, 3)
    boto3.client("ec2").delete_tags(Resources=[instances[1]], Tags=[{"Key": "harbormaster:environment"}])
    after = step(_task(group, instances))
    assert after.phase == "failed" and f"{instances[1]} is not tagged harbormaster:environment={ENV}" in str(after.note)
    assert engine.fleet._registered(group) == set(instances)


def test_a_revert_goes_on_without_the_instance_it_cannot_put_back(engine: LocalEngine) -> None:
    group, instances = _fleet(engine, 3, deregistration_delay=0, health_check_interval=5, healthy_threshold=2)
    engine.fleet.fail_next_command(instances[0])
    done, _ = _run(engine, _task(group, instances, keep_going=True, record_touch=False))
    assert done.phase == "done"
    assert done.members[instances[0]].phase == "failed" and "simulated failure" in str(done.members[instances[0]].note)
    assert [done.members[i].phase for i in instances[1:]] == ["done", "done"]


def test_a_failed_command_fails_a_rollout_batch_with_its_output(engine: LocalEngine) -> None:
    group, instances = _fleet(engine, 3, deregistration_delay=0)
    engine.fleet.fail_next_command(instances[2])
    failed, seen = _run(engine, _task(group, instances))
    assert seen[-1] == "failed" and "registering" not in seen
    assert f"the deploy command on {instances[2]} ended Failed (exit 1)" in str(failed.note)
    assert "error pulling image" in str(failed.note)
    assert "----------ERROR" not in str(failed.note)  # SSM's separator is not quoted, only the stderr after it


def test_an_instance_stopped_before_its_command_is_skipped_and_the_rest_deploy(engine: LocalEngine) -> None:
    group, instances = _fleet(engine, 3, deregistration_delay=0, health_check_interval=5, healthy_threshold=2)
    task = step(_task(group, instances))
    boto3.client("ec2").stop_instances(InstanceIds=[instances[0]])  # SSM refuses the whole call for it
    done, _ = _run(engine, task)
    assert done.phase == "done"
    assert done.members[instances[0]].phase == "skipped"
    assert "SSM cannot reach the instance" in str(done.members[instances[0]].note)
    assert [engine.fleet.images[i] for i in instances[1:]] == [IMAGE, IMAGE]


def test_looks_back_off_from_poll_seconds_to_one_health_check_interval_and_stop_at_the_deadline(
    engine: LocalEngine,
) -> None:
    group, instances = _fleet(engine, 2, deregistration_delay=0, health_check_interval=30, healthy_threshold=2)
    engine.fleet.never_healthy(instances[0])
    task = step(step(step(_task(group, instances, health_timeout_seconds=120))))
    assert (task.phase, task.wait_seconds) == ("registering", 60)  # interval x threshold: the first look
    waits = []
    while task.phase == "registering":
        engine.clock.advance(timedelta(seconds=task.wait_seconds))
        task = step(task)
        waits.append(task.wait_seconds)
    assert waits == [5, 10, 20, 25, 0]  # doubling, then only up to the deadline (60 + 60 s)
    assert task.phase == "failed" and "did not become healthy" in str(task.note)
    assert task.deadline is not None and clock.now() >= task.deadline


def test_send_command_refuses_more_than_50_instances_as_ssm_does(engine: LocalEngine) -> None:
    _, instances = _fleet(engine, 51)
    with pytest.raises(ClientError, match="less than or equal to 50"):
        boto3.client("ssm").send_command(
            DocumentName="AWS-RunShellScript", InstanceIds=instances, Parameters={"commands": ["true"]}
        )


def test_list_command_invocations_pages_by_at_most_50_with_details_as_ssm_does(engine: LocalEngine) -> None:
    _, instances = _fleet(engine, 30)
    ssm = boto3.client("ssm")
    command = ssm.send_command(
        DocumentName="AWS-RunShellScript", InstanceIds=instances, Parameters={"commands": ["echo hi"]}
    )["Command"]["CommandId"]
    with pytest.raises(ClientError, match="less than or equal to 50"):
        ssm.list_command_invocations(CommandId=command, MaxResults=51)
    first = ssm.list_command_invocations(CommandId=command, MaxResults=20, Details=True)
    rest = ssm.list_command_invocations(CommandId=command, MaxResults=20, NextToken=first["NextToken"])
    assert len(first["CommandInvocations"]) == 20 and len(rest["CommandInvocations"]) == 10
    assert "NextToken" not in rest and rest["CommandInvocations"][0]["CommandPlugins"] == []
    [plugin] = first["CommandInvocations"][0]["CommandPlugins"]
    assert (plugin["Status"], plugin["ResponseCode"]) == ("Success", 0) and "hi" in plugin["Output"]
    with pytest.raises(ClientError, match="InvalidCommandId"):
        ssm.list_command_invocations(CommandId="0" * 8 + "-0000-0000-0000-" + "0" * 12)


def _progress(instances_total: int) -> RolloutProgress:
    image = ImageRef(repository="api", tag="v2", digest="sha256:" + "b" * 64)
    return RolloutProgress(kind="deploy", image=image, batches=2, instances_total=instances_total)


def test_a_batch_that_ends_tells_its_progress_once_with_the_releases_count(engine: LocalEngine) -> None:
    group, instances = _fleet(engine, 4, deregistration_delay=30, health_check_interval=30, healthy_threshold=2)
    os.environ[ALERT_TOPIC_ENV] = engine.stack.outputs["AlertTopicArn"]
    task = _task(group, instances[:2], progress=_progress(4))
    task.batch = 1
    seen = []
    while task.phase not in {"done", "failed"}:
        before, task = task, step(task)
        seen.append(announce(before, task))
        engine.clock.advance(timedelta(seconds=task.wait_seconds))
    assert task.phase == "done", task.note
    assert [s is not None for s in seen] == [False] * (len(seen) - 1) + [True]
    assert announce(task, step(task)) is None  # a done batch stepped again (a retried call) tells nothing
    event = progress_event(task)
    assert event is not None and event.type == "deploy.progress"
    assert event.details == {"batch": 2, "batches": 2, "instances_done": 2, "instances_total": 4}


def test_a_progress_that_cannot_be_published_never_fails_the_batch(engine: LocalEngine) -> None:
    group, instances = _fleet(engine, 2, deregistration_delay=30, health_check_interval=30, healthy_threshold=2)
    os.environ[ALERT_TOPIC_ENV] = engine.stack.outputs["AlertTopicArn"] + "-gone"  # SNS: NotFound
    task = _task(group, instances[:1], progress=_progress(2))
    done, _ = _run(engine, task)
    assert done.phase == "done" and announce(task, done) is None
    assert _task(group, instances[:1]).settings.progress is None  # a revert's settings: nothing to tell
    assert progress_event(_run(engine, _task(group, instances[1:]))[0]) is None
