"""Scheduler: stop and start tagged resources on their schedules (EventBridge Scheduler rate, or a
one-shot `{"action": "stop"|"start", "schedule": NAME}`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from harbormaster.config import load_config
from harbormaster.notify import publish
from harbormaster.observability import logger, metrics, rejected, tracer
from harbormaster.schedule import RunInput, run, summary_events
from harbormaster.schedule.exceptions import UnknownSchedule


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = RunInput.model_validate(event)
    except ValidationError as exc:
        return rejected(exc, "scheduler input")
    config = load_config()
    now = request.scheduled_time or datetime.now(UTC)
    try:
        report, found = run(config, request, now)
    except UnknownSchedule as exc:
        return rejected(exc, "one-shot schedule name")
    hours = 0.0
    for summary in summary_events(report, config, found):
        publish(summary)
        hours += float(summary.details.get("estimated_instance_hours_saved") or 0)
    metrics.add_metric(name="InstanceHoursSaved", unit=MetricUnit.Count, value=hours)
    changed, failures = len(report.changed()), len(report.failures())
    metrics.add_metric(name="ScheduleActions", unit=MetricUnit.Count, value=changed)
    metrics.add_metric(name="ScheduleFailures", unit=MetricUnit.Count, value=failures)
    logger.info("schedule run", extra={"changed": changed, "failures": failures, "dry_run": request.dry_run})
    return report.model_dump(mode="json")
