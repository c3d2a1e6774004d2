"""What CloudWatch checks and moto does not.

- PutMetricAlarm (and CloudFormation alarms): `SEARCH()` is refused in alarms (it is for
  dashboards), a Metrics Insights query (`SELECT ...`) needs its `Period`, and exactly one query
  returns data.
- PutCompositeAlarm exists (moto lacks the action).
- DescribeAlarms without `AlarmTypes` returns metric alarms only: composite alarms come back only
  when asked for (`AlarmTypes=["CompositeAlarm", ...]`).
"""

from __future__ import annotations

import re
from typing import Any
from unittest import mock

_SEARCH = re.compile(r"\bSEARCH\s*\(", re.IGNORECASE)


def alarm_problem(metrics: list[dict[str, Any]]) -> str | None:
    """Why CloudWatch would refuse these alarm `Metrics`, or None."""
    if not metrics:
        return None
    for query in metrics:
        expression = str(query.get("Expression") or "")
        if _SEARCH.search(expression):
            return f"Invalid metrics: SEARCH is not supported on Metric Alarms (query {query.get('Id')})"
        if expression.lstrip().upper().startswith("SELECT") and not query.get("Period"):
            return f"Period must be specified for a Metrics Insights query (query {query.get('Id')})"
    returning = [q for q in metrics if str(q.get("ReturnData", True)).lower() != "false"]
    if len(returning) != 1:
        return f"Exactly one element of the Metrics list must return data, not {len(returning)}"
    return None


def patches() -> list[Any]:
    from moto.cloudwatch.exceptions import ValidationError
    from moto.cloudwatch.responses import CloudWatchResponse

    original_put = CloudWatchResponse.put_metric_alarm
    original_describe = CloudWatchResponse.describe_alarms

    def put_metric_alarm(response: Any) -> Any:
        if problem := alarm_problem(response._get_param("Metrics", [])):
            raise ValidationError(problem)
        return original_put(response)

    def describe_alarms(response: Any) -> Any:
        result = original_describe(response)
        wanted = set(response._get_param("AlarmTypes", []) or ["MetricAlarm"])
        for kind, key in (("MetricAlarm", "MetricAlarms"), ("CompositeAlarm", "CompositeAlarms")):
            if kind not in wanted:
                result.result[key] = []
        return result

    def put_composite_alarm(response: Any) -> Any:
        # moto has no PutCompositeAlarm action, but its PutMetricAlarm keeps an AlarmRule.
        if not response._get_param("AlarmRule"):
            raise ValidationError("AlarmRule is required for a composite alarm")
        return original_put(response)

    return [
        mock.patch.object(CloudWatchResponse, "put_metric_alarm", put_metric_alarm),
        mock.patch.object(CloudWatchResponse, "put_composite_alarm", put_composite_alarm, create=True),
        mock.patch.object(CloudWatchResponse, "describe_alarms", describe_alarms),
    ]
