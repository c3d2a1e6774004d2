"""Deploy phase `prepare`: config, image, scan, guard alarms, lock or queue, ledger, batch plan."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from harbormaster.config import load_config
from harbormaster.deploy import DeployRequest, prepare
from harbormaster.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event["request"], model=DeployRequest)
    logger.append_keys(environment=request.environment)
    return prepare(request, load_config(), event["execution_arn"]).model_dump(mode="json")
