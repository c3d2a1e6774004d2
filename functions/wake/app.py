"""An AWS event that ends what a deploy execution is parked on → resume that execution:
ECS Deployment State Change (the service's deployment) and Run Command's status changes (a batch's
deploy command ended, or one instance's invocation failed)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from harbormaster.aws_events import EcsDeploymentStateChange, SsmCommandStatusChange
from harbormaster.deploy.wake import wake
from harbormaster.observability import logger, metrics, rejected, tracer

SSM_CHANGES = {"EC2 Command Status-change Notification", "EC2 Command Invocation Status-change Notification"}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    kind = event.get("detail-type") if isinstance(event, dict) else None
    try:
        if kind in SSM_CHANGES:
            command = parse(event=event, model=SsmCommandStatusChange)
            subjects = {command.detail.command_id: f"{command.detail.status} {command.detail.command_id}"}
        else:
            deployment = parse(event=event, model=EcsDeploymentStateChange)
            why = f"{deployment.detail.event_name} {deployment.detail.deployment_id}"
            subjects = dict.fromkeys(deployment.resources, why)
    except (ValidationError, TypeError) as exc:
        return rejected(exc, f"{kind or 'ECS Deployment State Change'} event")
    woken = {subject: wake(subject, why) for subject, why in subjects.items()}
    logger.info("wake event", extra={"event": kind, "woken": woken})
    metrics.add_metric(name="ExecutionsWoken", unit="Count", value=sum(map(len, woken.values())))
    return {"woken": woken}
