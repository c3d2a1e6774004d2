"""Scheduler: stop and start tagged resources on their schedules (EventBridge Scheduler rate, or a
one-shot `{"action": "stop"|"start", "schedule": NAME}`). A scheduled run over several accounts
and regions fans out: one asynchronous part per account and region (schedule/parts.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from harbormaster.config import load_config
from harbormaster.notify import HarbormasterEvent, publish
from harbormaster.observability import logger, metrics, rejected, tracer
from harbormaster.schedule import RunInput, parts as fan_out, run
from harbormaster.schedule.exceptions import UnknownSchedule
from harbormaster.schedule.reconcile import configured_scopes
from harbormaster.schedule.summary import events, summarize


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
    if request.part is None and request.action is None and not request.dry_run:
        scopes = configured_scopes(config)
        if len(scopes) > 1:
            fan_out.launch(now, scopes, context.function_name)
            logger.info("scheduler run fanned out", extra={"parts": len(scopes)})
            return {"parts": [str(scope) for scope in scopes]}
    try:
        report, found = run(config, request, now)
    except UnknownSchedule as exc:
        return rejected(exc, "one-shot schedule name")
    summaries = summarize(report, found)
    if request.part is None:
        _publish(events(summaries, config, now))
    else:
        logger.append_keys(part=str(request.part.scope))
        fan_out.finish(request.part, summaries, now, lambda merged: _publish(events(merged, config, now)))
    changed, failures = len(report.changed()), len(report.failures())
    metrics.add_metric(name="ScheduleActions", unit=MetricUnit.Count, value=changed)
    metrics.add_metric(name="ScheduleFailures", unit=MetricUnit.Count, value=failures)
    logger.info("schedule run", extra={"changed": changed, "failures": failures, "dry_run": request.dry_run})
    return report.model_dump(mode="json")


def _publish(summaries: list[HarbormasterEvent]) -> None:
    hours = 0.0
    for summary in summaries:
        publish(summary)
        hours += float(summary.details.get("estimated_instance_hours_saved") or 0)
    metrics.add_metric(name="InstanceHoursSaved", unit=MetricUnit.Count, value=hours)
