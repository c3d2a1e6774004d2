"""Post to Slack incoming webhooks through slack_sdk and its retry handlers, paced per webhook.

429                      wait exactly Retry-After (then the pace), up to 3 times
5xx, connection errors   backoff (then the pace), up to 2 times
other 4xx                SlackRejected: never retried (the forwarder dead-letters the message)
still failing            SlackDeliveryError: the SQS record fails and comes back later
"""

from __future__ import annotations

import random
import time
from typing import Any

from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.jitter import Jitter
from slack_sdk.webhook import WebhookClient

from harbormaster.slack.message import SlackMessage
from harbormaster.slack.pacing import PACER


class SlackDeliveryError(Exception):
    """Slack did not accept the message after the retries (worth trying again later)."""

    def __init__(self, status: int, body: str) -> None:
        self.status = status
        self.body = body
        super().__init__(f"Slack answered {status}: {body}")


class SlackRejected(SlackDeliveryError):
    """Slack refused the message itself (invalid_payload, channel_not_found, ...): retrying won't help."""


def paced(base: type[RetryHandler], url: str, per_second: float) -> type[RetryHandler]:
    class Paced(base):  # type: ignore[misc]
        def prepare_for_next_attempt(self, **kwargs: Any) -> None:
            super().prepare_for_next_attempt(**kwargs)
            PACER.wait(url, per_second)

    return Paced


class ExactRetryAfter(RateLimitErrorRetryHandler):  # type: ignore[misc]
    """Waits exactly what Slack's Retry-After asks (slack_sdk's own handler adds up to 1 s of jitter)."""

    def prepare_for_next_attempt(self, **kwargs: Any) -> None:
        response = kwargs.get("response")
        state = kwargs["state"]
        headers = {k.lower(): v for k, v in (response.headers.items() if response is not None else [])}
        state.next_attempt_requested = True
        time.sleep(float((headers.get("retry-after") or ["1"])[0]))
        state.increment_current_attempt()


class ProportionalJitter(Jitter):  # type: ignore[misc]
    """Full jitter in proportion to the backoff (slack_sdk's default adds up to a whole second)."""

    def recalculate(self, duration: float) -> float:
        return duration * (1 + random.random())  # noqa: S311 - jitter, not crypto


def webhook(url: str, per_second: float, backoff_seconds: float) -> WebhookClient:
    backoff = BackoffRetryIntervalCalculator(backoff_factor=backoff_seconds, jitter=ProportionalJitter())
    return WebhookClient(
        url,
        timeout=10,
        retry_handlers=[
            paced(ConnectionErrorRetryHandler, url, per_second)(max_retry_count=2, interval_calculator=backoff),
            paced(ExactRetryAfter, url, per_second)(max_retry_count=3),
            paced(ServerErrorRetryHandler, url, per_second)(max_retry_count=2, interval_calculator=backoff),
        ],
    )


def post(url: str, message: SlackMessage, per_second: float = 1.0, backoff_seconds: float = 0.5) -> None:
    PACER.wait(url, per_second)
    response = webhook(url, per_second, backoff_seconds).send_dict(message.body())
    if response.status_code == 200:
        return
    if 400 <= response.status_code < 500 and response.status_code != 429:
        raise SlackRejected(response.status_code, response.body)
    raise SlackDeliveryError(response.status_code, response.body)
