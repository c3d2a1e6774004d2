"""Deploy phase `prepare`: config, image, scan, guard alarms, lock or queue, ledger, batch plan."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from harbormaster.config import load_config
from harbormaster.deploy.models import DeployRequest
from harbormaster.deploy.preflight import ScanInProgress
from harbormaster.deploy.prepare import prepare
from harbormaster.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event["request"], model=DeployRequest)
    logger.append_keys(environment=request.environment)
    metrics.add_dimension(name="environment", value=request.environment)
    try:
        plan = prepare(request, load_config(), event["execution_arn"])
    except ScanInProgress:
        raise  # nothing changed: the state machine retries Prepare a little later
    except Exception:
        metrics.add_metric(name="DeployFailed", unit="Count", value=1)  # refused in prepare: finalize never runs
        raise
    logger.set_correlation_id(plan.release_id)
    metrics.add_metric(name="DeployStarted" if plan.outcome == "deploy" else "DeployQueued", unit="Count", value=1)
    return plan.model_dump(mode="json")
