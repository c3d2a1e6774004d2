"""Forward one SNS notification (as delivered through SQS) to the Slack route it belongs to.

Exactly once, as far as we can: SNS and SQS deliver at least once, so a delivery is keyed on the
SNS MessageId with Powertools idempotency (records in the single table, expiring after a day). A
message Slack refuses for itself (a 4xx other than 429) goes straight to the DLQ with Slack's error
and is not retried; anything else that fails is raised, so the SQS record comes back later and,
after maxReceiveCount, lands in the DLQ. Nothing is dropped.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.parser.models import SnsNotificationModel
from pydantic import ValidationError

from harbormaster.clients import client
from harbormaster.config import HarbormasterConfig
from harbormaster.observability import logger, metrics
from harbormaster.slack.aws_formatters import region_of
from harbormaster.slack.delivery import SlackRejected, post
from harbormaster.slack.formatting import render
from harbormaster.slack.log_lines import matched_lines
from harbormaster.state.store import idempotency_records

SECRET_MAX_AGE_SECONDS = 300
DLQ_ENV = "ALERT_DLQ_URL"
IDEMPOTENCY = IdempotencyConfig(
    event_key_jmespath="MessageId", raise_on_no_idempotency_key=True, expires_after_seconds=86400
)


class NoSlackRoute(Exception):
    """Neither the asked-for route nor a default route is configured."""


def forward(sqs_body: str, config: HarbormasterConfig, sqs_message_id: str = "") -> str:
    """Render and post once; return the route used (or `dead-lettered`). Raises to have the record retried."""
    notification = _notification(sqs_body, sqs_message_id)
    try:
        deliver = _deliver_once(os.environ["TABLE_NAME"])
        return str(deliver(notification=notification, config=config))
    except SlackRejected as exc:
        _dead_letter(sqs_body, exc)
        metrics.add_metric(name="SlackRejected", unit=MetricUnit.Count, value=1)
        logger.error(
            "Slack refused the message; sent to the DLQ",
            extra={"status": exc.status, "slack_error": exc.body, "sns_message_id": notification["MessageId"]},
        )
        return "dead-lettered"


def _notification(sqs_body: str, sqs_message_id: str) -> dict[str, Any]:
    """The SNS notification in the record; anything else sent to the queue is delivered as it is
    (the generic formatter shows it), keyed on the SQS message id. Never dropped."""
    try:
        return SnsNotificationModel.model_validate_json(sqs_body).model_dump(mode="json")
    except (ValidationError, TypeError):  # Powertools' validators raise TypeError on non-objects
        logger.warning("not an SNS notification: delivered as a bare message", extra={"sqs_message_id": sqs_message_id})
        return {"MessageId": f"sqs:{sqs_message_id}", "Message": sqs_body, "Subject": None}


def _log_lines(text: str, topic_arn: str | None) -> list[str]:
    """For a CloudWatch alarm's ALARM on a log metric filter: the lines that matched (see log_lines)."""
    if '"AlarmName"' not in text or '"ALARM"' not in text:
        return []
    try:
        alarm = json.loads(text)
    except ValueError:
        return []
    if not isinstance(alarm, dict):
        return []
    region = region_of(str(alarm.get("AlarmArn") or "")) or region_of(str(topic_arn or ""))
    return matched_lines(alarm, region)


def _deliver(notification: dict[str, Any], config: HarbormasterConfig) -> str:
    message, asked = render(notification.get("Subject"), str(notification["Message"]), notification.get("TopicArn"))
    route_name = config.slack.route_name(asked)
    if route_name is None:
        raise NoSlackRoute(f"no Slack route {asked!r} and no default_route in the configuration")
    route = config.slack.routes[route_name]
    if lines := _log_lines(str(notification["Message"]), notification.get("TopicArn")):
        message = message.quoting("Log lines that matched the alarm's metric filter", lines)
    if message.severity in route.mention_on:
        message = message.mentioning(route.mention)
    done = "posted"
    if route.channel is not None and config.slack.bot_token_secret is not None:
        # On use: slack_sdk's WebClient is a large import, and webhook routes never need it.
        from harbormaster.slack.bot import BotChannel
        from harbormaster.slack.conversation import converse

        token = str(parameters.get_secret(config.slack.bot_token_secret, max_age=SECRET_MAX_AGE_SECONDS))
        channel = BotChannel(token, route.channel, config.slack.messages_per_second, config.slack.retry_backoff_seconds)
        done = converse(str(notification["Message"]), message, channel)
    elif _is_progress(str(notification["Message"])):
        # A webhook can only post: a message per batch would flood the channel. Its outcome follows.
        logger.info("progress not posted: a webhook route cannot update the release's message")
        return route_name
    else:
        url = parameters.get_secret(str(route.webhook_secret), max_age=SECRET_MAX_AGE_SECONDS)
        post(str(url), message, config.slack.messages_per_second, config.slack.retry_backoff_seconds)
    metrics.add_metric(name="SlackDelivered", unit=MetricUnit.Count, value=1)
    logger.info(
        "delivered to Slack",
        extra={"route": route_name, "sns_message_id": notification["MessageId"], "done": done},
    )
    return route_name


def _is_progress(text: str) -> bool:
    """A rollout's per-batch progress event (deploy/progress.py)."""
    if '.progress"' not in text:  # most messages: no parse
        return False
    try:
        payload = json.loads(text)
    except ValueError:
        return False
    return (
        isinstance(payload, dict)
        and payload.get("source") == "harbormaster"
        and str(payload.get("type")).endswith(".progress")
    )


@functools.cache
def _deliver_once(table_name: str) -> Callable[..., Any]:
    """`_deliver`, idempotent on the SNS MessageId, its records in `table_name` (built once per table)."""
    once: Callable[..., Any] = idempotent_function(
        data_keyword_argument="notification",
        config=IDEMPOTENCY,
        persistence_store=idempotency_records(table_name, "slack"),
    )(_deliver)
    return once


def _dead_letter(sqs_body: str, error: SlackRejected) -> None:
    client("sqs").send_message(
        QueueUrl=os.environ[DLQ_ENV],
        MessageBody=sqs_body,
        MessageAttributes={
            "slack_status": {"DataType": "Number", "StringValue": str(error.status)},
            "slack_error": {"DataType": "String", "StringValue": json.dumps(error.body)[:1000]},
        },
    )
