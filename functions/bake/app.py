"""Deploy phase `bake`: one look at the guard alarms; fails the deploy if one is in ALARM."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from harbormaster.accounts import environment_scope
from harbormaster.config import load_config
from harbormaster.deploy import DeployPlan
from harbormaster.deploy.bake import bake_check
from harbormaster.observability import for_release, logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    plan = DeployPlan.model_validate(event["plan"])
    for_release(plan.request.environment, plan.release_id)
    config = load_config()
    environment = config.environments[plan.request.environment]
    return bake_check(
        environment.guard_alarms,
        plan.bake_seconds,
        plan.poll_seconds,
        event.get("bake") or {},
        scope=environment_scope(environment, config.spokes),
    )
