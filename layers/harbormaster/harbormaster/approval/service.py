"""Approve or reject a waiting deploy, or roll an environment back, on someone's say-so.

The deploy waits on a `waitForTaskToken` task. `request` keeps the token in the table and returns
the `approval.requested` event (which never carries it). `approve` records each distinct approver
and, once `approval.min_approvals` have approved, sends SendTaskSuccess; `reject` sends
SendTaskFailure(ApprovalRejected). Every decision is a conditional write, so two clicks, two
approvers or a replayed request can only decide once; the second is told who decided first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import ClientError

from harbormaster import clock
from harbormaster.clients import client
from harbormaster.config import HarbormasterConfig
from harbormaster.deploy.events import deploy_event
from harbormaster.deploy.models import DeployPlan
from harbormaster.deploy.wake import TOKEN_GONE
from harbormaster.notify import HarbormasterEvent
from harbormaster.rollback.manual import RollbackRefused, manual_rollback
from harbormaster.state import approvals
from harbormaster.state.ledger import Ledger
from harbormaster.state.status import ApprovalStatus

Via = Literal["slack", "cli"]
REJECTED_ERROR = "ApprovalRejected"


@dataclass(frozen=True)
class Answer:
    """What the person who asked is told, with an HTTP status for the Slack endpoint."""

    status: int
    text: str
    acted: bool = False


def request(plan: DeployPlan, task_token: str, execution_arn: str, config: HarbormasterConfig) -> HarbormasterEvent:
    environment = plan.request.environment
    settings = config.environments[environment].approval
    current = Ledger().current(environment)
    approvals.open_request(
        environment,
        plan.release_id,
        task_token,
        needed=settings.min_approvals,
        timeout_seconds=plan.approval_timeout_seconds,
        details={"execution_arn": execution_arn, "tag": plan.request.image.tag, "digest": plan.request.image.digest},
    )
    event = deploy_event("approval.requested", {"plan": plan.model_dump(mode="json")}, execution_arn)
    event.details.update(
        {
            "approvers": settings.approvers,
            "min_approvals": settings.min_approvals,
            "timeout_seconds": plan.approval_timeout_seconds,
            "pushed_at": plan.request.requested_at.isoformat(),
            "replaces": f"{current.tag} ({current.digest[:19]})" if current else None,
        }
    )
    return event


def approve(config: HarbormasterConfig, environment: str, release_id: str | None, user: str, via: Via) -> Answer:
    found = _waiting(config, environment, release_id, user, via)
    if isinstance(found, Answer):
        return found
    release_id = str(found["release_id"])
    if user in found.get("approved_by", []):
        return Answer(200, f"you already approved {release_id}; waiting for {_missing(found)} more")
    updated = approvals.add_approver(environment, release_id, user)
    if updated is None:
        return _already(approvals.get(environment, release_id) or {})
    approved_by = list(updated.get("approved_by", []))
    if len(approved_by) < int(updated.get("needed", 1)):
        return Answer(200, f"approved by {_people(approved_by)}; waiting for {_missing(updated)} more", acted=True)
    output = json.dumps({"approved_by": approved_by, "at": _now(), "via": via})
    if not approvals.decide(environment, release_id, ApprovalStatus.APPROVED, _people(approved_by), sent=output):
        return _deliver(environment, release_id)  # decided meanwhile by someone else: the truth, delivered
    return _deliver(environment, release_id)


def reject(
    config: HarbormasterConfig, environment: str, release_id: str | None, user: str, reason: str, via: Via
) -> Answer:
    found = _waiting(config, environment, release_id, user, via)
    if isinstance(found, Answer):
        return found
    release_id = str(found["release_id"])
    cause = f"rejected by {_people([user])}: {reason}"[:32000]
    if not approvals.decide(environment, release_id, ApprovalStatus.REJECTED, _people([user]), reason, sent=cause):
        return _deliver(environment, release_id)  # decided meanwhile by someone else: the truth, delivered
    return _deliver(environment, release_id)


def _deliver(environment: str, release_id: str) -> Answer:
    """Send the recorded decision to the gate, then confirm it. Whoever finds a decision recorded
    but not confirmed (a retry after a failed send or a timed-out function, or the next click)
    runs this again: the decision reaches the gate once, and nobody is told something untrue."""
    record = approvals.get(environment, release_id) or {}
    status = str(record.get("status"))
    if status not in approvals.DECIDED:
        return _already(record)
    sending = ApprovalStatus(status)
    sfn = client("stepfunctions")
    token, sent = record["task_token"], str(record.get("sent") or "")
    if sending == ApprovalStatus.APPROVING:
        delivered = _send(lambda: sfn.send_task_success(taskToken=token, output=sent or "{}"))
    else:
        delivered = _send(lambda: sfn.send_task_failure(taskToken=token, error=REJECTED_ERROR, cause=sent[:32000]))
    approvals.confirm(environment, release_id, sending)
    verb = "✅ Approved" if sending == ApprovalStatus.APPROVING else "❌ Rejected"
    told = f"{verb} by {record.get('decided_by')} at {record.get('decided_at')}"
    if sending == ApprovalStatus.REJECTING and record.get("decision_reason"):
        told += f": {record['decision_reason']}"
    if not delivered:
        # The gate no longer waits: an earlier attempt delivered this decision, or it timed out or
        # was stopped (then Finalize records the timeout's rejection over this).
        return Answer(410, f"{told}; {release_id} is no longer waiting for a decision")
    return Answer(200, told, acted=True)


def rollback(
    config: HarbormasterConfig, environment: str, release_id: str, user: str, state_machine_arn: str, via: Via
) -> Answer:
    settings = config.environments.get(environment)
    if settings is None:
        return Answer(404, f"environment {environment!r} is not in the configuration")
    if via == "slack" and user not in settings.approval.approvers:
        return Answer(403, f"<@{user}> is not an approver of {environment}: only approvers can roll it back")
    try:
        execution = manual_rollback(
            config, state_machine_arn, environment, None, actor=f"slack:{user}", expected_current=release_id
        )
    except RollbackRefused as exc:
        return Answer(409, f"not rolled back: {exc}")
    return Answer(
        200,
        f"⏪ Rollback of {release_id} started by {_people([user])} at {_now()} ({execution.rsplit(':', 1)[-1]})",
        True,
    )


def _waiting(
    config: HarbormasterConfig, environment: str, release_id: str | None, user: str, via: Via
) -> dict[str, Any] | Answer:
    """The PENDING request (with its release id), or the answer that says why there is none."""
    settings = config.environments.get(environment)
    if settings is None:
        return Answer(404, f"environment {environment!r} is not in the configuration")
    if via == "slack" and user not in settings.approval.approvers:
        return Answer(403, f"<@{user}> is not an approver of {environment}")
    record = approvals.get(environment, release_id) if release_id else approvals.pending(environment)
    if record is None:
        return Answer(404, f"no deploy of {environment} is waiting for approval")
    record["release_id"] = str(record["sk"])
    if record.get("status") in approvals.DECIDED:  # decided, not yet delivered: deliver it now
        return _deliver(environment, str(record["release_id"]))
    if record.get("status") != ApprovalStatus.PENDING:
        return _already(record)
    return record


def _already(record: dict[str, Any]) -> Answer:
    status = str(record.get("status", "decided")).lower()
    return Answer(200, f"already {status} by {record.get('decided_by', 'someone')} at {record.get('decided_at', '?')}")


def _send(call: Any) -> bool:
    try:
        call()
    except ClientError as exc:
        if exc.response["Error"]["Code"] in TOKEN_GONE:
            return False
        raise
    return True


def _missing(record: dict[str, Any]) -> int:
    return max(0, int(record.get("needed", 1)) - len(record.get("approved_by", [])))


def _people(users: list[str]) -> str:
    return ", ".join(f"<@{u}>" if u.startswith(("U", "W")) and u.isalnum() else u for u in users)


def _now() -> str:
    return clock.now().strftime("%Y-%m-%d %H:%M:%S UTC")
