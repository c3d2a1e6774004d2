"""Deploy phase `instance step`: move one instance one step through deregister → command → register."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from harbormaster.deploy import InstanceTask
from harbormaster.deploy.instance import step
from harbormaster.observability import for_release, logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = InstanceTask.model_validate(event)
    for_release(task.environment, task.release_id, instance_id=task.instance_id)
    after = step(task)
    logger.info("instance step", extra={"from": task.phase, "to": after.phase, "note": after.note})
    return after.model_dump(mode="json")
