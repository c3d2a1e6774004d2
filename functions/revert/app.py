"""After a failure: what puts touched instances (or the ECS service) back on the previous image."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from harbormaster.deploy.models import DeployPlan
from harbormaster.deploy.revert import revert_batches, revert_service
from harbormaster.observability import for_release, logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    plan = DeployPlan.model_validate(event["plan"])
    for_release(plan.request.environment, plan.release_id)
    settings, batches, warning = revert_batches(plan)
    service = revert_service(plan)
    logger.warning(
        "reverting",
        extra={
            "batches": batches,
            "service": service.note or service.task_definition_arn if service else None,
            "warning": warning,
        },
    )
    return {
        "rollout": settings.model_dump(mode="json") if settings else None,
        "batches": batches,
        "ecs": service.model_dump(mode="json") if service else None,
        "warning": warning,
    }
