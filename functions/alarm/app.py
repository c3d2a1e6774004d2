"""CloudWatch alarm → ALARM on a guard alarm: stop the running deploy / roll back, or say why not."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from harbormaster.config import load_config
from harbormaster.observability import logger, metrics, rejected, tracer
from harbormaster.rollback import AlarmStateChange, handle_alarm
from harbormaster.rollback.timing import seconds_since_alarm

STATE_MACHINE_ARN = os.environ["DEPLOY_STATE_MACHINE_ARN"]


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        alarm = parse(event=event, model=AlarmStateChange)
    except (ValidationError, TypeError) as exc:
        return rejected(exc, "CloudWatch Alarm State Change event")
    logger.append_keys(alarm=alarm.detail.alarm_name)
    decisions = handle_alarm(alarm, load_config(), STATE_MACHINE_ARN)
    metrics.add_metric(name="AlarmsReceived", unit="Count", value=1)
    for decision in decisions:
        if decision.execution_arn:
            metrics.add_metric(name="Rollbacks", unit="Count", value=1)
            delay = seconds_since_alarm(alarm)
            if delay is not None:
                metrics.add_metric(name="AlarmToRollbackSeconds", unit="Seconds", value=delay)
    return {"decisions": [d.__dict__ for d in decisions]}
