"""A local stand-in for Slack on 127.0.0.1, answering the way Slack does: incoming webhooks
(`/services/<name>`), and the Web API methods bot mode uses (`/api/chat.postMessage`,
`chat.update`, `chat.delete`: a bot token, `ts` per message, threads, ~1 message per second per
channel, `ok: false` with Slack's error names)."""

from __future__ import annotations

import itertools
import json
import math
import random
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from harbormaster.slack.message import (
    MAX_BLOCKS,
    MAX_FIELD_TEXT,
    MAX_FIELDS,
    MAX_HEADER_TEXT,
    MAX_SECTION_TEXT,
)


@dataclass
class SinkRequest:
    webhook: str
    body: Any
    status: int
    answer: str
    at: float = field(default_factory=time.monotonic)


def _shown(arguments: dict[str, Any]) -> dict[str, Any]:
    """What a chat.postMessage / chat.update shows: its text, blocks and attachments."""
    return {
        "text": arguments.get("text", ""),
        "blocks": arguments.get("blocks") or [],
        "attachments": arguments.get("attachments") or [],
    }


def payload_problem(body: Any) -> str | None:
    """Why Slack would refuse this body (None when it would accept it)."""
    if not isinstance(body, dict):
        return "invalid_payload"
    blocks = list(body.get("blocks") or [])
    for attachment in body.get("attachments") or []:
        blocks.extend(attachment.get("blocks") or [])
    if not body.get("text") and not blocks:
        return "no_text"
    if len(body.get("blocks") or []) > MAX_BLOCKS or any(
        len(a.get("blocks") or []) > MAX_BLOCKS for a in body.get("attachments") or []
    ):
        return "invalid_payload"
    for block in blocks:
        text = (block.get("text") or {}).get("text", "")
        limit = MAX_HEADER_TEXT if block.get("type") == "header" else MAX_SECTION_TEXT
        fields = block.get("fields") or []
        if (
            len(text) > limit
            or len(fields) > MAX_FIELDS
            or any(len(f.get("text", "")) > MAX_FIELD_TEXT for f in fields)
        ):
            return "invalid_payload"
    if len(json.dumps(body)) > 40_000:
        return "invalid_payload"
    return None


@dataclass
class ChannelMessage:
    """A message a bot posted: what it shows now (after updates), and its thread."""

    channel: str
    ts: str
    body: dict[str, Any]
    thread_ts: str | None = None
    updates: int = 0
    deleted: bool = False


class SlackSink:
    """Records every request; 200 `ok`, 400 `invalid_payload`, 429 + Retry-After over the rate,
    and injected failures (a count, or a fraction of requests; 5xx, 429 or 4xx) when a test asks."""

    def __init__(self, messages_per_second: float = 1.0, seed: int = 7) -> None:
        self.messages_per_second = messages_per_second
        self.requests: list[SinkRequest] = []
        self.fail_next = 0
        self.failure_rate = 0.0
        self.failure_statuses: tuple[int, ...] = (500,)  # an injected failure picks one of these
        self.injected_retry_after = "1"  # Retry-After of an injected 429
        self._random = random.Random(seed)  # noqa: S311 - reproducible fault injection, not crypto
        self._last_accepted: dict[str, float] = {}
        self._lock = threading.Lock()
        self.bot_token = "xoxb-engine-" + secrets.token_hex(8)
        self.messages: list[ChannelMessage] = []  # every message bots posted, in order
        self.api_calls: list[tuple[str, dict[str, Any]]] = []  # (method, arguments) of each Web API call
        self._ts = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def webhook_url(self, name: str) -> str:
        return f"{self.base_url}/services/{name}"

    @property
    def api_url(self) -> str:
        """Where slack_sdk's WebClient finds the Web API (its `base_url`)."""
        return f"{self.base_url}/api/"

    def channel(self, channel: str) -> list[ChannelMessage]:
        """The channel's messages as it shows them: top level, not deleted, oldest first."""
        return [m for m in self.messages if m.channel == channel and m.thread_ts is None and not m.deleted]

    def thread(self, channel: str, ts: str) -> list[ChannelMessage]:
        """The replies under a message, oldest first."""
        return [m for m in self.messages if m.channel == channel and m.thread_ts == ts and not m.deleted]

    def web_api(self, method: str, raw: bytes, authorization: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        """One Web API call: (HTTP status, JSON answer, headers)."""
        try:
            arguments: dict[str, Any] = (
                json.loads(raw) if raw.strip().startswith(b"{") else dict(parse_qsl(raw.decode()))
            )
        except ValueError:
            return 200, {"ok": False, "error": "invalid_json"}, {}
        with self._lock:
            self.api_calls.append((method, arguments))
            if authorization != f"Bearer {self.bot_token}":
                return 200, {"ok": False, "error": "invalid_auth"}, {}
            if self.fail_next > 0 or (self.failure_rate and self._random.random() < self.failure_rate):
                self.fail_next = max(0, self.fail_next - 1)
                status = self._random.choice(self.failure_statuses)
                if status == 429:
                    return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": self.injected_retry_after}
                return status, {"ok": False, "error": "internal_error" if status >= 500 else "invalid_arguments"}, {}
            channel = str(arguments.get("channel") or "")
            if not channel:
                return 200, {"ok": False, "error": "channel_not_found"}, {}
            if method == "chat.postMessage":
                return self._post(channel, arguments)
            found = next((m for m in self.messages if m.channel == channel and m.ts == arguments.get("ts")), None)
            if found is None or found.deleted:
                return 200, {"ok": False, "error": "message_not_found"}, {}
            if method == "chat.delete":
                found.deleted = True
                return 200, {"ok": True, "channel": channel, "ts": found.ts}, {}
            if method == "chat.update":
                body = _shown(arguments)
                if problem := payload_problem(body):
                    return 200, {"ok": False, "error": problem}, {}
                found.body, found.updates = body, found.updates + 1
                return 200, {"ok": True, "channel": channel, "ts": found.ts}, {}
            return 200, {"ok": False, "error": "unknown_method"}, {}

    def _post(self, channel: str, arguments: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        now = time.monotonic()
        last = self._last_accepted.get(f"channel:{channel}")
        if last is not None and now - last < 1.0 / self.messages_per_second:
            wait = 1.0 / self.messages_per_second - (now - last)
            return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(math.ceil(wait))}
        body = _shown(arguments)
        if problem := payload_problem(body):
            return 200, {"ok": False, "error": problem}, {}
        thread_ts = arguments.get("thread_ts")
        if thread_ts and not any(m.channel == channel and m.ts == thread_ts for m in self.messages):
            return 200, {"ok": False, "error": "thread_not_found"}, {}
        self._last_accepted[f"channel:{channel}"] = now
        message = ChannelMessage(channel, f"{int(time.time())}.{next(self._ts):06d}", body, thread_ts)
        self.messages.append(message)
        return 200, {"ok": True, "channel": channel, "ts": message.ts, "message": body}, {}

    def start(self) -> SlackSink:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def delivered(self, webhook: str | None = None) -> list[SinkRequest]:
        """Accepted messages (status 200), optionally for one webhook name."""
        return [r for r in self.requests if r.status == 200 and (webhook is None or r.webhook == webhook)]

    def answer(self, webhook: str, raw: bytes) -> tuple[int, str, dict[str, str]]:
        with self._lock:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            status, text, headers = self._decide(webhook, body)
            self.requests.append(SinkRequest(webhook, body, status, text))
            return status, text, headers

    def _decide(self, webhook: str, body: Any) -> tuple[int, str, dict[str, str]]:
        if body is None:
            return 400, "invalid_payload", {}
        if self.fail_next > 0 or (self.failure_rate and self._random.random() < self.failure_rate):
            self.fail_next = max(0, self.fail_next - 1)
            status = self._random.choice(self.failure_statuses)
            if status == 429:
                return 429, "rate_limited", {"Retry-After": self.injected_retry_after}
            return status, "internal_error" if status >= 500 else "invalid_payload", {}
        now = time.monotonic()
        interval = 1.0 / self.messages_per_second
        last = self._last_accepted.get(webhook)
        if last is not None and now - last < interval:
            wait = interval - (now - last)
            return 429, "rate_limited", {"Retry-After": str(math.ceil(wait))}
        problem = payload_problem(body)
        if problem:
            return 400, problem, {}
        self._last_accepted[webhook] = now
        return 200, "ok", {}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path.startswith("/api/"):
                    method = self.path[len("/api/") :].split("?", 1)[0]
                    code, answer, extra = sink.web_api(method, raw, self.headers.get("Authorization") or "")
                    self._reply(code, "application/json; charset=utf-8", json.dumps(answer), extra)
                elif self.path.startswith("/services/"):
                    status, text, headers = sink.answer(self.path[len("/services/") :], raw)
                    self._reply(status, "text/plain", text, headers)
                else:
                    self._reply(404, "text/plain", "no_service", {})

            def _reply(self, status: int, content_type: str, text: str, headers: dict[str, str] | None = None) -> None:
                payload = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
