"""Deploy phase `publish`: the desired image goes to Parameter Store before any instance changes."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from harbormaster.deploy import DeployPlan
from harbormaster.deploy.publish import publish_image
from harbormaster.observability import for_release, logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    plan = DeployPlan.model_validate(event["plan"])
    for_release(plan.request.environment, plan.release_id)
    return {"previous_image": publish_image(plan.request.environment, str(plan.image_uri))}
