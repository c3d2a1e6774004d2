"""Alert queue (SNS → SQS) → Slack, with partial batch failures so nothing is lost."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from harbormaster.config import load_config
from harbormaster.observability import logger, metrics, tracer
from harbormaster.slack import forward
from harbormaster.slack.forwarder import IDEMPOTENCY

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> str:
    return forward(record.body, load_config(), record.message_id)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    IDEMPOTENCY.register_lambda_context(context)  # in-progress records expire with this invocation
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
