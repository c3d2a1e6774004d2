"""One batch of instances through the rollout, one phase per call, all its instances together:

    start ─deregister→ draining ─drained: SendCommand→ commanding ─all ended: register→ registering ─healthy→ done
                                                       └─exit 75 anywhere: superseded (final, changes nothing)

Without a load balancer (`target_group_arn` None) there is nothing to take out or put back:
`start` sends the commands at once, and an instance is done when its command ends healthy (the
document waits for the container's own health check or health path on the instance).

Each call makes one call per AWS operation for the whole batch (DeregisterTargets, SendCommand per
50 instances, ListCommandInvocations, RegisterTargets, DescribeTargetHealth), so the state
machine's transitions grow with batches and looks, not with instances. Each member keeps its own
outcome (skipped, failed, done) and every phase has a deadline, so no batch can hang.

When to look again comes from the target group: the first look after its deregistration delay,
or after `HealthCheckIntervalSeconds x HealthyThresholdCount` for health; later looks back off
(doubling from `poll_seconds`, at most one health-check interval apart) and never pass the
phase's deadline.

While commands run, the batch does not poll: it parks on a task token (`park`) until Run Command
announces that one of them ended (`EC2 Command Status-change Notification`, or an instance's
invocation failing), handled by `deploy.wake`. A lost event costs one look after `wait_seconds`
(COMMAND_FALLBACK_SECONDS, then doubling, never past the deadline).

The command carries the release id: on the instance it runs only while that release is the
environment's desired one (`state.fence`), so a step that checked its release a moment before a
rollback cannot put its image back afterwards. A superseded batch leaves its instances to the
release that superseded it, which covers every instance this one touched.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from harbormaster import clock
from harbormaster.clients import client
from harbormaster.deploy import commands, redact
from harbormaster.deploy.exceptions import DeployError
from harbormaster.deploy.models import BatchSettings, BatchTask, Member, MemberPhase
from harbormaster.deploy.targets import ENVIRONMENT_TAG, instance_facts, instance_states
from harbormaster.deploy.wake import wake_one
from harbormaster.state import fence, instances
from harbormaster.state.ledger import Ledger
from harbormaster.state.store import TABLE_ENV
from harbormaster.state.waiting import Waiting

SEND_COMMAND_LIMIT = 50  # SendCommand's InstanceIds takes at most 50 ids
COMMAND_FALLBACK_SECONDS = 300  # the first look at commands whose end no event announced
SSM_ERROR_LINE = "----------ERROR-------"  # a plugin's Output: stdout, this line, then stderr
_PENDING_COMMAND = {"Pending", "InProgress", "Delayed"}
_GONE = {"shutting-down", "terminated", "stopping", "stopped", "gone"}
_FINAL: set[MemberPhase] = {"skipped", "failed", "done"}


def step(task: BatchTask, now: datetime | None = None) -> BatchTask:
    moment = now or clock.now()
    handler = {
        "start": _start,
        "draining": _draining,
        "commanding": _commanding,
        "registering": _registering,
    }.get(task.phase)
    if handler is None:
        return task  # done, superseded and failed are final
    return handler(task, moment)


def _start(task: BatchTask, now: datetime) -> BatchTask:
    settings = task.settings
    if lost := _not_owner(settings):
        return _final(task, "superseded", lost)
    members = {instance_id: Member() for instance_id in task.instance_ids}
    for instance_id, (state, tagged) in instance_facts(task.instance_ids).items():
        if state in _GONE:
            members[instance_id] = Member(phase="skipped", note=f"instance is {state}: nothing to deploy to")
        elif tagged != settings.environment:
            found = f"{instance_id} is not tagged {ENVIRONMENT_TAG}={settings.environment} (found {tagged!r})"
            members[instance_id] = Member(phase="failed", note=found)
    task = task.model_copy(update={"members": members})
    if _failed(task) and not settings.keep_going:
        return _fail(task)  # before anything is taken out
    taking = _in(task, "start")
    if not taking:
        return _final(task, "done", None)  # every instance gone (or, in a revert, failed)
    if settings.record_touch:  # before taking them out: a rollback that reads the release covers them
        Ledger().add_touched(settings.environment, settings.release_id, *taking)
    if settings.target_group_arn is None:  # nothing to take out of service first
        _move(task, taking, "out")
        return _command(task, now)
    health = _target_states(settings, taking)
    serving = [i for i in taking if health.get(i, "unused") not in {"unused", "draining"}]  # a revert finds some out
    if serving:
        client("elbv2").deregister_targets(
            TargetGroupArn=settings.target_group_arn, Targets=_targets(settings, serving)
        )
    _move(task, taking, "out")
    grace = max(60, 3 * settings.poll_seconds)
    return _next_phase(task, "draining", settings.drain_seconds if serving else 0, now, settings.drain_seconds + grace)


def _draining(task: BatchTask, now: datetime) -> BatchTask:
    settings = task.settings
    if lost := _not_owner(settings):  # an early look; the command itself checks again on the instance
        return _final(task, "superseded", lost)
    out = _in(task, "out")
    health = _target_states(settings, out)
    draining = [i for i in out if health.get(i) == "draining"]
    if draining:
        if not _past(task, now):
            return _again(task, now)
        _move(task, draining, "failed", f"still draining after {settings.drain_seconds}s and a grace period")
        if not settings.keep_going:
            return _fail(task)
    return _command(task, now)


def _command(task: BatchTask, now: datetime) -> BatchTask:
    """Send the deploy command to every instance out of service, and park until one ends."""
    command_ids = _send(task, _in(task, "out"))
    commanding = _next_phase(
        task.model_copy(update={"command_ids": command_ids}),
        "commanding",
        0,
        now,
        task.settings.command_timeout_seconds,
    )
    return _await(commanding, now, command_ids) if command_ids else commanding


def _commanding(task: BatchTask, now: datetime) -> BatchTask:
    settings = task.settings
    waiting = set(_in(task, "out"))
    invocations = {i["InstanceId"]: i for i in _invocations(task.command_ids) if i["InstanceId"] in waiting}
    superseded = [i for i in invocations.values() if _response_code(i) == fence.SUPERSEDED_EXIT_CODE]
    if superseded:
        output = str(superseded[0]["CommandPlugins"][0].get("Output") or "").strip()
        return _final(task, "superseded", output or "superseded")
    ended = {i: inv for i, inv in invocations.items() if inv["Status"] not in _PENDING_COMMAND}
    failed = {i: inv for i, inv in ended.items() if inv["Status"] != "Success"}
    states = instance_states(sorted(failed)) if failed else {}
    for instance_id, invocation in ended.items():
        if instance_id not in failed:
            instances.record(settings.environment, instance_id, settings.image_uri, settings.release_id)
            task.members[instance_id] = Member(phase="commanded")
        elif states.get(instance_id) in _GONE:
            task.members[instance_id] = Member(phase="skipped", note="instance went away during the deploy command")
        else:
            task.members[instance_id] = Member(phase="failed", note=_command_failure(settings, instance_id, invocation))
    if _failed(task) and not settings.keep_going:
        return _fail(task)
    pending = _in(task, "out")
    if pending:
        if not _past(task, now):
            running = sorted({inv["CommandId"] for i, inv in invocations.items() if i in pending})
            return _await(task, now, running or task.command_ids)
        late = f"the deploy command did not finish in {settings.command_timeout_seconds}s"
        _move(task, pending, "failed", late)
        if not settings.keep_going:
            return _fail(task)
    if lost := _not_owner(settings):  # the new owner covers every instance this release touched
        return _final(task, "superseded", lost)
    commanded = _in(task, "commanded")
    if settings.target_group_arn is None:  # the command ended healthy on the instance: nothing to register
        _move(task, commanded, "done", "healthy on the instance (no load balancer)")
        if settings.record_touch and commanded:
            task.instances_done = Ledger().count_done(settings.environment, settings.release_id, len(commanded))
        return _final(task, "done", None)
    if commanded:
        client("elbv2").register_targets(
            TargetGroupArn=settings.target_group_arn, Targets=_targets(settings, commanded)
        )
    _move(task, commanded, "registered")
    first = max(settings.healthy_after_seconds, settings.poll_seconds) if commanded else 0
    return _next_phase(task, "registering", first, now, settings.health_timeout_seconds)


def _registering(task: BatchTask, now: datetime) -> BatchTask:
    settings = task.settings
    registered = _in(task, "registered")
    health = _target_states(settings, registered)
    healthy = [i for i in registered if health.get(i) == "healthy"]
    _move(task, healthy, "done", "healthy")
    unhealthy = _in(task, "registered")
    if unhealthy:
        states = instance_states(unhealthy)
        _move(task, [i for i in unhealthy if states[i] in _GONE], "skipped", "instance went away while registering")
        unhealthy = _in(task, "registered")
    if settings.record_touch and healthy:
        task.instances_done = Ledger().count_done(settings.environment, settings.release_id, len(healthy))
    if unhealthy:
        if not _past(task, now):
            return _again(task, now)
        for instance_id in unhealthy:
            task.members[instance_id] = Member(
                phase="failed",
                note=f"{instance_id} did not become healthy in the target group within "
                f"{settings.health_timeout_seconds}s (last state: {health.get(instance_id, 'unused')})",
            )
        if not settings.keep_going:
            return _fail(task)
    return _final(task, "done", None)


def park(task: BatchTask, token: str, now: datetime | None = None) -> str:
    """Keep `token` for the end of any command the batch awaits, then look once (the same
    ListCommandInvocations as the step): an instance whose invocation ended before the token was
    kept was announced to nobody, so this step wakes the execution itself. Returns `parked`,
    `woken`, or `claimed` (an event's handler was first)."""
    moment = now or clock.now()
    if task.phase != "commanding" or not task.awaiting:
        raise DeployError(f"only a batch awaiting commands parks (phase {task.phase}, awaiting {task.awaiting})")
    waiting = Waiting()
    until = task.deadline or moment
    parked = [waiting.park(c, task.settings.release_id, token, moment, until) for c in task.awaiting]
    out = set(_in(task, "out"))
    progress = [
        i for i in _invocations(task.awaiting) if i["InstanceId"] in out and i["Status"] not in _PENDING_COMMAND
    ]
    if not progress:  # nothing the next step could act on yet
        return "parked"
    return "woken" if any(wake_one(p, "already over", waiting) for p in parked) else "claimed"


def _await(task: BatchTask, now: datetime, command_ids: list[str]) -> BatchTask:
    """Park until one of `command_ids` ends; the park's timeout (a look without an event) starts
    at COMMAND_FALLBACK_SECONDS (or `poll_seconds`), doubles, and never passes the deadline."""
    previous = task.wait_seconds if task.awaiting else 0
    wait = max(COMMAND_FALLBACK_SECONDS, task.settings.poll_seconds, 2 * previous)
    if task.deadline is not None:
        wait = min(wait, max(1, math.ceil((task.deadline - now).total_seconds())))
    return task.model_copy(update={"awaiting": command_ids, "wait_seconds": wait, "looks": task.looks + 1})


def _not_owner(settings: BatchSettings) -> str | None:
    """Why this batch must not act: its release no longer holds the environment (its fence)."""
    desired = fence.Fence().desired(settings.environment)
    if desired == settings.release_id:
        return None
    return f"superseded: {settings.release_id} no longer holds {settings.environment} (desired: {desired or 'none'})"


def _send(task: BatchTask, instance_ids: list[str]) -> list[str]:
    """SendCommand in chunks of 50; an instance SSM cannot reach (stopped meanwhile) is skipped."""
    command_ids = []
    for start in range(0, len(instance_ids), SEND_COMMAND_LIMIT):
        chunk = instance_ids[start : start + SEND_COMMAND_LIMIT]
        try:
            command_ids.append(_send_command(task.settings, chunk))
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "InvalidInstanceId":
                raise
            # SSM refuses the whole call for one stopping, stopped or terminated instance.
            states = instance_states(chunk)
            gone = [i for i in chunk if states[i] != "running"]
            _move(task, gone, "skipped", "SSM cannot reach the instance: nothing deployed")
            reachable = [i for i in chunk if i not in gone]
            if reachable:
                command_ids.append(_send_command(task.settings, reachable))
    return command_ids


def _send_command(settings: BatchSettings, instance_ids: list[str]) -> str:
    return str(
        client("ssm").send_command(
            DocumentName=os.environ[commands.DOCUMENT_ENV],
            InstanceIds=instance_ids,
            Comment=commands.comment(settings.environment, settings.release_id),
            Parameters=_document_parameters(settings),
        )["Command"]["CommandId"]
    )


def _invocations(command_ids: list[str]) -> Iterable[dict[str, Any]]:
    paginator = client("ssm").get_paginator("list_command_invocations")
    for command_id in command_ids:
        for page in paginator.paginate(CommandId=command_id, Details=True):
            yield from page["CommandInvocations"]


def _response_code(invocation: dict[str, Any]) -> int | None:
    plugins = invocation.get("CommandPlugins") or []
    return plugins[0].get("ResponseCode") if plugins else None


def _command_failure(settings: BatchSettings, instance_id: str, invocation: dict[str, Any]) -> str:
    plugins = invocation.get("CommandPlugins") or [{}]
    stdout, _, stderr = str(plugins[0].get("Output") or "").partition(SSM_ERROR_LINE)
    tail = redact.last_lines(stderr if stderr.strip() else stdout, settings.log_lines_in_alerts)
    return (
        f"the deploy command on {instance_id} ended {invocation['Status']} (exit {_response_code(invocation)}): {tail}"
    )


def _target_states(settings: BatchSettings, instance_ids: list[str]) -> dict[str, str]:
    """instance → its state in the target group ("unused" when not registered), one call."""
    if not instance_ids or settings.target_group_arn is None:
        return {}
    described = client("elbv2").describe_target_health(
        TargetGroupArn=settings.target_group_arn, Targets=_targets(settings, instance_ids)
    )["TargetHealthDescriptions"]
    return {str(d["Target"]["Id"]): str(d["TargetHealth"]["State"]) for d in described}


def _document_parameters(settings: BatchSettings) -> dict[str, list[str]]:
    return {
        **{name: [value] for name, value in settings.container.items()},
        "ImageUri": [settings.image_uri],
        "HealthTimeoutSeconds": [str(settings.health_timeout_seconds)],
        "ExecutionTimeout": [str(settings.command_timeout_seconds)],
        "ReleaseId": [settings.release_id],
        "Environment": [settings.environment],
        "FenceTable": [os.environ[TABLE_ENV]],
    }


def _targets(settings: BatchSettings, instance_ids: list[str]) -> list[dict[str, object]]:
    return [{"Id": instance_id, "Port": settings.port} for instance_id in instance_ids]


def _in(task: BatchTask, phase: MemberPhase) -> list[str]:
    return sorted(i for i, member in task.members.items() if member.phase == phase)


def _failed(task: BatchTask) -> bool:
    return any(member.phase == "failed" for member in task.members.values())


def _move(task: BatchTask, instance_ids: list[str], phase: MemberPhase, note: str | None = None) -> None:
    for instance_id in instance_ids:
        task.members[instance_id] = Member(phase=phase, note=note)


def _past(task: BatchTask, now: datetime) -> bool:
    return task.deadline is not None and now >= task.deadline


def _next_phase(task: BatchTask, phase: str, first_look: int, now: datetime, timeout: int) -> BatchTask:
    return task.model_copy(
        update={
            "phase": phase,
            "wait_seconds": max(first_look, task.settings.poll_seconds, 1),
            "awaiting": [],
            "looks": 0,
            "deadline": now + timedelta(seconds=timeout),
        }
    )


def _again(task: BatchTask, now: datetime) -> BatchTask:
    """Look again later, backing off: poll_seconds, twice that, ... at most one health-check
    interval, never past the deadline, and never at once (a zero poll would spin while the ALB's
    time stands still)."""
    settings = task.settings
    floor = max(settings.poll_seconds, 1)
    wait = min(floor * 2**task.looks, max(settings.health_check_interval_seconds, floor))
    if task.deadline is not None:
        wait = min(wait, max(1, math.ceil((task.deadline - now).total_seconds())))
    return task.model_copy(update={"wait_seconds": wait, "looks": task.looks + 1})


def _final(task: BatchTask, phase: str, note: str | None) -> BatchTask:
    return task.model_copy(update={"phase": phase, "wait_seconds": 0, "awaiting": [], "note": note})


def _fail(task: BatchTask, note: str | None = None) -> BatchTask:
    """The batch stops; its note names each instance that failed and why."""
    reasons = [member.note for member in task.members.values() if member.phase == "failed" and member.note]
    text = "; ".join(filter(None, [note, *reasons]))
    return _final(task, "failed", f"batch {task.batch + 1}: {text}")
