"""After a failure: what puts touched instances (or the ECS service) back on the previous image."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from harbormaster.deploy import DeployPlan
from harbormaster.deploy.revert import revert_service, revert_tasks
from harbormaster.observability import for_release, logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    plan = DeployPlan.model_validate(event["plan"])
    for_release(plan.request.environment, plan.release_id)
    batches, warning = revert_tasks(plan)
    service = revert_service(plan)
    logger.warning(
        "reverting",
        extra={
            "batches": [[t.instance_id for t in batch] for batch in batches],
            "service": service.note or service.task_definition_arn if service else None,
            "warning": warning,
        },
    )
    return {
        "batches": [[t.model_dump(mode="json") for t in batch] for batch in batches],
        "ecs": service.model_dump(mode="json") if service else None,
        "warning": warning,
    }
