"""Deploy phase `converge`: is every instance of the environment on the release's image, registered
and healthy? Batches that redeploy those that are not (bounded attempts)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from harbormaster.config import load_config
from harbormaster.deploy import DeployPlan
from harbormaster.deploy.converge import converge
from harbormaster.deploy.models import Convergence
from harbormaster.observability import for_release, logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    plan = DeployPlan.model_validate(event["plan"])
    for_release(plan.request.environment, plan.release_id)
    result = converge(plan, load_config(), Convergence.model_validate(event["converge"]))
    logger.info(
        "convergence",
        extra={"attempt": result.attempt, "divergent": result.divergent, "redeploying": bool(result.batches)},
    )
    return result.model_dump(mode="json")
