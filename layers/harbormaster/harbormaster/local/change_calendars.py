"""SSM Change Calendar, which moto does not have: CreateDocument of type ChangeCalendar (TEXT, an
iCalendar) and GetCalendarState, as AWS answers them.

- A ChangeCalendar document must be TEXT and an iCalendar (`BEGIN:VCALENDAR`), its type
  `X-CALENDAR-TYPE: DEFAULT_OPEN | DEFAULT_CLOSED`; anything else is refused (InvalidDocumentContent).
- GetCalendarState(CalendarNames, AtTime): each calendar is CLOSED during its events when it is
  DEFAULT_OPEN (and OPEN during them when DEFAULT_CLOSED); the answer is OPEN only if every
  calendar is open, with the next time the combined state changes. A name that is no document is
  InvalidDocument; a document of another type is InvalidDocumentType.
- Recurring events (RRULE) are refused here: the engine does not expand them, and answering as if
  they did not recur would be wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from unittest import mock

from moto.core.exceptions import JsonRESTError

TYPES = {"DEFAULT_OPEN", "DEFAULT_CLOSED"}


class _SsmError(JsonRESTError):  # type: ignore[misc]
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)


@dataclass(frozen=True)
class Calendar:
    default_open: bool
    events: list[tuple[datetime, datetime]]

    def is_open(self, at: datetime) -> bool:
        inside = any(start <= at < end for start, end in self.events)
        return self.default_open != inside

    def boundaries(self) -> set[datetime]:
        return {moment for event in self.events for moment in event}


def parse(text: str) -> Calendar:
    """The calendar in an iCalendar text, or InvalidDocumentContent."""
    import icalendar

    try:
        parsed = icalendar.Calendar.from_ical(text)
    except ValueError as exc:
        raise _SsmError("InvalidDocumentContent", f"the calendar is not valid iCalendar: {exc}") from None
    kind = str(parsed.get("X-CALENDAR-TYPE", "DEFAULT_OPEN"))
    if kind not in TYPES:
        raise _SsmError("InvalidDocumentContent", f"X-CALENDAR-TYPE {kind!r} is not one of {sorted(TYPES)}")
    events = []
    for event in parsed.walk("VEVENT"):
        if event.get("RRULE"):
            raise _SsmError("InvalidDocumentContent", "the local engine does not expand recurring events (RRULE)")
        start, end = _moment(event.decoded("DTSTART")), _moment(event.decoded("DTEND"))
        events.append((start, end))
    return Calendar(default_open=kind == "DEFAULT_OPEN", events=events)


def _moment(value: datetime | date) -> datetime:
    if not isinstance(value, datetime):  # an all-day event: its day, from midnight UTC
        return datetime.combine(value, time(), tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _kept(backend: Any) -> dict[str, Calendar]:
    """The calendars of one account and region, by name: kept on moto's backend, so they go when
    moto resets its world (a new engine), as the documents do."""
    calendars: dict[str, Calendar] = backend.__dict__.setdefault("harbormaster_change_calendars", {})
    return calendars


def create(original: Any, backend: Any, content: Any, args: Any, kwargs: dict[str, Any]) -> Any:
    """CreateDocument of a ChangeCalendar (ssm_rules routes it here): checked, kept as given."""
    if kwargs.get("document_format") != "TEXT":
        raise _SsmError("InvalidDocumentContent", "a ChangeCalendar document's format is TEXT")
    calendar = parse(str(content))
    placeholder = json.dumps({"schemaVersion": "1.0"})  # moto reads JSON or YAML only; the text is kept below
    documents = original(backend, placeholder, *args, **{**kwargs, "document_format": "JSON"})
    stored = documents.get_default_version()
    stored.content, stored.document_format = content, "TEXT"  # as it was given
    _kept(backend)[stored.name] = calendar
    return documents


def patches() -> list[Any]:
    from moto.core.responses import ActionResult
    from moto.ssm.responses import SimpleSystemManagerResponse

    def get_calendar_state(response: Any) -> Any:
        names = response._get_param("CalendarNames") or []
        at_text = response._get_param("AtTime")
        at = datetime.fromisoformat(at_text.replace("Z", "+00:00")) if at_text else datetime.now(UTC)
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        calendars = [_calendar(response.ssm_backend, str(name)) for name in names]
        is_open = all(calendar.is_open(at) for calendar in calendars)
        later = sorted(b for calendar in calendars for b in calendar.boundaries() if b > at)
        change = next((b for b in later if all(c.is_open(b) for c in calendars) != is_open), None)
        answer = {"State": "OPEN" if is_open else "CLOSED", "AtTime": at.isoformat()}
        if change is not None:
            answer["NextTransitionTime"] = change.isoformat()
        return ActionResult(answer)

    return [mock.patch.object(SimpleSystemManagerResponse, "get_calendar_state", get_calendar_state, create=True)]


def _calendar(backend: Any, name: str) -> Calendar:
    short = name.rsplit("/", 1)[-1] if name.startswith("arn:") else name
    calendar = _kept(backend).get(short)
    if calendar is not None:
        return calendar
    if short in backend._documents:
        raise _SsmError("InvalidDocumentType", f"{name} is not a ChangeCalendar document")
    raise _SsmError("InvalidDocument", f"the calendar {name} does not exist")
