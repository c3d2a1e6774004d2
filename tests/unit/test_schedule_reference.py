"""`evaluate()` against an independent reading of Instance Scheduler's documented semantics, on
generated schedules (hypothesis). The reference below is written from the documentation and
Instance Scheduler's source (`running_period.py`, `instance_schedule.py`), not from our code:

- a period's days: weekdays (0 = Monday), monthdays and months, each a set; an unset field matches;
  on a day that does not match, the period says stopped;
- times: both → running in [begin, end) (begin > end: overnight, running from begin that day to end
  the next), begin only → running from begin else any, end only → stopped from end else any,
  neither → running;
- periods combine: running > any > stopped;
- adjacent periods: with several periods, stopped now but running a minute before and a minute
  after → running.

CI runs a bounded number of examples; HARBORMASTER_PROPERTY_EXAMPLES scales it up.
"""

from __future__ import annotations

import os
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings, strategies as st

from harbormaster.config.models import Schedule
from harbormaster.schedule.evaluate import evaluate

EXAMPLES = int(os.environ.get("HARBORMASTER_PROPERTY_EXAMPLES", "0")) * 10 or 300
RANK = {"stopped": 0, "any": 1, "running": 2}

clocks = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 1, 15, 30, 59]))
periods = st.fixed_dictionaries(
    {},
    optional={
        "begintime": clocks,
        "endtime": clocks,
        "weekdays": st.lists(st.integers(0, 6), min_size=1, max_size=4, unique=True),
        "monthdays": st.lists(st.integers(1, 31), min_size=1, max_size=6, unique=True),
        "months": st.lists(st.integers(1, 12), min_size=1, max_size=6, unique=True),
    },
).filter(lambda p: p.get("begintime") is None or p.get("begintime") != p.get("endtime"))
moments = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31)).map(
    lambda d: d.replace(second=d.second, microsecond=0)
)


def _clock(text: str | None) -> time | None:
    return None if text is None else time(int(text[:2]), int(text[3:]))


def _on_day(period: dict[str, Any], day: datetime) -> bool:
    return (
        ("weekdays" not in period or day.weekday() in period["weekdays"])
        and ("monthdays" not in period or day.day in period["monthdays"])
        and ("months" not in period or day.month in period["months"])
    )


def _period_state(period: dict[str, Any], local: datetime) -> str:
    begin, end, now = _clock(period.get("begintime")), _clock(period.get("endtime")), local.time()
    if begin is not None and end is not None and begin > end:  # overnight
        if _on_day(period, local) and now >= begin:
            return "running"
        return "running" if _on_day(period, local - timedelta(days=1)) and now < end else "stopped"
    if not _on_day(period, local):
        return "stopped"
    if begin is None and end is None:
        return "running"
    if end is None:
        return "running" if now >= begin else "any"  # type: ignore[operator]
    if begin is None:
        return "stopped" if now >= end else "any"
    return "running" if begin <= now < end else "stopped"


def _combined(raw: list[dict[str, Any]], local: datetime) -> str:
    return max((_period_state(p, local) for p in raw), key=RANK.__getitem__)


def reference(raw: list[dict[str, Any]], local: datetime) -> str:
    state = _combined(raw, local)
    if state == "stopped" and len(raw) > 1:
        before, after = _combined(raw, local - timedelta(minutes=1)), _combined(raw, local + timedelta(minutes=1))
        if before == after == "running":
            return "running"
    return state


@settings(max_examples=EXAMPLES, deadline=None, derandomize="HARBORMASTER_PROPERTY_EXAMPLES" not in os.environ)
@given(st.lists(periods, min_size=1, max_size=3), moments, st.data())
def test_evaluate_agrees_with_the_documented_semantics(
    raw: list[dict[str, Any]], moment: datetime, data: st.DataObject
) -> None:
    # Most instants near a boundary the periods name (where the rules differ), the rest anywhere.
    boundaries = [p[k] for p in raw for k in ("begintime", "endtime") if k in p]
    if boundaries and data.draw(st.booleans()):
        clock = _clock(data.draw(st.sampled_from(boundaries)))
        assert clock is not None
        moment = datetime.combine(moment.date(), clock) + timedelta(seconds=data.draw(st.integers(-90, 90)))
    schedule = Schedule.model_validate({"timezone": "UTC", "periods": raw})
    local = moment.replace(tzinfo=ZoneInfo("UTC"))
    assert evaluate(schedule, local).state == reference(raw, local), (raw, local)


@settings(max_examples=EXAMPLES, deadline=None, derandomize="HARBORMASTER_PROPERTY_EXAMPLES" not in os.environ)
@given(clocks, clocks, clocks, st.lists(periods, max_size=1), moments, st.integers(-90, 90))
def test_adjacent_periods_agree_with_the_documented_semantics(
    begin: str, end: str, later: str, extra: list[dict[str, Any]], moment: datetime, seconds: int
) -> None:
    """Two periods, the second beginning a minute after the first ends (over midnight too), and an
    instant around that minute: where the adjacent-period rule decides."""
    next_minute = datetime.combine(moment.date(), _clock(end) or time()) + timedelta(minutes=1)
    second = {"begintime": f"{next_minute:%H:%M}", "endtime": later}
    if begin == end or second["begintime"] == later:
        return  # not a valid period (begin = end)
    raw = [{"begintime": begin, "endtime": end}, second, *extra]
    local = (datetime.combine(moment.date(), _clock(end) or time()) + timedelta(seconds=seconds)).replace(
        tzinfo=ZoneInfo("UTC")
    )
    schedule = Schedule.model_validate({"timezone": "UTC", "periods": raw})
    assert evaluate(schedule, local).state == reference(raw, local), (raw, local)
