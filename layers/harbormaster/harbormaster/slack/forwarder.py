"""Forward one SNS notification (as delivered through SQS) to the Slack route it belongs to."""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parser.models import SnsNotificationModel

from harbormaster.config import HarbormasterConfig
from harbormaster.observability import logger
from harbormaster.slack.delivery import post
from harbormaster.slack.formatting import render

SECRET_MAX_AGE_SECONDS = 300


class NoSlackRoute(Exception):
    """Neither the asked-for route nor a default route is configured."""


def forward(sqs_body: str, config: HarbormasterConfig) -> str:
    """Render and post; return the route name used. Raises on any failure (the record is retried)."""
    notification = SnsNotificationModel.model_validate_json(sqs_body)
    message, route_name = render(notification.Subject, str(notification.Message))
    route = config.slack.route(route_name)
    if route is None:
        raise NoSlackRoute(f"no Slack route {route_name!r} and no default_route in the configuration")
    url = parameters.get_secret(route.webhook_secret, max_age=SECRET_MAX_AGE_SECONDS)
    post(str(url), message)
    used = config.slack.route_name(route_name)
    logger.info("delivered to Slack", extra={"route": used, "sns_message_id": notification.MessageId})
    return str(used)
