"""Queued Slack clicks → approve / reject / rollback, answered through each click's response_url."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from harbormaster.approval.slack_click import IDEMPOTENCY, perform
from harbormaster.approval.slack_request import QueuedClick
from harbormaster.config import load_config
from harbormaster.observability import logger, tracer

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> int:
    click = QueuedClick.model_validate_json(record.body)
    answer = perform(click, load_config(), os.environ["DEPLOY_STATE_MACHINE_ARN"], os.environ["TABLE_NAME"])
    return answer.status


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    IDEMPOTENCY.register_lambda_context(context)  # in-progress records expire with this invocation
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
