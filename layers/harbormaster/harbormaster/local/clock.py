"""A virtual clock that fires EventBridge Scheduler schedules (rate, at, cron) as it advances."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNIT = {"minute": 60, "hour": 3600, "day": 86400}


class ScheduleExpressionError(ValueError):
    """The schedule expression is not one EventBridge Scheduler accepts."""


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    expression: str
    timezone: str
    target_arn: str
    input: str | None
    start: datetime  # rate schedules count from here


def firings(spec: ScheduleSpec, after: datetime, until: datetime) -> list[datetime]:
    """Times in (after, until] at which `spec` fires, in UTC."""
    expression = spec.expression.strip()
    zone = ZoneInfo(spec.timezone)
    if match := _RATE.match(expression):
        step = timedelta(seconds=int(match.group(1)) * _UNIT[match.group(2).rstrip("s")])
        if step <= timedelta(0):
            raise ScheduleExpressionError(f"{expression}: the rate must be positive")
        elapsed = max(timedelta(0), after - spec.start)
        first = spec.start + step * (elapsed // step + 1)
        times = []
        while first <= until:
            times.append(first)
            first += step
        return times
    if match := _AT.match(expression):
        moment = datetime.fromisoformat(match.group(1)).replace(tzinfo=zone).astimezone(UTC)
        return [moment] if after < moment <= until else []
    if match := _CRON.match(expression):
        return _cron_firings(match.group(1), zone, after, until)
    raise ScheduleExpressionError(f"{expression!r} is not rate(...), at(...) or cron(...)")


def _cron_firings(fields_text: str, zone: ZoneInfo, after: datetime, until: datetime) -> list[datetime]:
    """AWS cron has six fields (minutes hours day-of-month month day-of-week year), `?` for "any",
    and day-of-week 1-7 = SUN-SAT; croniter takes five fields with 0-6 = SUN-SAT."""
    fields = fields_text.split()
    if len(fields) != 6:
        raise ScheduleExpressionError(f"cron({fields_text}) needs 6 fields")
    minute, hour, monthday, month, weekday, year = fields
    weekday = re.sub(r"\b([1-7])\b", lambda m: str(int(m.group(1)) - 1), weekday)
    expression = " ".join(f.replace("?", "*") for f in (minute, hour, monthday, month, weekday))
    try:
        iterator = croniter(expression, after.astimezone(zone))
    except (ValueError, KeyError) as exc:
        raise ScheduleExpressionError(f"cron({fields_text}): {exc}") from None
    times = []
    while (moment := iterator.get_next(datetime).astimezone(UTC)) <= until:
        if year in {"*", "?"} or str(moment.astimezone(zone).year) in year.split(","):
            times.append(moment)
    return times


class VirtualClock:
    """Time as the engine sees it: the wall clock (from `start`) plus every jump the engine made.

    Step Functions Wait states and retry intervals jump it forward instead of sleeping, and so
    does `advance` (the scheduler's nights). Jumps only ever move it forward: two parallel waits
    that end at the same moment move it once.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._base = (start or datetime.now(UTC)).astimezone(UTC)
        self._started = time.monotonic()
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    @property
    def now(self) -> datetime:
        with self._lock:
            return self._now()

    def _now(self) -> datetime:
        return self._base + timedelta(seconds=time.monotonic() - self._started) + self._offset

    def read(self) -> datetime:
        """`now`, as a callable (for `harbormaster.clock.use`)."""
        return self.now

    def advance(self, delta: timedelta) -> tuple[datetime, datetime]:
        with self._lock:
            before = self._now()
            self._offset += max(delta, timedelta(0))
            return before, self._now()

    def advance_to(self, moment: datetime) -> None:
        """Jump to `moment` unless the clock is already past it."""
        with self._lock:
            ahead = moment - self._now()
            if ahead > timedelta(0):
                self._offset += ahead
