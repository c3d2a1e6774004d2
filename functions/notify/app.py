"""Deploy phase `notify`: publish a deploy event on the alert topic. For the approval gate, first
keep the task token in the table (it never travels in the event)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from harbormaster.approval import service as approval
from harbormaster.config import load_config
from harbormaster.deploy import DeployPlan, deploy_event
from harbormaster.notify import publish
from harbormaster.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state, execution_arn = event["state"], event.get("execution_arn")
    release_id = (state.get("plan") or {}).get("release_id")
    if release_id:
        logger.append_keys(release_id=release_id)
        logger.set_correlation_id(release_id)
    if event["type"] == "approval.requested":
        plan = DeployPlan.model_validate(state["plan"])
        published = approval.request(plan, state["task_token"], str(execution_arn), load_config())
    else:
        published = deploy_event(event["type"], state, execution_arn)
    return {"message_id": publish(published), "type": published.type}
