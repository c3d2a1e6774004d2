"""ECS Deployment State Change → resume the deploy executions parked on that service's deployment."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from harbormaster.aws_events import EcsDeploymentStateChange
from harbormaster.deploy.wake import wake
from harbormaster.observability import logger, metrics, rejected, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        change = parse(event=event, model=EcsDeploymentStateChange)
    except (ValidationError, TypeError) as exc:
        return rejected(exc, "ECS Deployment State Change event")
    why = f"{change.detail.event_name} {change.detail.deployment_id}"
    woken = {arn: wake(arn, why) for arn in change.resources}
    logger.info("ECS deployment event", extra={"event": why, "woken": woken})
    metrics.add_metric(name="ExecutionsWoken", unit="Count", value=sum(map(len, woken.values())))
    return {"woken": woken}
