"""Deploy phase `finalize`: ledger, known-good pointer, unlock, start the waiting image, metrics."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from harbormaster.deploy import DeployPlan
from harbormaster.deploy.finalize import fail, succeed
from harbormaster.deploy.models import Convergence
from harbormaster.observability import for_release, logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    plan = DeployPlan.model_validate(event["plan"])
    for_release(plan.request.environment, plan.release_id)
    metrics.add_dimension(name="environment", value=plan.request.environment)
    if event["outcome"] == "succeeded":
        convergence = Convergence.model_validate(event["converge"]) if event.get("converge") else None
        return succeed(plan, event["execution_arn"], event["state_machine_arn"], convergence)
    return fail(plan, event["error"], event.get("revert"), event["execution_arn"], event["state_machine_arn"])
