"""What failed, in words: the phase and reason of a Step Functions Catch result. (Its own module:
the events every handler may publish need it, and the finalize phase is heavy to import.)"""

from __future__ import annotations

import json
from typing import Any

_PHASES = {
    "InstanceFailed": "rollout",
    "ReleaseSuperseded": "rollout",
    "EcsDeploymentFailed": "rollout",
    "GuardAlarmDuringBake": "bake",
    "ApprovalTimedOut": "approval",
    "States.Timeout": "timeout",  # a task past its TimeoutSeconds (the gate's own timeout is ApprovalTimedOut)
    "ApprovalRejected": "approval",
}


def describe_failure(error: dict[str, Any]) -> tuple[str, str]:
    """(phase, reason) from a Step Functions Catch result {"Error": ..., "Cause": ...}."""
    name = str(error.get("Error", "Error"))
    cause = error.get("Cause") or ""
    try:
        parsed = json.loads(cause)
        message = parsed.get("errorMessage", cause) if isinstance(parsed, dict) else cause
    except ValueError:
        message = cause
    return _PHASES.get(name, name), f"{name}: {message}"[:2000]
