"""How long after the alarm's state change a rollback started (a metric, and the benchmark's figure)."""

from __future__ import annotations

from datetime import datetime

from harbormaster import clock
from harbormaster.rollback.models import AlarmStateChange


def seconds_since_alarm(alarm: AlarmStateChange, now: datetime | None = None) -> float | None:
    stamp = alarm.detail.state.timestamp
    if not stamp:
        return None
    try:
        changed = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        return None
    return max(0.0, ((now or clock.now()) - changed).total_seconds())
