"""ECR push → one deploy execution per matching environment."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from harbormaster.aws_events import EcrImageActionEvent
from harbormaster.config import load_config
from harbormaster.deploy import route_push
from harbormaster.observability import logger, metrics, rejected, tracer

STATE_MACHINE_ARN = os.environ["DEPLOY_STATE_MACHINE_ARN"]


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        push = parse(event=event, model=EcrImageActionEvent)
    except (ValidationError, TypeError) as exc:
        return rejected(exc, "ECR Image Action event")
    routed = route_push(push, load_config(), STATE_MACHINE_ARN)
    return {
        "deploys": [
            {
                "environment": r.environment,
                "execution_name": r.execution_name,
                "execution_arn": r.execution_arn,
                "duplicate": r.duplicate,
            }
            for r in routed
        ]
    }
