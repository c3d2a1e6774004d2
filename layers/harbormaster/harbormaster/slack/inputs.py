"""What can arrive for Slack, as SNS (subject, message, message id) triples: an SNS Lambda event
(one per record), SQS records wrapping SNS notifications, a bare SNS notification, or a bare
message body (an EventBridge event, an alarm's JSON, anything)."""

from __future__ import annotations

import json
from typing import Any, NamedTuple


class Notification(NamedTuple):
    subject: str | None
    message: str
    message_id: str | None
    topic_arn: str | None = None


def notifications(data: Any) -> list[Notification]:
    if isinstance(data, dict) and isinstance(data.get("Records"), list) and data["Records"]:
        found = [_record(record) for record in data["Records"]]
        return [n for n in found if n is not None] or [_bare(data)]
    if isinstance(data, dict) and data.get("Type") == "Notification" and "Message" in data:
        return [_sns(data)]
    return [_bare(data)]


def _record(record: Any) -> Notification | None:
    if not isinstance(record, dict):
        return None
    if isinstance(record.get("Sns"), dict):
        return _sns(record["Sns"])
    if isinstance(record.get("body"), str):  # SQS
        try:
            body = json.loads(record["body"])
        except ValueError:
            return Notification(None, record["body"], record.get("messageId"))
        if isinstance(body, dict) and body.get("Type") == "Notification" and "Message" in body:
            return _sns(body)
        return Notification(None, record["body"], record.get("messageId"))
    return None


def _sns(sns: dict[str, Any]) -> Notification:
    message = sns.get("Message")
    text = message if isinstance(message, str) else json.dumps(message)
    subject = sns.get("Subject")
    topic = sns.get("TopicArn")
    return Notification(
        subject if isinstance(subject, str) else None, text, sns.get("MessageId"), str(topic) if topic else None
    )


def _bare(data: Any) -> Notification:
    return Notification(None, data if isinstance(data, str) else json.dumps(data, ensure_ascii=False), None)
