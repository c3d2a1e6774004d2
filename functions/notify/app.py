"""Deploy phase `notify`: publish a deploy event on the alert topic."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from harbormaster.deploy import deploy_event
from harbormaster.notify import publish
from harbormaster.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    published = deploy_event(event["type"], event["state"], event.get("execution_arn"))
    return {"message_id": publish(published), "type": published.type}
