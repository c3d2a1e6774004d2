"""What a schedule wants at an instant: `running`, `stopped` or `any`, and why; and when that changes.

All comparisons are on the schedule's local wall clock (its IANA time zone), so a period keeps its
hours across daylight-saving changes. The rules, in order:

1. `override_status` wins over everything.
2. A holiday (a date in the schedule's time zone) is stopped all day.
3. Each period says running, stopped or any:
     - its days (weekdays ∩ monthdays ∩ months; an unset field matches every day) must match;
       on another day it says stopped;
     - begin and end: running in [begin, end), stopped outside;
     - begin only: running from begin, any before; end only: stopped from end, any before;
     - neither: running all day;
     - begin later than end is one overnight period that belongs to the day it begins:
       running from begin that day until end the next day.
4. Periods combine: running beats any, any beats stopped.
5. Adjacent periods (Instance Scheduler's rule): with several periods, an instant they say stopped
   but that is running one minute before and one minute after stays running.

Monthday ranges do not wrap past the month's end (`29-3` is refused, as Instance Scheduler does),
and a range that starts after the month's last day matches nothing that month (`30-31` in February).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from harbormaster.config.models import Period, Schedule
from harbormaster.schedule import expressions
from harbormaster.schedule.exceptions import ScheduleError

State = Literal["running", "stopped", "any"]
_RANK: dict[State, int] = {"stopped": 0, "any": 1, "running": 2}
HORIZON_DAYS = 400  # how far `next_change` looks (a schedule may be stopped for months)


@dataclass(frozen=True)
class Decision:
    state: State
    reason: str


@dataclass(frozen=True)
class CompiledPeriod:
    label: str
    begin: time | None
    end: time | None
    weekdays: expressions.DateTest | None
    monthdays: expressions.DateTest | None
    months: expressions.DateTest | None

    def on_day(self, day: date) -> bool:
        return all(test is None or test(day) for test in (self.weekdays, self.monthdays, self.months))

    def state(self, local: datetime) -> State:
        now, today = local.time(), local.date()
        if self.begin is not None and self.end is not None and self.begin > self.end:  # overnight
            if self.on_day(today) and now >= self.begin:
                return "running"
            if self.on_day(today - timedelta(days=1)) and now < self.end:
                return "running"
            return "stopped"
        if not self.on_day(today):
            return "stopped"
        if self.begin is None and self.end is None:
            return "running"
        if self.end is None:
            return "running" if now >= (self.begin or now) else "any"
        if self.begin is None:
            return "stopped" if now >= self.end else "any"
        return "running" if self.begin <= now < self.end else "stopped"


def compile_period(period: Period, index: int) -> CompiledPeriod:
    begin, end = _clock(period.begintime), _clock(period.endtime)
    if begin is not None and begin == end:
        raise ScheduleError(f"period {index + 1}: begintime and endtime are both {period.begintime}")
    return CompiledPeriod(
        label=_label(period, index),
        begin=begin,
        end=end,
        weekdays=expressions.weekdays(period.weekdays),
        monthdays=expressions.monthdays(period.monthdays),
        months=expressions.months(period.months),
    )


_COMPILED: dict[int, tuple[Schedule, tuple[CompiledPeriod, ...]]] = {}


def _compiled(schedule: Schedule) -> tuple[CompiledPeriod, ...]:
    """Periods parsed once per schedule object (configuration is loaded once per cold start)."""
    cached = _COMPILED.get(id(schedule))
    if cached is None or cached[0] is not schedule:
        cached = (schedule, tuple(compile_period(period, index) for index, period in enumerate(schedule.periods)))
        _COMPILED[id(schedule)] = cached
    return cached[1]


def validate(schedule: Schedule) -> None:
    """Raise ScheduleError (or ExpressionError) if the schedule cannot be evaluated."""
    if not schedule.periods and schedule.override_status is None:
        raise ScheduleError("a schedule needs at least one period, or override_status")
    _compiled(schedule)


def evaluate(schedule: Schedule, at: datetime) -> Decision:
    validate(schedule)
    local = at.astimezone(ZoneInfo(schedule.timezone))
    if schedule.override_status is not None:
        return Decision(schedule.override_status, f"override_status: {schedule.override_status}")
    decision = _by_periods(schedule, local)
    if decision.state == "stopped" and len(schedule.periods) > 1:
        # Instance Scheduler's adjacent periods: stopped now, but running a minute before and a minute
        # after (4:00-12:00 then 12:01-17:00, at 12:00) is one stretch of running: it stays running.
        before, after = (_by_periods(schedule, local + timedelta(minutes=m)) for m in (-1, 1))
        if before.state == after.state == "running":
            return Decision("running", f"between adjacent periods ({after.reason})")
    return decision


def _by_periods(schedule: Schedule, local: datetime) -> Decision:
    """What the holidays and periods say at `local` (the schedule's wall clock)."""
    if local.date() in schedule.holidays:
        return Decision("stopped", f"holiday {local.date().isoformat()}")
    best: Decision | None = None
    for period in _compiled(schedule):
        state = period.state(local)
        if best is None or _RANK[state] > _RANK[best.state]:
            best = Decision(state, f"{period.label} says {state}")
    assert best is not None  # validate() guarantees a period
    if best.state == "stopped" and len(schedule.periods) > 1:
        best = Decision("stopped", "no period says running or any")
    return best


def next_change(schedule: Schedule, at: datetime) -> tuple[datetime, Decision] | None:
    """The first instant after `at` where the decided state differs, and the new decision."""
    current = evaluate(schedule, at).state
    zone = ZoneInfo(schedule.timezone)
    start = at.astimezone(zone).date()
    clocks = sorted({time(0)} | {t for p in _compiled(schedule) for t in (p.begin, p.end) if t is not None})
    for offset in range(HORIZON_DAYS):
        day = start + timedelta(days=offset)
        for clock in clocks:
            instant = wall_instant(day, clock, zone)
            if instant <= at:
                continue
            decision = evaluate(schedule, instant)
            if decision.state != current:
                return instant, decision
    return None


def wall_instant(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """The UTC instant the local wall clock reads `day clock`; for a time skipped by a
    spring-forward gap, the instant the gap ends (when the wall clock first passes it)."""
    wall = datetime.combine(day, clock)
    later = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if later.astimezone(zone).replace(tzinfo=None) == wall:
        return later
    low, high = wall.replace(tzinfo=zone, fold=1).astimezone(UTC), later
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def _clock(text: str | None) -> time | None:
    if text is None:
        return None
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _label(period: Period, index: int) -> str:
    hours = f"{period.begintime or '…'}-{period.endtime or '…'}"
    days = " ".join(
        str(value if not isinstance(value, list) else ",".join(map(str, value)))
        for value in (period.weekdays, period.monthdays, period.months)
        if value is not None
    )
    return f"period {index + 1} ({hours}{' ' + days if days else ''})"
