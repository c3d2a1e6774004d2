"""Decide what a guard alarm going to ALARM means for each environment it guards, and act.

    a deploy of the environment is running      → stop it, roll back to the last known-good image
    the current release finished < window ago   → roll back to the release before it
    otherwise                                    → no rollback; say the alarm fired outside any window

At most one automatic rollback per release (a conditional claim in the ledger); a rollback is never
itself rolled back; alarms during a rollback are recorded, not acted on.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from harbormaster import clock
from harbormaster.accounts import Scope, environment_scope, is_at, scoped_client
from harbormaster.clients import client
from harbormaster.config import HarbormasterConfig
from harbormaster.deploy import commands
from harbormaster.deploy.models import DeployRequest
from harbormaster.notify import HarbormasterEvent, ImageRef, publish
from harbormaster.observability import logger
from harbormaster.rollback.models import AlarmStateChange
from harbormaster.state.ledger import Ledger, Release, now_iso
from harbormaster.state.lock import DeployLock
from harbormaster.state.status import ReleaseStatus

GUARDS_TAG = "harbormaster:guards"


@dataclass(frozen=True)
class Decision:
    environment: str
    action: str  # rolled_back | stopped_and_rolled_back | outside_window | already_rolling_back | ...
    detail: str
    execution_arn: str | None = None


def guarded_environments(config: HarbormasterConfig, alarm: AlarmStateChange) -> list[str]:
    """Environments living where the alarm is (its account and region) whose `guard_alarms` name
    it (by name or ARN) or that its tag names. An alarm of the same name in another account (its
    events forwarded here by spoke.yaml) guards nothing of this one."""
    name, arn = alarm.detail.alarm_name, alarm.alarm_arn
    here = {
        env: scope
        for env, settings in config.environments.items()
        if is_at(scope := environment_scope(settings, config.spokes), alarm.account, alarm.region)
    }
    found = [
        env
        for env in here
        if name in config.environments[env].guard_alarms or (arn and arn in config.environments[env].guard_alarms)
    ]
    if arn and here:  # tags are read only where an environment lives (another account: its spoke role)
        for tag in _tags(arn, next(iter(here.values()))):
            if tag["Key"] == GUARDS_TAG:
                found += [e for e in re.split(r"[\s,]+", tag["Value"]) if e in here]
    return sorted(set(found))


def _tags(arn: str, scope: Scope) -> list[dict[str, str]]:
    try:
        return list(scoped_client("cloudwatch", scope).list_tags_for_resource(ResourceARN=arn).get("Tags", []))
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        return []


def handle_alarm(
    alarm: AlarmStateChange, config: HarbormasterConfig, state_machine_arn: str, now: datetime | None = None
) -> list[Decision]:
    if alarm.detail.state.value != "ALARM":
        logger.info("ignored: not an ALARM transition", extra={"alarm": alarm.detail.alarm_name})
        return []
    environments = guarded_environments(config, alarm)
    if not environments:
        logger.info("ignored: the alarm guards no environment", extra={"alarm": alarm.detail.alarm_name})
        return []
    return [_decide(env, alarm, config, state_machine_arn, now or clock.now()) for env in environments]


def _decide(
    environment: str, alarm: AlarmStateChange, config: HarbormasterConfig, state_machine_arn: str, now: datetime
) -> Decision:
    settings = config.environments[environment]
    name = alarm.detail.alarm_name
    reason = f"{name}: {alarm.detail.state.reason}"[:1000]
    record = {"reason": reason, "alarm_time": alarm.detail.state.timestamp}
    if not settings.rollback.on_alarm:
        return _recorded(environment, name, "disabled", "rollback.on_alarm is off", record)
    lock = DeployLock()
    holder = lock.holder(environment)
    ledger = Ledger()
    bad: Release | None
    if holder:
        running = ledger.release(environment, str(holder["release_id"]))
        if _is_rollback(running):
            return _recorded(environment, name, "already_rolling_back", "a rollback is already running", record)
        # Back to the release that was current when it started, never to itself (its Finalize may
        # have made it current a moment ago). With none (the environment's first deploy), stopping
        # would strand what the deploy took out of service with nothing to put back: it goes on, and
        # its Bake fails it if the alarm still holds.
        target = _previous_of(environment, running)
        if target is None:
            return _no_known_good(environment, name, reason, record, "the deploy goes on; its bake decides")
        if running is None or not ledger.claim_rollback(environment, running.release_id, name):
            return _recorded(environment, name, "already_rolled_back", "this release was rolled back once", record)
        # Withdraw the release's fence before stopping it: from here on no command of it runs on
        # an instance, even one whose step decided to act a moment ago.
        lock.release(environment, str(holder["owner"]), str(holder["release_id"]))
        _stop(str(holder["owner"]), reason)
        bad = running
    else:
        current = ledger.current(environment)
        bad = ledger.release(environment, current.release_id) if current else None
        finished = bad.finished_at if bad else None
        if not bad or not finished or (now - datetime.fromisoformat(finished)) > settings.rollback.window:
            _publish_outside_window(environment, name, reason)
            return _recorded(environment, name, "outside_window", "no deploy running, none inside the window", record)
        if _is_rollback(bad):
            return _recorded(environment, name, "rollback_is_current", "the current release is a rollback", record)
        if not ledger.claim_rollback(environment, bad.release_id, name):
            return _recorded(environment, name, "already_rolled_back", "this release was rolled back once", record)
        target = _previous_of(environment, bad)
    if not target or not bad:
        return _no_known_good(environment, name, reason, record)
    execution = start_rollback(environment, bad, target, f"alarm {reason}", f"alarm:{name}", state_machine_arn)
    if holder:  # once the rollback is started: cancelling only saves time, it must never cost the rollback
        commands.cancel_in_flight(environment, bad.release_id)
    action = "stopped_and_rolled_back" if holder else "rolled_back"
    return _recorded(environment, name, action, f"rolling back to {target.tag}", record, execution)


def start_rollback(
    environment: str, bad: Release, target: Release, reason: str, actor: str, state_machine_arn: str
) -> str:
    """Mark `bad` ROLLED_BACK, quarantine its digest, deploy `target` with the rollback strategy."""
    bad_id = bad.release_id
    ledger = Ledger()
    ledger.update(environment, bad_id, status=ReleaseStatus.ROLLED_BACK, reason=reason, finished_at=now_iso())
    ledger.quarantine(environment, bad.digest, bad_id, reason)
    request = DeployRequest(
        environment=environment,
        trigger="rollback",
        actor=actor,
        requested_at=clock.now(),
        image=ImageRef(repository=target.repository, tag=target.tag, digest=target.digest),
        reason=reason,
        rolls_back=bad_id,
        task_definition_arn=target.task_definition_arn,  # ECS: the same revision, not a rebuilt one
    )
    # Unique per attempt; the ledger's one-claim-per-release is what prevents a second automatic rollback.
    name = f"{environment[:30]}-rollback-{bad_id}-{clock.now():%H%M%S%f}"[:80]
    return str(
        client("stepfunctions").start_execution(
            stateMachineArn=state_machine_arn,
            name=re.sub(r"[^A-Za-z0-9_-]", "-", name),
            input=json.dumps({"request": request.model_dump(mode="json")}),
        )["executionArn"]
    )


def running_rollback(environment: str) -> str | None:
    """The release id of the rollback that holds the environment, if one does."""
    holder = DeployLock().holder(environment)
    if not holder:
        return None
    running = Ledger().release(environment, str(holder["release_id"]))
    return str(holder["release_id"]) if _is_rollback(running) else None


def _is_rollback(release: Release | None) -> bool:
    return release is not None and release.trigger == "rollback"


def _previous_of(environment: str, release: Release | None) -> Release | None:
    previous_id = release.previous_release_id if release else None
    return Ledger().release(environment, previous_id) if previous_id else None


def _stop(execution_arn: str, reason: str) -> None:
    try:
        client("stepfunctions").stop_execution(executionArn=execution_arn, error="GuardAlarm", cause=reason[:32000])
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ExecutionDoesNotExist":
            raise


def _no_known_good(
    environment: str, alarm: str, reason: str, record: dict[str, Any], then: str | None = None
) -> Decision:
    note = f"no known-good release to return to{'; ' + then if then else ''}"
    publish(
        HarbormasterEvent(
            type="rollback.failed",
            severity="critical",
            route="critical",
            environment=environment,
            reason=f"{reason} | {note}",
        )
    )
    return _recorded(environment, alarm, "no_known_good", note, record)


def _publish_outside_window(environment: str, alarm: str, reason: str) -> None:
    publish(
        HarbormasterEvent(
            type="alarm.outside_window",
            severity="warning",
            route="monitoring",
            environment=environment,
            reason=reason,
            details={"alarm": alarm, "note": "no deploy running and none inside the window"},
        )
    )


def _recorded(
    environment: str, alarm: str, action: str, detail: str, record: dict[str, Any], execution: str | None = None
) -> Decision:
    Ledger().record_alarm(environment, alarm, action, {**record, "detail": detail, "execution_arn": execution})
    logger.info("alarm decision", extra={"environment": environment, "alarm": alarm, "action": action})
    return Decision(environment, action, detail, execution)
