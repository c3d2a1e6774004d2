"""Turn deploy state into the events published on the alert topic."""

from __future__ import annotations

from typing import Any

from harbormaster.deploy.failure import describe_failure
from harbormaster.deploy.models import DeployPlan, DeployRequest
from harbormaster.notify.events import HarbormasterEvent, Severity
from harbormaster.state.status import ReleaseStatus

_SEVERITY: dict[str, Severity] = {
    "deploy.started": "info",
    "deploy.queued": "info",
    "deploy.succeeded": "success",
    "deploy.diverged": "critical",
    "deploy.failed": "critical",
    "deploy.skipped": "warning",
    "deploy.rejected": "warning",
    "approval.requested": "warning",
    "rollback.started": "critical",
    "rollback.succeeded": "success",
    "rollback.diverged": "critical",
    "rollback.failed": "critical",
    "rollback.skipped": "warning",
    "rollback.queued": "warning",
}


def deploy_event(kind: str, state: dict[str, Any], execution_arn: str | None = None) -> HarbormasterEvent:
    """The event for `kind` from the state machine's state: a request or a plan, and maybe the
    finalize result (`final`) or a Catch error (`error`)."""
    if kind not in _SEVERITY:
        raise ValueError(f"unknown deploy event type {kind!r}")
    plan = DeployPlan.model_validate(state["plan"]) if state.get("plan") else None
    request = plan.request if plan else DeployRequest.model_validate(state["request"])
    final = state.get("final") or {}
    if kind == "deploy.succeeded" and final.get("divergent"):
        kind = "deploy.diverged"  # finished, but some instances are not on the image: named in the reason
    if kind == "deploy.failed" and final.get("status") == ReleaseStatus.REJECTED:
        kind = "deploy.rejected"  # refused at the approval gate (or its timeout): nothing was touched
    if request.trigger == "rollback" and kind.startswith("deploy."):
        kind = "rollback." + kind.split(".", 1)[1]
    phase, reason = final.get("phase"), final.get("reason")
    if state.get("error") and not reason:
        phase, reason = describe_failure(state["error"])
        phase = state.get("phase") or phase
    if plan and not reason and plan.reason:
        reason = plan.reason
    details: dict[str, Any] = {}
    if plan and plan.instances_total:
        details["instances_total"] = plan.instances_total
    if "instances_done" in final:
        details["instances_done"] = final["instances_done"]
    if "duration_seconds" in final:
        details["duration_seconds"] = final["duration_seconds"]
    if plan and plan.previous:
        details["previous_image"] = plan.previous.image_uri
    if plan and plan.ecs and not plan.ecs.scope.is_home:
        details["where"] = str(plan.ecs.scope)  # account/region of a service in another account
    if plan and plan.warnings:
        details["warnings"] = plan.warnings
    if request.rolls_back:
        details["rolls_back"] = request.rolls_back
    if request.reason:
        details["trigger_reason"] = request.reason
    return HarbormasterEvent(
        type=kind,
        severity=_SEVERITY[kind],
        route="critical" if _SEVERITY[kind] == "critical" else "deployments",
        environment=request.environment,
        release_id=plan.release_id if plan else None,
        image=request.image,
        trigger=request.trigger,
        actor=request.actor,
        execution_arn=execution_arn,
        phase=phase,
        reason=reason,
        details=details,
    )
