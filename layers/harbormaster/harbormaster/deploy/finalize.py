"""End of a deploy: mark the ledger, move the known-good pointer, release the lock and start the
image that waited, whatever the outcome."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from harbormaster import clock
from harbormaster.clients import client
from harbormaster.deploy.converge import divergence
from harbormaster.deploy.failure import describe_failure
from harbormaster.deploy.models import Convergence, DeployPlan
from harbormaster.deploy.publish import publish_image
from harbormaster.deploy.router import execution_name
from harbormaster.observability import logger, metrics
from harbormaster.state import approvals
from harbormaster.state.ledger import Ledger, Release, now_iso
from harbormaster.state.lock import DeployLock
from harbormaster.state.status import ReleaseStatus


def succeed(
    plan: DeployPlan, execution_arn: str, state_machine_arn: str, convergence: Convergence | None = None
) -> dict[str, Any]:
    environment = plan.request.environment
    ledger = Ledger()
    release = _recorded(ledger, environment, plan.release_id)
    seconds = _seconds_since(release.started_at)
    divergent = convergence.divergent if convergence else {}
    made_current = ledger.mark_succeeded(
        release.replace(image_uri=plan.image_uri),
        finished_at=now_iso(),
        duration_seconds=seconds,
        divergent=divergent,
    )
    if not made_current:  # a guard alarm claimed it during this Finalize: it is being rolled back
        return _stopped_by_rollback(plan, execution_arn, "the release was rolled back while it finished")
    metrics.add_metric(name="DeploySucceeded", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="DeployDuration", unit=MetricUnit.Seconds, value=seconds)
    if plan.request.trigger == "rollback":
        metrics.add_metric(name="RollbackDuration", unit=MetricUnit.Seconds, value=seconds)
    return {
        "duration_seconds": seconds,
        "instances_done": release.instances_done,
        "divergent": divergent,
        "reason": _divergence_reason(divergent) if divergent else None,
        "pending_started": _release_and_next(environment, plan.release_id, execution_arn, state_machine_arn),
    }


def _divergence_reason(divergent: dict[str, str]) -> str:
    named = "; ".join(f"{instance}: {what}" for instance, what in sorted(divergent.items()))
    return f"{len(divergent)} instance(s) not converged after the redeploy attempts: {named}"


def fail(
    plan: DeployPlan, error: dict[str, Any], revert: dict[str, Any] | None, execution_arn: str, state_machine_arn: str
) -> dict[str, Any]:
    environment = plan.request.environment
    phase, reason = describe_failure(error)
    ledger = Ledger()
    release = _recorded(ledger, environment, plan.release_id)
    if release.status == ReleaseStatus.ROLLED_BACK and phase != "bake":
        # Stopped by a guard alarm; the rollback deploy has the lock, the fleet and the ledger.
        return _stopped_by_rollback(plan, execution_arn, f"stopped: the release was rolled back ({reason})", phase)
    notes = []
    if revert and revert.get("warning"):
        notes.append(str(revert["warning"]))
    if revert and revert.get("error"):
        notes.append("the revert itself failed, the fleet may be mixed: " + describe_failure(revert["error"])[1])
    unreverted = _not_reverted(revert)
    if unreverted:
        notes.append(
            "the revert could not restore "
            + "; ".join(f"{item['instance_id']}: {item.get('note')}" for item in unreverted)
        )
    service = (revert or {}).get("ecs") or {}
    if service.get("phase") == "failed":
        notes.append(f"the revert itself failed, the service may run the new revision: {service.get('note')}")
    elif service.get("phase") == "done":
        notes.append(f"service restored: {service.get('note')}")
    if plan.previous:
        publish_image(environment, plan.previous.image_uri)
        if plan.rollout is not None and _reverted(revert):
            # The final check: which instances the release planned or touched are not back on the
            # previous image, registered and healthy.
            divergent = divergence(plan, None, plan.rollout.target_group_arn, plan.previous.image_uri)
            if divergent:
                notes.append("not restored: " + "; ".join(f"{i}: {what}" for i, what in sorted(divergent.items())))
    seconds = _seconds_since(release.started_at)
    full_reason = " | ".join([reason, *notes])
    status = ReleaseStatus.FAILED
    if phase == "approval":
        status, full_reason = ReleaseStatus.REJECTED, _rejection(plan, error)
    if phase == "bake" and plan.request.trigger != "rollback" and plan.previous:
        # Bake caught a guard alarm (even one whose EventBridge event was late or lost): the revert
        # just put the previous image back, which is this release's one automatic rollback.
        ledger.claim_rollback(environment, plan.release_id, "bake")
        ledger.quarantine(environment, plan.request.image.digest, plan.release_id, full_reason)
        status = ReleaseStatus.ROLLED_BACK
    ledger.update(
        environment,
        plan.release_id,
        status=status,
        phase=phase,
        reason=full_reason,
        finished_at=now_iso(),
        duration_seconds=seconds,
        reverted=sorted(set(release.touched) - {item["instance_id"] for item in unreverted})
        if _reverted(revert)
        else [],
    )
    metrics.add_metric(name="DeployFailed", unit=MetricUnit.Count, value=1)
    return {
        "phase": phase,
        "reason": full_reason,
        "status": status,
        "duration_seconds": seconds,
        "instances_done": release.instances_done,
        "pending_started": _release_and_next(environment, plan.release_id, execution_arn, state_machine_arn),
    }


def _recorded(ledger: Ledger, environment: str, release_id: str) -> Release:
    release = ledger.release(environment, release_id)
    if release is None:  # Prepare records it before anything runs: the table was changed by hand
        raise LookupError(f"release {release_id} of {environment} has no record in the ledger")
    return release


def _stopped_by_rollback(plan: DeployPlan, execution_arn: str, reason: str, phase: str = "finalize") -> dict[str, Any]:
    DeployLock().release(plan.request.environment, execution_arn, plan.release_id)
    metrics.add_metric(name="DeployStopped", unit=MetricUnit.Count, value=1)
    return {
        "phase": phase,
        "reason": reason,
        "status": ReleaseStatus.ROLLED_BACK,
        "duration_seconds": 0,
        "instances_done": 0,
        "pending_started": None,
    }


def _rejection(plan: DeployPlan, error: dict[str, Any]) -> str:
    """Why the gate refused: the decision kept with the approval request, or its timeout (which
    counts as a rejection, and is recorded so a late click is told)."""
    environment, release_id = plan.request.environment, plan.release_id
    if str(error.get("Error")) == "ApprovalTimedOut":
        reason = f"no decision within the approval timeout ({plan.approval_timeout_seconds}s): rejected"
        approvals.timed_out(environment, release_id, reason)
        return reason
    record = approvals.get(environment, release_id) or {}
    who, when = record.get("decided_by", "?"), record.get("decided_at", "?")
    return f"rejected by {who} at {when}: {record.get('decision_reason')}"


def _not_reverted(revert: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The instances the revert gave up on (each batch's members, as the Revert map returns them)."""
    batches = (revert or {}).get("results") or []
    return [
        {"instance_id": instance_id, "note": member.get("note")}
        for batch in batches
        for instance_id, member in sorted(((batch or {}).get("members") or {}).items())
        if member.get("phase") == "failed"
    ]


def _reverted(revert: dict[str, Any] | None) -> bool:
    return (
        bool(revert) and not (revert or {}).get("error") and ((revert or {}).get("ecs") or {}).get("phase") != "failed"
    )


def _release_and_next(environment: str, release_id: str, execution_arn: str, state_machine_arn: str) -> str | None:
    """Unlock and take the newest waiting image in one transaction, then start it (it takes the
    lock in its own prepare). Raises `LockChanged` when an image was queued meanwhile: the
    state's Retry runs Finalize again, and it takes that image."""
    released, waiting = DeployLock().release_and_take_pending(environment, execution_arn, release_id)
    if not released:
        return None  # not ours any more (a rollback took over): the holder starts what waits
    if waiting is None:
        return None
    # Named after the queued request itself: a digest queued again later is a new name, and a
    # retried Finalize that already started this one finds it (the same name and input).
    occurrence = f"queued:{waiting.get('event_id') or ''}:{waiting.get('requested_at')}"
    name = execution_name(environment, waiting["image"]["digest"], occurrence)
    try:
        client("stepfunctions").start_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps({"request": waiting})
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ExecutionAlreadyExists":
            raise
        logger.info("the queued image was already started", extra={"execution_name": name})
    return name


def _seconds_since(started_at: str | None) -> int:
    if not started_at:
        return 0
    return max(0, int((clock.now() - datetime.fromisoformat(started_at)).total_seconds()))
