"""An ALARM on a log metric filter reaches Slack with the log lines that matched (issue 17):
the real sample (`DBMigrationRequired` in the `LogMetrics` namespace), turned to ALARM at the
engine's now, through the alert topic, the forwarder and the Slack sink."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from unittest import mock

import boto3
import pytest

from harbormaster import clock
from harbormaster.local import LocalEngine
from tests.conftest import SAMPLES

pytestmark = pytest.mark.e2e
GROUP = "/tpt-api/prod/application"
QUOTE = "Log lines that matched the alarm's metric filter"


def alarm(state: str = "ALARM", **changes: Any) -> dict[str, Any]:
    data = json.loads((SAMPLES / "slack-anchors/notify-slack/messages/cloudwatch_alarm.json").read_text())
    message: dict[str, Any] = json.loads(data["Records"][0]["Sns"]["Message"])
    when = clock.now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
    return {**message, "NewStateValue": state, "OldStateValue": "OK", "StateChangeTime": when, **changes}


@pytest.fixture
def logs(engine: LocalEngine) -> Iterator[Any]:
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="spring-app")
    logs.put_metric_filter(
        logGroupName=GROUP,
        filterName="jpa-errors",
        filterPattern='"JPA error"',
        metricTransformations=[
            {"metricName": "DBMigrationRequired", "metricNamespace": "LogMetrics", "metricValue": "1"}
        ],
    )
    now = clock.now()

    def at(seconds_ago: int, message: str) -> dict[str, Any]:
        return {"timestamp": int((now - timedelta(seconds=seconds_ago)).timestamp() * 1000), "message": message}

    logs.put_log_events(
        logGroupName=GROUP,
        logStreamName="spring-app",
        logEvents=[
            at(600, "ERROR A JPA error occurred long before the alarm's window"),
            at(40, "INFO started in 3.2 s"),
            at(33, "ERROR A JPA error occurred (Unable to build EntityManagerFactory) password=hunter2"),
            at(20, "ERROR A JPA error occurred <!channel> ``` closing the block"),
        ],
    )
    yield logs


def _quote(body: dict[str, Any]) -> str | None:
    for block in body["attachments"][0]["blocks"]:
        text = (block.get("text") or {}).get("text", "")
        if text.startswith(f"*{QUOTE}*"):
            return str(text)
    return None


def test_an_alarm_on_a_log_metric_filter_quotes_the_lines_that_matched_in_its_window(
    engine: LocalEngine, logs: Any
) -> None:
    engine.publish_alert(alarm(), subject='ALARM: "DBMigrationRequired" in US (Virginia)')
    [message] = engine.slack.delivered()
    quote = _quote(message.body)
    assert quote is not None
    lines = quote.split("\n")[2:-1]  # inside the code block
    assert len(lines) == 2, "only the matching lines of the evaluation window (60 s)"
    assert "Unable to build EntityManagerFactory) password=[redacted]" in lines[0]
    assert "&lt;!channel&gt;" in lines[1] and "```" not in lines[1], "escaped: no mention, the block stays closed"
    assert "hunter2" not in json.dumps(message.body)


@pytest.mark.parametrize(
    "changes",
    [
        {"NewStateValue": "OK", "OldStateValue": "ALARM"},  # the sample as it is: resolved, nothing to quote
        {"Trigger": {"Metrics": [{"Id": "m1", "Expression": "SUM(METRICS())"}]}},  # metric math: no single filter
        {"Trigger": {"MetricName": "CPUUtilization", "Namespace": "AWS/EC2", "Period": 60, "EvaluationPeriods": 1}},
    ],
)
def test_nothing_is_quoted_without_a_metric_filter_behind_an_alarm(
    engine: LocalEngine, logs: Any, changes: dict[str, Any]
) -> None:
    engine.publish_alert(alarm(**changes))
    [message] = engine.slack.delivered()
    assert _quote(message.body) is None


def test_an_unreadable_log_group_delivers_the_alarm_without_lines(engine: LocalEngine, logs: Any) -> None:
    """FilterLogEvents fails (here: the group is not found, as when it was deleted after the filter
    was read); the alarm is delivered anyway, without lines, and nothing is retried."""
    from moto.logs.exceptions import ResourceNotFoundException
    from moto.logs.models import LogsBackend

    gone = ResourceNotFoundException("The specified log group does not exist.")
    with mock.patch.object(LogsBackend, "filter_log_events", side_effect=gone):
        report = engine.publish_alert(alarm())
    [message] = engine.slack.delivered()
    assert "DBMigrationRequired" in message.body["text"] and _quote(message.body) is None
    assert not [i for i in report.invocations if i.failed]
    assert "could not read the log lines behind the alarm" in engine.logs.text()
