"""For an alarm on a log metric filter: the few log lines that matched, quoted under the alarm.

CloudWatch's alarm names its metric, not the log lines behind it, and the first thing whoever is
on call does is open the log group and search. When an alarm goes to ALARM on a single metric,
the metric filters that publish that metric (DescribeMetricFilters by name and namespace) give
the log group and the pattern; FilterLogEvents with that pattern over the alarm's evaluation
window (Period x EvaluationPeriods, up to the state change) gives the lines.

Bounded: at most MAX_FILTERS filters, one page of at most MAX_LINES events each, each line cut.
Masked like container logs (deploy.redact), escaped in a code block by the caller. Best effort:
an error (no permission, the group gone, throttling past the retries) quotes nothing and is
logged; the alarm is delivered anyway.

For example, an alarm on `LogMetrics/DBMigrationRequired` (a filter on "JPA error" in the app's
log group) going to ALARM at 15:45:24 quotes `2019-02-12T15:44:51Z  ERROR A JPA error occurred …`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from harbormaster.clients import client
from harbormaster.deploy.redact import redact
from harbormaster.observability import logger

MAX_LINES = 5
MAX_FILTERS = 2
MAX_LINE_CHARS = 300
MAX_WINDOW = timedelta(hours=6)


def matched_lines(alarm: dict[str, Any], region: str | None = None) -> list[str]:
    """The last log lines behind an alarm's ALARM (the SNS message's JSON); [] when there are
    none, the alarm is not on one metric, or anything fails."""
    trigger = alarm.get("Trigger") or {}
    metric, namespace = trigger.get("MetricName"), trigger.get("Namespace")
    if alarm.get("NewStateValue") != "ALARM" or not metric or not namespace or trigger.get("Metrics"):
        return []
    try:
        end = datetime.strptime(str(alarm["StateChangeTime"]), "%Y-%m-%dT%H:%M:%S.%f%z")
        period = int(trigger.get("Period") or 60) * int(trigger.get("EvaluationPeriods") or 1)
    except (KeyError, ValueError, TypeError):
        return []
    start = end - min(timedelta(seconds=period), MAX_WINDOW)
    try:
        return _lines(str(metric), str(namespace), start, end, region)
    except (ClientError, BotoCoreError) as exc:
        logger.warning(
            "could not read the log lines behind the alarm; delivered without them",
            extra={"alarm": alarm.get("AlarmName"), "error": getattr(exc, "response", {}).get("Error", {}).get("Code")},
        )
        return []


def _lines(metric: str, namespace: str, start: datetime, end: datetime, region: str | None) -> list[str]:
    logs = client("logs", region)
    filters = logs.describe_metric_filters(metricName=metric, metricNamespace=namespace)["metricFilters"]
    found: list[tuple[int, str]] = []
    for metric_filter in filters[:MAX_FILTERS]:
        events = logs.filter_log_events(
            logGroupName=metric_filter["logGroupName"],
            filterPattern=metric_filter.get("filterPattern", ""),
            startTime=_ms(start),
            endTime=_ms(end),
            limit=MAX_LINES,
        )["events"]
        found += [(int(e["timestamp"]), str(e["message"])) for e in events]
    return [_line(timestamp, message) for timestamp, message in sorted(found)[-MAX_LINES:]]


def _line(timestamp: int, message: str) -> str:
    when = datetime.fromtimestamp(timestamp / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = redact(" ".join(message.split()))
    return f"{when}  {text if len(text) <= MAX_LINE_CHARS else text[: MAX_LINE_CHARS - 1] + '…'}"


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
