"""Post, update and delete messages through the Slack Web API with the app's bot token (slack_sdk),
paced per channel (chat.postMessage allows about one message per second per channel), with the
same retries as webhooks: 429 waits exactly Retry-After, 5xx and connection errors back off.

An error Slack answers about the request itself (`channel_not_found`, `not_in_channel`,
`invalid_blocks`, …) is SlackRejected (never retried: the forwarder dead-letters the message);
anything transient is SlackDeliveryError (the SQS record comes back later).
"""

from __future__ import annotations

import os
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, ServerErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator

from harbormaster.slack.delivery import ExactRetryAfter, ProportionalJitter, SlackDeliveryError, SlackRejected, paced
from harbormaster.slack.message import SlackMessage
from harbormaster.slack.pacing import PACER

API_ENV = "SLACK_API_URL"  # the local engine's Slack; unset on AWS: https://slack.com/api/
TRANSIENT = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}


class BotChannel:
    """One channel, through the bot token."""

    def __init__(self, token: str, channel: str, per_second: float = 1.0, backoff_seconds: float = 0.5) -> None:
        self.channel = channel
        self.pace_key = f"slack-channel:{channel}"
        self.per_second = per_second
        backoff = BackoffRetryIntervalCalculator(backoff_factor=backoff_seconds, jitter=ProportionalJitter())
        self.client = WebClient(
            token=token,
            base_url=os.environ.get(API_ENV, WebClient.BASE_URL),
            timeout=10,
            retry_handlers=[
                paced(ConnectionErrorRetryHandler, self.pace_key, per_second)(
                    max_retry_count=2, interval_calculator=backoff
                ),
                paced(ExactRetryAfter, self.pace_key, per_second)(max_retry_count=3),
                paced(ServerErrorRetryHandler, self.pace_key, per_second)(
                    max_retry_count=2, interval_calculator=backoff
                ),
            ],
        )

    def post(self, message: SlackMessage, thread_ts: str | None = None) -> str:
        """Post (in a thread when `thread_ts`); the new message's ts."""
        answer = self._call("chat_postMessage", **message.body(), **({"thread_ts": thread_ts} if thread_ts else {}))
        return str(answer["ts"])

    def update(self, ts: str, body: dict[str, Any]) -> None:
        self._call(
            "chat_update",
            ts=ts,
            text=body.get("text", ""),
            blocks=body.get("blocks") or [],
            attachments=body.get("attachments") or [],
        )

    def delete(self, ts: str) -> None:
        self._call("chat_delete", ts=ts)

    def _call(self, method: str, **arguments: Any) -> Any:
        PACER.wait(self.pace_key, self.per_second)
        try:
            return getattr(self.client, method)(channel=self.channel, **arguments)
        except SlackApiError as exc:
            status, error = exc.response.status_code, str(exc.response.get("error", ""))
            if status >= 500 or status == 429 or error in TRANSIENT:
                raise SlackDeliveryError(status, error) from None
            raise SlackRejected(status, error) from None
