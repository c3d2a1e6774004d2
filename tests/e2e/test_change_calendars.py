"""Holidays read from an SSM Change Calendar (issue 18): while the calendar is CLOSED, the
schedules that name it stop as on a holiday; the engine answers GetCalendarState as SSM does
(local/change_calendars.py), which moto did not at all."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from botocore.exceptions import ClientError

from harbormaster.local import LocalEngine

pytestmark = pytest.mark.e2e
KST = ZoneInfo("Asia/Seoul")
TAG = "harbormaster:schedule"
CONFIG = """
environments: {}
calendars:
  year-end: {change_calendar: year-end-freeze}
schedules:
  office-hours:
    timezone: Asia/Seoul
    periods: [{begintime: "08:00", endtime: "20:00", weekdays: [mon-fri]}]
    calendars: [year-end]
slack:
  routes: {monitoring: {webhook_secret: hm/slack/monitoring}}
  default_route: monitoring
"""
# A DEFAULT_OPEN calendar with one event: closed from Tue 29 Dec 00:00 to Thu 31 Dec 00:00 (KST).
YEAR_END = "\r\n".join(
    [
        "BEGIN:VCALENDAR",
        "PRODID:-//AWS//Change Calendar 1.0//EN",
        "VERSION:2.0",
        "X-CALENDAR-TYPE:DEFAULT_OPEN",
        "X-WR-CALDESC:year-end closing days",
        "BEGIN:VEVENT",
        "DTSTAMP:20261201T000000Z",
        "UID:year-end-2026",
        "SUMMARY:office closed",
        "DTSTART;TZID=Asia/Seoul:20261229T000000",
        "DTEND;TZID=Asia/Seoul:20261231T000000",
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[LocalEngine]:
    path = tmp_path / "harbormaster.yaml"
    path.write_text(CONFIG)
    started = LocalEngine(
        config=path,
        slack_messages_per_second=1000,
        start_time=datetime(2026, 12, 28, 18, 30, tzinfo=KST),  # a monday evening
        parameters={"ScheduleRate": "rate(12 hours)"},  # runs at 06:30 and 18:30
    )
    started.start()
    yield started
    started.stop()


def _state(instance: str) -> str:
    found = boto3.client("ec2").describe_instances(InstanceIds=[instance])
    return str(found["Reservations"][0]["Instances"][0]["State"]["Name"])


def _runs(report: Any) -> list[dict[str, Any]]:
    return [o for i in report.invocations if i.logical_id == "SchedulerFunction" for o in i.response["outcomes"]]


def test_a_closed_change_calendar_stops_its_schedules_like_a_holiday(engine: LocalEngine) -> None:
    boto3.client("ssm").create_document(
        Name="year-end-freeze", Content=YEAR_END, DocumentType="ChangeCalendar", DocumentFormat="TEXT"
    )
    tags = [{"ResourceType": "instance", "Tags": [{"Key": TAG, "Value": "office-hours"}]}]
    instance = boto3.client("ec2").run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, TagSpecifications=tags
    )["Instances"][0]["InstanceId"]
    engine.advance(datetime(2026, 12, 29, 6, 31, tzinfo=KST) - engine.clock.now)  # overnight: stopped anyway
    assert _state(instance) == "stopped"
    report = engine.advance(datetime(2026, 12, 29, 18, 31, tzinfo=KST) - engine.clock.now)  # a tuesday at 18:30
    [decided] = _runs(report)  # office hours say running; the closed calendar says stopped
    assert (decided["desired"], decided["action"]) == ("stopped", "none")
    assert _state(instance) == "stopped"
    engine.advance(datetime(2026, 12, 31, 18, 31, tzinfo=KST) - engine.clock.now)  # open again on thursday
    assert _state(instance) == "running"


def test_a_missing_change_calendar_leaves_the_schedule_alone_and_says_why(engine: LocalEngine) -> None:
    tags = [{"ResourceType": "instance", "Tags": [{"Key": TAG, "Value": "office-hours"}]}]
    instance = boto3.client("ec2").run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, TagSpecifications=tags
    )["Instances"][0]["InstanceId"]
    report = engine.advance(datetime(2026, 12, 29, 6, 31, tzinfo=KST) - engine.clock.now)
    [failed] = [o for o in _runs(report) if o["kind"] == "scope"]
    assert failed["id"] == "calendar:year-end-freeze" and "InvalidDocument" in failed["reason"]
    assert _state(instance) == "running", "left as it is while the calendar cannot be read"


def test_get_calendar_state_answers_as_ssm_does(engine: LocalEngine) -> None:
    ssm = boto3.client("ssm")
    ssm.create_document(Name="year-end-freeze", Content=YEAR_END, DocumentType="ChangeCalendar", DocumentFormat="TEXT")
    closed = ssm.get_calendar_state(CalendarNames=["year-end-freeze"], AtTime="2026-12-29T12:00:00+09:00")
    assert closed["State"] == "CLOSED" and closed["NextTransitionTime"].startswith("2026-12-31T00:00:00+09:00")
    opened = ssm.get_calendar_state(CalendarNames=["year-end-freeze"], AtTime="2026-12-28T12:00:00+09:00")
    assert opened["State"] == "OPEN" and opened["NextTransitionTime"].startswith("2026-12-29T00:00:00+09:00")
    with pytest.raises(ClientError, match="InvalidDocument"):
        ssm.get_calendar_state(CalendarNames=["no-such-calendar"])
    with pytest.raises(ClientError, match="InvalidDocumentContent"):
        ssm.create_document(Name="bad", Content="not a calendar", DocumentType="ChangeCalendar", DocumentFormat="TEXT")
    with pytest.raises(ClientError, match="InvalidDocumentContent"):
        ssm.create_document(Name="json", Content=YEAR_END, DocumentType="ChangeCalendar", DocumentFormat="JSON")
    document = ssm.describe_document(Name="year-end-freeze")["Document"]
    assert (document["DocumentType"], document["DocumentFormat"]) == ("ChangeCalendar", "TEXT")
