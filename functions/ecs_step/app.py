"""Deploy phase `ECS step`: move an ECS service one step through register revision → UpdateService →
COMPLETED; or, called with a task token (`{task, task_token}`), park the execution until the
deployment's end is announced."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from harbormaster.deploy.ecs import park, step
from harbormaster.deploy.models import ServiceTask
from harbormaster.observability import for_release, logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "task_token" in event:
        parked = ServiceTask.model_validate(event.get("task"))
        for_release(parked.environment, parked.release_id, service=parked.service)
        outcome = park(parked, str(event["task_token"]))
        logger.info("ECS deployment awaited", extra={"outcome": outcome, "deployment": parked.deployment_id})
        return {"parked": outcome}
    task = ServiceTask.model_validate(event)
    for_release(task.environment, task.release_id, service=task.service)
    after = step(task)
    logger.info("ECS step", extra={"from": task.phase, "to": after.phase, "note": after.note})
    return after.model_dump(mode="json")
