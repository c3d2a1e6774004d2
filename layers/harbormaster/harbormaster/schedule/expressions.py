"""Instance Scheduler's day expressions: `weekdays`, `monthdays` and `months`.

Each field is a list or a comma-separated string of items; numbers may be strings or integers.

    weekdays   mon..sun (any case, 3+ letters) or 0..6 (0 = mon); ranges `mon-fri`, wrapping `fri-mon`;
               `mon#2` the 2nd monday of the month; `friL` the last friday; `L` alone is sunday;
               steps `mon-fri/2`, `tue/3`
    monthdays  1..31; ranges `1-15`, `20-L`; `L` the last day; `15W` the weekday nearest the 15th
               (never leaving the month); steps `1/7`
    months     jan..dec (any case, 3+ letters) or 1..12; ranges (wrapping `nov-feb`); steps `jan/3`

Parsing turns a field into a predicate over dates; an invalid item raises ExpressionError naming it.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from harbormaster.schedule.exceptions import ExpressionError

DateTest = Callable[[date], bool]

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)

_NTH = re.compile(r"^(?P<day>\w+?)#(?P<n>[1-5])$")
_LAST_WEEKDAY = re.compile(r"^(?P<day>[a-z]+|\d)l$")
_NEAREST = re.compile(r"^(?P<day>\d{1,2})w$")
_STEP = re.compile(r"^(?P<range>[^/]+)/(?P<step>\d+)$")


@dataclass(frozen=True)
class _Field:
    """How one field names its values: weekdays 0..6, monthdays 1..31, months 1..12."""

    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    wraps: bool = True  # `b-a` with b > a runs past the end; Instance Scheduler refuses it for monthdays

    def value(self, text: str, last: int | None = None) -> int:
        if text.isdigit():
            number = int(text)
            if self.low <= number <= self.high:
                return number
            raise ExpressionError(f"{self.name}: {number} is out of range {self.low}..{self.high}")
        if text == "l" and last is not None:
            return last
        for index, name in enumerate(self.names):
            if len(text) >= 3 and name.startswith(text):  # mon, Monday, MONDAY; not monx
                return index + self.low
        raise ExpressionError(f"{self.name}: {text!r} is not a valid value")

    def span(self, text: str, last: int | None = None) -> list[int]:
        """The values of `a`, `a-b` (wrapping past the end when b < a, where the field wraps) or
        `a/step`, `a-b/step`."""
        step = 1
        if match := _STEP.match(text):
            text, step = match["range"], int(match["step"])
            if step < 1:
                raise ExpressionError(f"{self.name}: step must be at least 1")
            if "-" not in text:  # `a/step` runs to the end of the field
                start = self.value(text, last)
                return list(range(start, (last or self.high) + 1, step))
        if "-" in text:
            first, _, second = text.partition("-")
            start, end = self.value(first, last), self.value(second, last)
            if not self.wraps and last is not None and start > last:
                return []  # a monthday range that starts after this month's last day: nothing this month
            if start > end and not self.wraps:
                raise ExpressionError(
                    f"{self.name}: {text!r} would wrap past the end of the month; "
                    f"write it as two ranges ({first}-L,1-{second})"
                )
            top = last or self.high
            wrapped = list(range(start, top + 1)) + list(range(self.low, end + 1))
            ordered = list(range(start, end + 1)) if start <= end else wrapped
            return ordered[::step]
        return [self.value(text, last)]


_WEEKDAY_FIELD = _Field("weekdays", 0, 6, WEEKDAYS)
_MONTHDAY_FIELD = _Field("monthdays", 1, 31, wraps=False)
_MONTH_FIELD = _Field("months", 1, 12, MONTHS)


def items(value: list[str | int] | str | int | None) -> list[str]:
    """A field's items, lowercased: a list, or a comma-separated string, of strings or numbers."""
    if value is None:
        return []
    raw = value if isinstance(value, list) else str(value).split(",")
    found = [str(item).strip().lower() for item in raw]
    if any(not item for item in found):
        raise ExpressionError(f"empty item in {value!r}")
    return found


def weekdays(value: list[str | int] | str | int | None) -> DateTest | None:
    tests: list[DateTest] = []
    for item in items(value):
        if item == "l":
            tests.append(_weekday_in(frozenset({6})))
        elif match := _NTH.match(item):
            tests.append(_nth_weekday(_WEEKDAY_FIELD.value(match["day"]), int(match["n"])))
        elif match := _LAST_WEEKDAY.match(item):
            tests.append(_last_weekday(_WEEKDAY_FIELD.value(match["day"])))
        else:
            tests.append(_weekday_in(frozenset(_WEEKDAY_FIELD.span(item))))
    return _any(tests)


def monthdays(value: list[str | int] | str | int | None) -> DateTest | None:
    tests: list[DateTest] = []
    for item in items(value):
        if match := _NEAREST.match(item):
            tests.append(_nearest(_MONTHDAY_FIELD.value(match["day"])))
        else:
            _MONTHDAY_FIELD.span(item, last=31)  # validate once, whatever the month
            tests.append(_monthday_in(item))
    return _any(tests)


def _weekday_in(allowed: frozenset[int]) -> DateTest:
    return lambda day: day.weekday() in allowed


def _nth_weekday(weekday: int, nth: int) -> DateTest:
    return lambda day: day.weekday() == weekday and (day.day - 1) // 7 + 1 == nth


def _last_weekday(weekday: int) -> DateTest:
    return lambda day: day.weekday() == weekday and (day + timedelta(days=7)).month != day.month


def _nearest(target: int) -> DateTest:
    return lambda day: day == _nearest_weekday(day.year, day.month, target)


def _monthday_in(item: str) -> DateTest:
    """Evaluated per month, since `L` depends on the month's length."""
    return lambda day: day.day in _MONTHDAY_FIELD.span(item, last=_last_day(day))


def months(value: list[str | int] | str | int | None) -> DateTest | None:
    allowed: set[int] = set()
    for item in items(value):
        allowed.update(_MONTH_FIELD.span(item))
    return (lambda day: day.month in allowed) if allowed else None


def _any(tests: list[DateTest]) -> DateTest | None:
    if not tests:
        return None
    return lambda day: any(test(day) for test in tests)


def _last_day(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _nearest_weekday(year: int, month: int, target: int) -> date:
    """cron's `W`: the weekday nearest `target` in the same month (target clamped to the month)."""
    day = date(year, month, min(target, calendar.monthrange(year, month)[1]))
    if day.weekday() == 5:  # saturday → friday, unless that leaves the month
        return day - timedelta(days=1) if day.day > 1 else day + timedelta(days=2)
    if day.weekday() == 6:  # sunday → monday, unless that leaves the month
        after = day + timedelta(days=1)
        return after if after.month == month else day - timedelta(days=2)
    return day
