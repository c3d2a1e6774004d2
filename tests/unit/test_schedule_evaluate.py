"""The schedule model: a table of cases over every syntax element, evaluated at instants we choose."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from harbormaster.config.models import Schedule
from harbormaster.schedule.evaluate import evaluate, next_change
from harbormaster.schedule.exceptions import ScheduleError


def schedule(**fields: Any) -> Schedule:
    return Schedule.model_validate({"timezone": "UTC", **fields})


def at(text: str, zone: str = "UTC") -> datetime:
    """A local wall-clock time in `zone` (the schedule's zone in these cases)."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


OVERNIGHT = {"periods": [{"begintime": "22:00", "endtime": "06:00", "weekdays": "fri"}]}
OFFICE = {"periods": [{"begintime": "08:00", "endtime": "20:00", "weekdays": "mon-fri"}]}

# (case, schedule fields, local time in the schedule's zone, expected state)
CASES: list[tuple[str, dict[str, Any], str, str]] = [
    # begin inclusive, end exclusive; 2026-11-23 is a Monday
    ("office: begin is inclusive", OFFICE, "2026-11-23T08:00", "running"),
    ("office: just before begin", OFFICE, "2026-11-23T07:59:59", "stopped"),
    ("office: end is exclusive", OFFICE, "2026-11-23T20:00", "stopped"),
    ("office: saturday", OFFICE, "2026-11-28T12:00", "stopped"),
    ("H:MM begintime", {"periods": [{"begintime": "8:00", "endtime": "9:30"}]}, "2026-11-23T09:29", "running"),
    # weekdays: names in any case, numbers (0 = mon) as strings or integers, lists or comma strings
    ("weekday name upper case", {"periods": [{"weekdays": ["MON"]}]}, "2026-11-23T03:00", "running"),
    ("weekday full name", {"periods": [{"weekdays": "Monday"}]}, "2026-11-23T03:00", "running"),
    ("weekday number 0 is monday", {"periods": [{"weekdays": [0]}]}, "2026-11-23T03:00", "running"),
    ("weekday number as string", {"periods": [{"weekdays": "1"}]}, "2026-11-24T03:00", "running"),
    ("weekday comma string", {"periods": [{"weekdays": "sat, sun"}]}, "2026-11-29T03:00", "running"),
    ("weekday not listed", {"periods": [{"weekdays": "sat,sun"}]}, "2026-11-27T03:00", "stopped"),
    ("wrap-around range fri-mon (sun)", {"periods": [{"weekdays": "fri-mon"}]}, "2026-11-29T03:00", "running"),
    ("wrap-around range fri-mon (mon)", {"periods": [{"weekdays": "fri-mon"}]}, "2026-11-23T03:00", "running"),
    ("wrap-around range fri-mon (wed)", {"periods": [{"weekdays": "fri-mon"}]}, "2026-11-25T03:00", "stopped"),
    ("numeric range 5-6", {"periods": [{"weekdays": "5-6"}]}, "2026-11-28T03:00", "running"),
    ("range with step mon-fri/2 (wed)", {"periods": [{"weekdays": "mon-fri/2"}]}, "2026-11-25T03:00", "running"),
    ("range with step mon-fri/2 (tue)", {"periods": [{"weekdays": "mon-fri/2"}]}, "2026-11-24T03:00", "stopped"),
    ("2nd monday of the month", {"periods": [{"weekdays": "mon#2"}]}, "2026-11-09T03:00", "running"),
    ("not the 2nd monday", {"periods": [{"weekdays": "mon#2"}]}, "2026-11-16T03:00", "stopped"),
    ("last friday (friL)", {"periods": [{"weekdays": "friL"}]}, "2026-11-27T03:00", "running"),
    ("not the last friday", {"periods": [{"weekdays": "friL"}]}, "2026-11-20T03:00", "stopped"),
    ("L alone is sunday", {"periods": [{"weekdays": "L"}]}, "2026-11-29T03:00", "running"),
    ("L alone is not saturday", {"periods": [{"weekdays": "L"}]}, "2026-11-28T03:00", "stopped"),
    # monthdays: numbers, ranges, L, W, steps
    ("monthday number", {"periods": [{"monthdays": [15]}]}, "2026-11-15T03:00", "running"),
    ("monthday range", {"periods": [{"monthdays": "1-7"}]}, "2026-11-08T03:00", "stopped"),
    ("monthday L (30 november)", {"periods": [{"monthdays": "L"}]}, "2026-11-30T03:00", "running"),
    ("monthday L (28 february)", {"periods": [{"monthdays": "L"}]}, "2026-02-28T03:00", "running"),
    ("monthday range to L", {"periods": [{"monthdays": "25-L"}]}, "2026-02-28T03:00", "running"),
    ("15W on a sunday → monday 16th", {"periods": [{"monthdays": "15W"}]}, "2026-11-16T03:00", "running"),
    ("15W is not the sunday itself", {"periods": [{"monthdays": "15W"}]}, "2026-11-15T03:00", "stopped"),
    ("1W on a sunday stays in the month", {"periods": [{"monthdays": "1W"}]}, "2026-11-02T03:00", "running"),
    ("31W on a saturday → friday", {"periods": [{"monthdays": "31W"}]}, "2026-10-30T03:00", "running"),
    ("monthday step 1/7 (22nd)", {"periods": [{"monthdays": "1/7"}]}, "2026-11-22T03:00", "running"),
    ("monthday step 1/7 (23rd)", {"periods": [{"monthdays": "1/7"}]}, "2026-11-23T03:00", "stopped"),
    # months: names, numbers, wrap-around ranges
    ("month name", {"periods": [{"months": "nov"}]}, "2026-11-23T03:00", "running"),
    ("month number string", {"periods": [{"months": ["12"]}]}, "2026-11-23T03:00", "stopped"),
    ("month wrap-around nov-feb", {"periods": [{"months": "nov-feb"}]}, "2027-01-10T03:00", "running"),
    ("month wrap-around nov-feb (mar)", {"periods": [{"months": "nov-feb"}]}, "2027-03-10T03:00", "stopped"),
    # intersection of the fields a period sets
    (
        "weekday ∩ monthday",
        {"periods": [{"weekdays": "mon", "monthdays": "1-7"}]},
        "2026-11-02T03:00",
        "running",
    ),
    ("weekday ∩ monthday (no)", {"periods": [{"weekdays": "mon", "monthdays": "1-7"}]}, "2026-11-09T03:00", "stopped"),
    # one-sided periods
    ("begin only, after", {"periods": [{"begintime": "09:00"}]}, "2026-11-23T10:00", "running"),
    ("begin only, before: any", {"periods": [{"begintime": "09:00"}]}, "2026-11-23T08:00", "any"),
    ("end only, after", {"periods": [{"endtime": "18:00"}]}, "2026-11-23T18:00", "stopped"),
    ("end only, before: any", {"periods": [{"endtime": "18:00"}]}, "2026-11-23T17:00", "any"),
    ("one-sided, another day", {"periods": [{"begintime": "09:00", "weekdays": "sat"}]}, "2026-11-23T10:00", "stopped"),
    # combining periods: running beats any beats stopped
    (
        "running beats stopped",
        {"periods": [{"weekdays": "sat"}, {"begintime": "09:00", "endtime": "10:00"}]},
        "2026-11-23T09:30",
        "running",
    ),
    (
        "any beats stopped",
        {"periods": [{"weekdays": "sat"}, {"endtime": "18:00"}]},
        "2026-11-23T09:30",
        "any",
    ),
    (
        "running beats any",
        {"periods": [{"begintime": "09:00", "endtime": "10:00"}, {"endtime": "18:00"}]},
        "2026-11-23T09:30",
        "running",
    ),
    # overnight: belongs to the day it begins
    ("overnight: friday night", OVERNIGHT, "2026-11-27T23:00", "running"),
    ("overnight: saturday early", OVERNIGHT, "2026-11-28T05:59", "running"),
    ("overnight: saturday 06:00", OVERNIGHT, "2026-11-28T06:00", "stopped"),
    ("overnight: friday early is thursday's", OVERNIGHT, "2026-11-27T05:00", "stopped"),
    # Instance Scheduler's adjacent periods: stopped by both, running a minute before and after
    (
        "adjacent periods: the minute between stays running",
        {"periods": [{"begintime": "04:00", "endtime": "12:00"}, {"begintime": "12:01", "endtime": "17:00"}]},
        "2026-11-23T12:00:30",
        "running",
    ),
    (
        "adjacent periods across midnight (23:59 then 00:00)",
        {"periods": [{"begintime": "18:00", "endtime": "23:59"}, {"begintime": "00:00", "endtime": "06:00"}]},
        "2026-11-23T23:59:30",
        "running",
    ),
    (
        "periods two minutes apart are not adjacent",
        {"periods": [{"begintime": "04:00", "endtime": "12:00"}, {"begintime": "12:02", "endtime": "17:00"}]},
        "2026-11-23T12:00:30",
        "stopped",
    ),
    (
        "one period's end is not adjacent to itself",
        {"periods": [{"begintime": "04:00", "endtime": "12:00"}]},
        "2026-11-23T12:00:00",
        "stopped",
    ),
    # monthday ranges past the month's end match nothing that month (no wrap)
    ("monthday range 30-31 in february", {"periods": [{"monthdays": "30-31"}]}, "2026-02-28T03:00", "stopped"),
    ("monthday range 30-31 in march", {"periods": [{"monthdays": "30-31"}]}, "2026-03-31T03:00", "running"),
    ("monthday 30-L in february", {"periods": [{"monthdays": "30-L"}]}, "2026-02-28T03:00", "stopped"),
    # holidays and overrides
    ("holiday", {**OFFICE, "holidays": ["2026-12-25"]}, "2026-12-25T10:00", "stopped"),
    ("the day after a holiday", {**OFFICE, "holidays": ["2026-12-24"]}, "2026-12-25T10:00", "running"),
    ("override running", {**OFFICE, "override_status": "running"}, "2026-11-28T03:00", "running"),
    ("override stopped beats a holiday's", {**OFFICE, "override_status": "stopped"}, "2026-11-23T10:00", "stopped"),
]


@pytest.mark.parametrize(("fields", "local", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_schedule_table(fields: dict[str, Any], local: str, expected: str) -> None:
    assert evaluate(schedule(**fields), at(local)).state == expected


def test_holiday_is_a_date_in_the_schedule_zone() -> None:
    all_day = [{"begintime": "00:00", "endtime": "23:59"}]
    seoul = schedule(timezone="Asia/Seoul", holidays=["2026-12-25"], periods=all_day)
    # 2026-12-24 16:00 UTC is already the 25th in Seoul
    assert evaluate(seoul, datetime(2026, 12, 24, 16, 0, tzinfo=UTC)).state == "stopped"
    assert evaluate(seoul, datetime(2026, 12, 24, 14, 0, tzinfo=UTC)).state == "running"


@pytest.mark.parametrize(
    ("zone", "utc", "expected"),
    [
        # London, spring forward on 2026-03-29 (01:00 → 02:00): 08:00 local is 07:00 UTC after it
        ("Europe/London", "2026-03-27T08:00", "running"),  # friday, GMT
        ("Europe/London", "2026-03-30T06:59", "stopped"),  # monday, BST: 07:59 local
        ("Europe/London", "2026-03-30T07:00", "running"),  # 08:00 BST
        # London, fall back on 2026-10-25: 20:00 local is 20:00 UTC after it
        ("Europe/London", "2026-10-23T18:59", "running"),  # friday 19:59 BST
        ("Europe/London", "2026-10-26T19:59", "running"),  # monday 19:59 GMT
        ("Europe/London", "2026-10-26T20:00", "stopped"),
        # New York, spring forward on 2026-03-08, fall back on 2026-11-01
        ("America/New_York", "2026-03-09T12:00", "running"),  # 08:00 EDT
        ("America/New_York", "2026-03-09T11:59", "stopped"),
        ("America/New_York", "2026-11-02T13:00", "running"),  # 08:00 EST
        ("America/New_York", "2026-11-02T12:59", "stopped"),
        # Seoul has no daylight saving: 08:00 KST is always 23:00 UTC the day before
        ("Asia/Seoul", "2026-03-08T23:00", "running"),
        ("Asia/Seoul", "2026-11-01T22:59", "stopped"),
    ],
)
def test_periods_stay_on_the_local_wall_clock_across_dst(zone: str, utc: str, expected: str) -> None:
    office = schedule(timezone=zone, **OFFICE)
    assert evaluate(office, datetime.fromisoformat(utc).replace(tzinfo=UTC)).state == expected


def test_a_begin_time_inside_the_spring_forward_gap_starts_when_the_gap_ends() -> None:
    # New York skips 02:00-03:00 on 2026-03-08 (a sunday)
    night = schedule(timezone="America/New_York", periods=[{"begintime": "02:30", "endtime": "05:00"}])
    change, decision = next_change(night, datetime(2026, 3, 8, 6, 0, tzinfo=UTC)) or (None, None)  # 01:00 EST
    assert change == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 03:00 EDT, when the wall clock passes 02:30
    assert decision is not None and decision.state == "running"


def test_the_ambiguous_fall_back_hour_is_evaluated_by_the_wall_clock() -> None:
    # London repeats 01:00-02:00 on 2026-10-25; a period ending 01:30 ends at the first 01:30
    early = schedule(timezone="Europe/London", periods=[{"begintime": "00:00", "endtime": "01:30"}])
    assert evaluate(early, datetime(2026, 10, 25, 0, 29, tzinfo=UTC)).state == "running"  # 01:29 BST
    assert evaluate(early, datetime(2026, 10, 25, 0, 30, tzinfo=UTC)).state == "stopped"  # 01:30 BST


def test_next_change_of_office_hours_over_a_weekend() -> None:
    seoul = schedule(timezone="Asia/Seoul", **OFFICE)
    friday_evening = datetime(2026, 11, 27, 19, 0, tzinfo=ZoneInfo("Asia/Seoul"))
    change, decision = next_change(seoul, friday_evening) or (None, None)
    assert change == datetime(2026, 11, 27, 20, 0, tzinfo=ZoneInfo("Asia/Seoul"))
    assert decision is not None and decision.state == "stopped"
    change, decision = next_change(seoul, change) or (None, None)
    assert change == datetime(2026, 11, 30, 8, 0, tzinfo=ZoneInfo("Asia/Seoul"))


def test_the_deciding_period_is_named() -> None:
    decision = evaluate(schedule(**OFFICE), at("2026-11-23T09:00"))
    assert decision.reason == "period 1 (08:00-20:00 mon-fri) says running"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"periods": [{"weekdays": "funday"}]}, "weekdays: 'funday' is not a valid value"),
        ({"periods": [{"weekdays": "7"}]}, "weekdays: 7 is out of range 0..6"),
        ({"periods": [{"monthdays": "32"}]}, "monthdays: 32 is out of range 1..31"),
        ({"periods": [{"monthdays": "29-3"}]}, "monthdays: '29-3' would wrap past the end of the month"),
        ({"periods": [{"months": "13"}]}, "months: 13 is out of range 1..12"),
        ({"periods": [{"months": "jan,,mar"}]}, "empty item"),
        ({"periods": [{"begintime": "25:00"}]}, "is not a time of day"),
        ({"periods": [{"begintime": "09:00", "endtime": "09:00"}]}, "begintime and endtime are both"),
        ({"periods": []}, "at least one period"),
        ({"timezone": "Mars/Olympus", "periods": [{}]}, "not an IANA time zone"),
    ],
)
def test_invalid_schedules_are_refused_with_the_reason(fields: dict[str, Any], message: str) -> None:
    with pytest.raises((ScheduleError, ValueError), match=message):
        schedule(**fields)


def test_holiday_ranges_and_shared_calendars() -> None:
    from harbormaster.config import parse_config

    config = parse_config(
        "calendars:\n"
        '  korea: ["2026-12-25", "2026-12-31..2027-01-02"]\n'
        "schedules:\n"
        "  office:\n"
        "    timezone: Asia/Seoul\n"
        '    periods: [{begintime: "08:00", endtime: "20:00"}]\n'
        '    holidays: ["2026-12-24"]\n'
        "    calendars: [korea]\n"
        "  plant:\n"
        '    periods: [{begintime: "08:00", endtime: "20:00"}]\n'
        "    calendars: [korea]\n",
        "conf.yaml",
    )
    office = config.schedules["office"]
    seoul = "Asia/Seoul"
    for day in ("2026-12-24", "2026-12-25", "2026-12-31", "2027-01-01", "2027-01-02"):
        assert evaluate(office, at(f"{day}T10:00", seoul)).state == "stopped", day
    assert evaluate(office, at("2027-01-03T10:00", seoul)).reason.startswith("period 1")
    assert evaluate(office, at("2027-01-03T10:00", seoul)).state == "running"
    assert evaluate(config.schedules["plant"], at("2027-01-01T10:00")).state == "stopped"  # the same calendar


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("    calendars: [nope]\n", "unknown calendar(s) ['nope']"),
        ('    holidays: ["2026-12-31..2026-12-01"]\n', "a range runs forward"),
        ('    holidays: ["2026-12-3x..2027-01-01"]\n', "is not a date range"),
    ],
)
def test_bad_holidays_and_calendars_are_refused(text: str, message: str) -> None:
    from harbormaster.config import ConfigError, parse_config

    with pytest.raises(ConfigError) as caught:
        parse_config("schedules:\n  office:\n    periods: [{}]\n" + text, "conf.yaml")
    assert any(message in str(issue) for issue in caught.value.issues), caught.value.issues


def test_an_override_ends_at_the_next_wall_clock_time_or_when_the_schedule_would_start() -> None:
    from harbormaster.schedule.override import OverrideError, plan_override

    office = schedule(timezone="Asia/Seoul", keep_max="24h", **OFFICE)
    monday_evening = at("2026-11-23T18:00", "Asia/Seoul")
    kept = plan_override("office", office, "running", "23:00", "kim", monday_evening)
    assert kept.until == at("2026-11-23T23:00", "Asia/Seoul")
    late = plan_override("office", office, "running", "01:00", "kim", at("2026-11-23T23:30", "Asia/Seoul"))
    assert late.until == at("2026-11-24T01:00", "Asia/Seoul")  # the next 01:00 to come
    off = plan_override("office", office, "stopped", None, "lee", monday_evening)
    assert off.until == at("2026-11-24T08:00", "Asia/Seoul")  # when the schedule would start it
    with pytest.raises(OverrideError, match="needs a time"):
        plan_override("office", office, "running", None, "kim", monday_evening)
    with pytest.raises(OverrideError, match="at most 24h00m"):
        plan_override("office", office, "running", "2026-11-26T09:00", "kim", monday_evening)
    with pytest.raises(OverrideError, match="neither HH:MM"):
        plan_override("office", office, "running", "tonight", "kim", monday_evening)
