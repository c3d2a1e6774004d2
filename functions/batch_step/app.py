"""Deploy phase `batch step`: move one batch of instances one phase through deregister → command →
register → healthy, with one AWS call per operation for the whole batch, and tell the batch's end
on the alert topic; or, called with a task token (`{task, task_token}`), park the execution until
one of the batch's commands ends."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from harbormaster.deploy.batch import park, step
from harbormaster.deploy.models import BatchTask
from harbormaster.deploy.progress import announce
from harbormaster.observability import for_release, logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "task_token" in event:
        parked = BatchTask.model_validate(event.get("task"))
        for_release(parked.settings.environment, parked.settings.release_id, batch=str(parked.batch + 1))
        outcome = park(parked, str(event["task_token"]))
        logger.info("batch commands awaited", extra={"outcome": outcome, "commands": parked.awaiting})
        return {"parked": outcome}
    task = BatchTask.model_validate(event)
    for_release(task.settings.environment, task.settings.release_id, batch=str(task.batch + 1))
    after = step(task)
    announce(task, after)
    logger.info(
        "batch step",
        extra={"from": task.phase, "to": after.phase, "instances": len(task.instance_ids), "note": after.note},
    )
    return after.model_dump(mode="json")
