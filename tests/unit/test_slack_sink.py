"""The local Slack sink answers like Slack's incoming webhooks."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from harbormaster.local import SlackSink


@pytest.fixture
def sink() -> Iterator[SlackSink]:
    running = SlackSink(messages_per_second=1.0).start()
    yield running
    running.stop()


def post(url: str, body: bytes) -> tuple[int, str, dict[str, str]]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


def message(text: str = "hello") -> bytes:
    return json.dumps({"text": text}).encode()


def test_ok(sink: SlackSink) -> None:
    assert post(sink.webhook_url("deployments"), message())[:2] == (200, "ok")
    assert [r.body for r in sink.delivered("deployments")] == [{"text": "hello"}]


def test_malformed_json_is_invalid_payload(sink: SlackSink) -> None:
    assert post(sink.webhook_url("a"), b"{not json")[:2] == (400, "invalid_payload")
    assert sink.delivered() == []


@pytest.mark.parametrize(
    "body",
    [
        {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}] * 51},
        {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]},
        {"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]},
        {"attachments": [{"blocks": [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}]}]},
    ],
)
def test_blocks_over_slacks_limits_are_invalid_payload(sink: SlackSink, body: dict[str, object]) -> None:
    assert post(sink.webhook_url("a"), json.dumps(body).encode())[:2] == (400, "invalid_payload")


def test_more_than_the_rate_per_webhook_gets_429_with_retry_after(sink: SlackSink) -> None:
    assert post(sink.webhook_url("a"), message())[0] == 200
    status, answer, headers = post(sink.webhook_url("a"), message())
    assert (status, answer, headers["Retry-After"]) == (429, "rate_limited", "1")
    assert post(sink.webhook_url("b"), message())[0] == 200  # the limit is per webhook


def test_injected_server_errors(sink: SlackSink) -> None:
    sink.fail_next = 2
    assert [post(sink.webhook_url("a"), message())[0] for _ in range(2)] == [500, 500]
    assert post(sink.webhook_url("a"), message())[0] == 200
