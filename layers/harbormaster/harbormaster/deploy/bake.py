"""Bake: after the rollout, watch the guard alarms for `bake` before calling the release good."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from harbormaster import clock
from harbormaster.accounts import HOME, Scope
from harbormaster.deploy.exceptions import DeployError
from harbormaster.deploy.guard_alarms import in_alarm


class GuardAlarmDuringBake(DeployError):
    """A guard alarm went to ALARM while the release was baking."""


def bake_check(
    guard_alarms: list[str],
    bake_seconds: int,
    poll_seconds: int,
    state: dict[str, Any],
    now: datetime | None = None,
    scope: Scope = HOME,
) -> dict[str, Any]:
    """One look at the guard alarms. Returns {done, until, wait_seconds}; raises on ALARM."""
    moment = now or clock.now()
    until = datetime.fromisoformat(state["until"]) if state.get("until") else moment + timedelta(seconds=bake_seconds)
    if firing := in_alarm(guard_alarms, scope):
        name, reason = next(iter(firing.items()))
        raise GuardAlarmDuringBake(f"{name} went to ALARM while baking: {reason}")
    done = moment >= until
    remaining = max(0, int((until - moment).total_seconds()))
    return {"done": done, "until": until.isoformat(), "wait_seconds": min(max(poll_seconds, 1), remaining)}
