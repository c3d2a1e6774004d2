"""One instance through the rollout, one step per call:

    start ─deregister→ draining ─drained: SendCommand→ commanding ─Success: register→ registering ─healthy→ done
                                                                  └─exit 75: superseded (final, changes nothing)

Each call does at most one thing and says how long to wait before the next (the state machine's
Wait state sleeps, never the Lambda). Every phase has a deadline, so no instance can hang.

The command carries the release id: on the instance it runs only while that release is the
environment's desired one (`state.fence`), so a step that checked its release a moment before a
rollback cannot put its image back afterwards. A superseded step leaves the instance to the
release that superseded it, which covers every instance this one touched.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from botocore.exceptions import ClientError

from harbormaster import clock
from harbormaster.clients import client
from harbormaster.deploy import commands, redact
from harbormaster.deploy.models import InstanceTask
from harbormaster.deploy.targets import ENVIRONMENT_TAG, instance_facts, instance_state
from harbormaster.state import fence, instances
from harbormaster.state.ledger import Ledger
from harbormaster.state.store import TABLE_ENV

_PENDING_COMMAND = {"Pending", "InProgress", "Delayed"}
_GONE = {"shutting-down", "terminated", "stopping", "stopped", "gone"}


def step(task: InstanceTask, now: datetime | None = None) -> InstanceTask:
    moment = now or clock.now()
    handler = {
        "start": _start,
        "draining": _draining,
        "commanding": _commanding,
        "registering": _registering,
    }.get(task.phase)
    if handler is None:
        return task  # done, skipped, superseded and failed are final
    return handler(task, moment)


def _start(task: InstanceTask, now: datetime) -> InstanceTask:
    state, tagged = instance_facts(task.instance_id)
    if state in _GONE:
        return _skip(task, f"instance is {state}: nothing to deploy to")
    if tagged != task.environment:
        return _fail(task, f"{task.instance_id} is not tagged {ENVIRONMENT_TAG}={task.environment} (found {tagged!r})")
    if lost := _not_owner(task):
        return _superseded(task, lost)
    if task.record_touch:  # before taking it out: a rollback that reads the release from here on covers it
        Ledger().add_touched(task.environment, task.release_id, task.instance_id)
    if _target_state(task) not in {"unused", "draining"}:  # a revert finds it already out of service
        client("elbv2").deregister_targets(TargetGroupArn=task.target_group_arn, Targets=_target(task))
    grace = max(60, 3 * task.poll_seconds)
    return task.model_copy(
        update={
            "phase": "draining",
            "wait_seconds": task.drain_seconds,
            "deadline": now + timedelta(seconds=task.drain_seconds + grace),
        }
    )


def _draining(task: InstanceTask, now: datetime) -> InstanceTask:
    if lost := _not_owner(task):  # an early look; the command itself checks again on the instance
        return _superseded(task, lost)
    if _target_state(task) == "draining":
        if _past(task, now):
            return _fail(task, f"{task.instance_id} was still draining after {task.drain_seconds}s and a grace period")
        return _wait(task)
    try:
        command_id = client("ssm").send_command(
            DocumentName=os.environ[commands.DOCUMENT_ENV],
            InstanceIds=[task.instance_id],
            Comment=commands.comment(task.environment, task.release_id),
            Parameters=_document_parameters(task),
        )["Command"]["CommandId"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "InvalidInstanceId":
            raise
        # SSM refuses stopping, stopped and terminated instances: not a failed deploy.
        return _skip(task, f"SSM cannot reach the instance ({instance_state(task.instance_id)}): nothing deployed")
    return task.model_copy(
        update={
            "phase": "commanding",
            "command_id": command_id,
            "wait_seconds": task.poll_seconds,
            "deadline": now + timedelta(seconds=task.command_timeout_seconds),
        }
    )


def _commanding(task: InstanceTask, now: datetime) -> InstanceTask:
    try:
        invocation = client("ssm").get_command_invocation(CommandId=task.command_id, InstanceId=task.instance_id)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "InvocationDoesNotExist":
            raise
        invocation = {"Status": "Pending"}
    status = invocation["Status"]
    if invocation.get("ResponseCode") == fence.SUPERSEDED_EXIT_CODE:
        return _superseded(task, str(invocation.get("StandardOutputContent") or "").strip() or "superseded")
    if status in _PENDING_COMMAND:
        if _past(task, now):
            return _fail(
                task, f"the deploy command on {task.instance_id} did not finish in {task.command_timeout_seconds}s"
            )
        return _wait(task)
    if status != "Success":
        if instance_state(task.instance_id) in _GONE:
            return _skip(task, "instance went away during the deploy command")
        output = invocation.get("StandardErrorContent") or invocation.get("StandardOutputContent") or ""
        tail = redact.last_lines(output, task.log_lines_in_alerts)
        code = invocation.get("ResponseCode")
        return _fail(task, f"the deploy command on {task.instance_id} ended {status} (exit {code}): {tail}")
    instances.record(task.environment, task.instance_id, task.image_uri, task.release_id)
    if lost := _not_owner(task):  # the new owner covers every instance this release touched
        return _superseded(task, lost)
    client("elbv2").register_targets(TargetGroupArn=task.target_group_arn, Targets=_target(task))
    return task.model_copy(
        update={
            "phase": "registering",
            "wait_seconds": max(task.healthy_after_seconds, task.poll_seconds),
            "deadline": now + timedelta(seconds=task.health_timeout_seconds),
        }
    )


def _registering(task: InstanceTask, now: datetime) -> InstanceTask:
    state = _target_state(task)
    if state == "healthy":
        if task.record_touch:
            Ledger().count_done(task.environment, task.release_id)
        return task.model_copy(update={"phase": "done", "wait_seconds": 0, "note": "healthy"})
    if instance_state(task.instance_id) in _GONE:
        return _skip(task, "instance went away while registering")
    if _past(task, now):
        return _fail(
            task,
            f"{task.instance_id} did not become healthy in the target group within "
            f"{task.health_timeout_seconds}s (last state: {state})",
        )
    return _wait(task)


def _not_owner(task: InstanceTask) -> str | None:
    """Why this step must not act: its release no longer holds the environment (its fence)."""
    desired = fence.Fence().desired(task.environment)
    if desired == task.release_id:
        return None
    return f"superseded: {task.release_id} no longer holds {task.environment} (desired: {desired or 'none'})"


def _target_state(task: InstanceTask) -> str:
    described = client("elbv2").describe_target_health(TargetGroupArn=task.target_group_arn, Targets=_target(task))
    descriptions = described["TargetHealthDescriptions"]
    return str(descriptions[0]["TargetHealth"]["State"]) if descriptions else "unused"


def _document_parameters(task: InstanceTask) -> dict[str, list[str]]:
    parameters = {
        "ImageUri": [task.image_uri],
        "ContainerName": [task.container_name],
        "ContainerPort": [str(task.port)],
        "HealthPath": [task.health_path],
        "HealthTimeoutSeconds": [str(task.health_timeout_seconds)],
        "EnvParametersPath": [task.env_parameters_path or ""],
        "LogGroup": [task.log_group or f"/harbormaster/{task.environment}"],
        "ExecutionTimeout": [str(task.command_timeout_seconds)],
        "ReleaseId": [task.release_id],
        "Environment": [task.environment],
        "FenceTable": [os.environ[TABLE_ENV]],
    }
    return parameters


def _target(task: InstanceTask) -> list[dict[str, object]]:
    return [{"Id": task.instance_id, "Port": task.port}]


def _past(task: InstanceTask, now: datetime) -> bool:
    return task.deadline is not None and now >= task.deadline


def _wait(task: InstanceTask) -> InstanceTask:
    """Look again later: never at once, or a zero poll would spin while the ALB's time stands still."""
    return task.model_copy(update={"wait_seconds": max(task.poll_seconds, 1)})


def _skip(task: InstanceTask, note: str) -> InstanceTask:
    return task.model_copy(update={"phase": "skipped", "wait_seconds": 0, "note": note})


def _superseded(task: InstanceTask, note: str) -> InstanceTask:
    return task.model_copy(update={"phase": "superseded", "wait_seconds": 0, "note": note})


def _fail(task: InstanceTask, note: str) -> InstanceTask:
    return task.model_copy(update={"phase": "failed", "wait_seconds": 0, "note": f"batch {task.batch + 1}: {note}"})
