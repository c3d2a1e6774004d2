"""Post to Slack incoming webhooks through slack_sdk, with its retry handlers."""

from __future__ import annotations

from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient

from harbormaster.slack.message import SlackMessage


class SlackDeliveryError(Exception):
    """Slack did not accept the message after the retries."""

    def __init__(self, status: int, body: str) -> None:
        self.status = status
        self.body = body
        super().__init__(f"Slack answered {status}: {body}")


def webhook(url: str) -> WebhookClient:
    return WebhookClient(
        url,
        timeout=10,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),  # sleeps for Retry-After
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def post(url: str, message: SlackMessage) -> None:
    response = webhook(url).send_dict(message.body())
    if response.status_code != 200:
        raise SlackDeliveryError(response.status_code, response.body)
