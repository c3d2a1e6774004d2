"""Deploy phase `ECS step`: move an ECS service one step through register revision → UpdateService → COMPLETED."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from harbormaster.deploy.ecs import step
from harbormaster.deploy.models import ServiceTask
from harbormaster.observability import for_release, logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = ServiceTask.model_validate(event)
    for_release(task.environment, task.release_id, service=task.service)
    after = step(task)
    logger.info("ECS step", extra={"from": task.phase, "to": after.phase, "note": after.note})
    return after.model_dump(mode="json")
