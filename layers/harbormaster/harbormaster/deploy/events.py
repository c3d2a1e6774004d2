"""Turn deploy state into the events published on the alert topic."""

from __future__ import annotations

import json
from typing import Any

from harbormaster.deploy.models import DeployPlan, DeployRequest
from harbormaster.notify.events import HarbormasterEvent, Severity

_SEVERITY: dict[str, Severity] = {
    "deploy.started": "info",
    "deploy.succeeded": "success",
    "deploy.failed": "critical",
    "deploy.skipped": "warning",
}


def deploy_event(kind: str, state: dict[str, Any], execution_arn: str | None = None) -> HarbormasterEvent:
    """Build the event for `kind` from the state machine's state (a request, a plan, maybe an error)."""
    if kind not in _SEVERITY:
        raise ValueError(f"unknown deploy event type {kind!r}")
    plan = DeployPlan.model_validate(state["plan"]) if "plan" in state else None
    request = plan.request if plan else DeployRequest.model_validate(state["request"])
    phase, reason = _failure(state.get("error"))
    return HarbormasterEvent(
        type=kind,
        severity=_SEVERITY[kind],
        route="critical" if kind == "deploy.failed" else "deployments",
        environment=request.environment,
        release_id=plan.release_id if plan else None,
        image=request.image,
        trigger=request.trigger,
        actor=request.actor,
        execution_arn=execution_arn,
        phase=phase or state.get("phase"),
        reason=reason,
    )


def _failure(error: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """(phase, reason) from a Step Functions Catch result {"Error": ..., "Cause": ...}."""
    if not error:
        return None, None
    cause = error.get("Cause", "")
    try:
        parsed = json.loads(cause)
        message = parsed.get("errorMessage") or cause
    except (ValueError, AttributeError):
        message = cause
    return error.get("phase"), f"{error.get('Error', 'Error')}: {message}"[:1000]
