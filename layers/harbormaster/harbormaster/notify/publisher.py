"""Publish Harbormaster events to the alert SNS topic."""

from __future__ import annotations

import os

from harbormaster.clients import client
from harbormaster.notify.events import HarbormasterEvent
from harbormaster.observability import logger

ALERT_TOPIC_ENV = "ALERT_TOPIC_ARN"


def publish(event: HarbormasterEvent, topic_arn: str | None = None) -> str:
    """Publish `event` as JSON, with type/severity/environment as message attributes; return the id."""
    topic = topic_arn or os.environ[ALERT_TOPIC_ENV]
    attributes = {
        "type": {"DataType": "String", "StringValue": event.type},
        "severity": {"DataType": "String", "StringValue": event.severity},
    }
    if event.environment:
        attributes["environment"] = {"DataType": "String", "StringValue": event.environment}
    response = client("sns").publish(
        TopicArn=topic,
        Subject=event.subject,
        Message=event.model_dump_json(exclude_none=True),
        MessageAttributes=attributes,
    )
    logger.info("published event", extra={"event_type": event.type, "message_id": response["MessageId"]})
    return str(response["MessageId"])
