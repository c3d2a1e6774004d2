"""`schedule keep NAME on|off [until]`: a temporary override of what the schedule says.

`on` keeps the schedule's resources running until the time given (they are not stopped at the
boundary; the first run after `until` applies the schedule again); `off` stops them at the next
run and keeps them stopped until the time given, by default until the schedule would start them.
`until` is a wall-clock time in the schedule's zone (the next one to come: `23:00` at 19:30 is
tonight, at 23:30 tomorrow) or an ISO date and time, and at most `keep_max` away.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from harbormaster.config import HarbormasterConfig
from harbormaster.config.models import Schedule
from harbormaster.schedule.evaluate import next_change, wall_instant
from harbormaster.state.overrides import Override

_WALL = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class OverrideError(ValueError):
    """The override asked for cannot be set (why is in the message); nothing was changed."""


def plan_override(name: str, schedule: Schedule, state: str, until: str | None, by: str, now: datetime) -> Override:
    if state not in {"running", "stopped"}:
        raise OverrideError(f"keep {name} on or off, not {state!r}")
    end = _until(schedule, until, now) if until else _default_end(name, schedule, state, now)
    if end <= now:
        raise OverrideError(f"--until {until!r} is not in the future")
    if end - now > schedule.keep_max:
        raise OverrideError(
            f"{name}: an override lasts at most {_hours(schedule.keep_max)} (keep_max); "
            f"{end.astimezone(ZoneInfo(schedule.timezone)):%a %H:%M %Z} is {_hours(end - now)} away"
        )
    return Override(schedule=name, state=state, until=end, by=by, set_at=now)


def _until(schedule: Schedule, text: str, now: datetime) -> datetime:
    zone = ZoneInfo(schedule.timezone)
    if match := _WALL.match(text.strip()):
        clock = time(int(match.group(1)), int(match.group(2)))
        local = now.astimezone(zone)
        for days in (0, 1):
            candidate = wall_instant(local.date() + timedelta(days=days), clock, zone)
            if candidate > now:
                return candidate
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise OverrideError(f"--until {text!r} is neither HH:MM nor an ISO date and time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _default_end(name: str, schedule: Schedule, state: str, now: datetime) -> datetime:
    """`off` without a time: until the schedule would start the resources (within keep_max)."""
    if state == "running":
        raise OverrideError(f"keep {name} on needs a time to end it (e.g. --until 23:00)")
    moment = now
    for _ in range(16):  # a few changes ahead at most: any → stopped → running
        change = next_change(schedule, moment)
        if change is None or change[0] - now > schedule.keep_max:
            break
        if change[1].state == "running":
            return change[0]
        moment = change[0]
    return now + schedule.keep_max


def _hours(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"


def apply_override(
    config: HarbormasterConfig, name: str, state: str | None, until: str | None, by: str, now: datetime
) -> str:
    """Set (or, with `state` None, clear) a schedule's override and announce it; what was done."""
    from harbormaster.notify import HarbormasterEvent, publish  # on use: only an override announces
    from harbormaster.state.overrides import Overrides

    schedule = config.schedules.get(name)
    if schedule is None:
        raise OverrideError(f"schedule {name!r} is not in the configuration")
    overrides = Overrides()
    zone = ZoneInfo(schedule.timezone)
    if state is None:
        current = overrides.active(name, now)
        if current is None or not overrides.clear(current):
            return f"{name}: no override in force"
        said = f"{name}: override by {current.by} cleared by {by}; the schedule decides again at the next run"
        kind, details = "override.cleared", {"schedule": name, "by": by}
    else:
        override = plan_override(name, schedule, state, until, by, now)
        overrides.keep(override)
        onoff = "on" if override.state == "running" else "off"
        said = f"{name}: kept {onoff} by {by} until {override.until.astimezone(zone):%a %Y-%m-%d %H:%M %Z}"
        kind, details = "override.kept", override.model_dump(mode="json")
    if os.environ.get("ALERT_TOPIC_ARN"):
        publish(HarbormasterEvent(type=kind, route="monitoring", actor=by, reason=said, details=details))
    return said
