"""Acknowledge one Slack request (a button click, or a `/harbormaster` slash command) within
Slack's 3 seconds.

Slack shows the user an error unless the endpoint answers HTTP 200 within 3 seconds, cold start
included. So this part only checks that the request really comes from Slack and queues it; the
click is carried out by the worker (`slack_click.perform`), which answers through `response_url`:

    X-Slack-Signature missing, wrong, or its timestamp > 5 min off   → 401, nothing queued
    not form-encoded block_actions JSON, or a malformed button value  → 400, nothing queued
    the same signed request seen before (a replay)                    → 409, nothing queued
    the "view execution" link button (Slack opened the page itself)   → 200, nothing queued
    any other click                                                   → 200 (empty), queued
    a slash command the worker does not know                          → 200, the usage (ephemeral)
    a slash command                                                   → 200 "working on it" (ephemeral), queued

Signatures are verified by slack_sdk's SignatureVerifier (HMAC-SHA256 over `v0:{ts}:{body}`,
constant-time compare). Refusals that concern the person who clicked (not an approver, already
decided, an unknown button) are the worker's: they reach that person as ephemeral messages.
"""

from __future__ import annotations

import hashlib
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError
from slack_sdk.signature import SignatureVerifier

from harbormaster import clock
from harbormaster.clients import client
from harbormaster.model import Model
from harbormaster.observability import logger
from harbormaster.state.store import conditional, items_table

REPLAY_MEMORY = timedelta(minutes=10)  # the signature is valid for 5
BUTTONS = frozenset({"approve", "reject", "rollback"})  # what our messages carry, with a ButtonValue
LINK_BUTTONS = frozenset({"view_execution"})  # Slack opens the URL; the click is only reported
COMMAND = "command"  # the action of a queued slash command (its text is the value)


class ButtonValue(Model):
    """The value of an approve / reject / rollback button, as `slack.formatting` writes it."""

    model_config = ConfigDict(extra="forbid")

    environment: str
    release_id: str


class QueuedClick(Model):
    """A verified click, as queued for the worker (the queue holds nothing else)."""

    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(min_length=64, max_length=64)  # sha256 of the signature: the idempotency key
    action_id: str
    value: str
    user: str
    response_url: str | None = None
    message: dict[str, Any] | None = None


class _User(Model):
    id: str = Field(pattern=r"^[UW][A-Z0-9]+$")


class _Action(Model):
    action_id: str
    value: str = ""


class BlockActions(Model):
    type: Literal["block_actions"]
    user: _User
    actions: list[_Action] = Field(min_length=1)
    response_url: str | None = None
    message: dict[str, Any] | None = None


@dataclass(frozen=True)
class Ack:
    """The HTTP answer to Slack: 200 with an empty body for every genuine click."""

    status: int
    text: str = ""


def acknowledge(headers: Mapping[str, str], body: str, signing_secret: str, queue_url: str) -> Ack:
    lowered = {k.lower(): v for k, v in headers.items()}
    timestamp, signature = lowered.get("x-slack-request-timestamp"), lowered.get("x-slack-signature")
    if not timestamp or not signature:
        return Ack(401, "missing Slack signature")
    try:
        valid = SignatureVerifier(signing_secret).is_valid(body=body, timestamp=timestamp, signature=signature)
    except ValueError:
        valid = False
    if not valid:
        logger.warning("refused a Slack request: bad or stale signature")
        return Ack(401, "invalid or stale Slack signature")
    try:
        form = urllib.parse.parse_qs(body, strict_parsing=True)
    except ValueError:
        return Ack(400, "malformed Slack payload")
    if "command" in form:
        return _command(form, signature, queue_url)
    try:
        payload = BlockActions.model_validate_json(form["payload"][0])
        action = payload.actions[0]
        if action.action_id in BUTTONS:
            ButtonValue.model_validate_json(action.value)
    except (KeyError, IndexError, ValueError, ValidationError):
        return Ack(400, "malformed Slack payload")
    request_id = hashlib.sha256(signature.encode()).hexdigest()
    if not _first_time(request_id):
        logger.warning("refused a replayed Slack request")
        return Ack(409, "this request was already handled")
    if action.action_id in LINK_BUTTONS:
        return Ack(200)
    click = QueuedClick(
        request_id=request_id,
        action_id=action.action_id,
        value=action.value,
        user=payload.user.id,
        response_url=payload.response_url,
        message=payload.message,
    )
    client("sqs").send_message(QueueUrl=queue_url, MessageBody=click.model_dump_json())
    logger.info("Slack click queued", extra={"action": action.action_id, "user": payload.user.id})
    return Ack(200)


class SlashCommand(Model):
    """The fields of a slash command request that Harbormaster uses (Slack sends more)."""

    command: str = Field(pattern=r"^/[a-z0-9_-]+$")
    text: str = Field(default="", max_length=4000)
    user_id: str = Field(pattern=r"^[UW][A-Z0-9]+$")
    response_url: str


def _command(form: dict[str, list[str]], signature: str, queue_url: str) -> Ack:
    from harbormaster.approval.slash import USAGE, known

    try:
        command = SlashCommand.model_validate({key: values[0] for key, values in form.items()}, strict=False)
    except ValidationError:
        return Ack(400, "malformed Slack slash command")
    if not known(command.text):
        return Ack(200, USAGE)
    request_id = hashlib.sha256(signature.encode()).hexdigest()
    if not _first_time(request_id):
        logger.warning("refused a replayed Slack request")
        return Ack(409, "this request was already handled")
    queued = QueuedClick(
        request_id=request_id,
        action_id=COMMAND,
        value=command.text,
        user=command.user_id,
        response_url=command.response_url,
    )
    client("sqs").send_message(QueueUrl=queue_url, MessageBody=queued.model_dump_json())
    logger.info("Slack command queued", extra={"command": command.text.split(" ", 1)[0], "user": command.user_id})
    return Ack(200, f"⏳ working on `{command.command} {command.text}`…")


def _first_time(request_id: str) -> bool:
    """Remember a verified request for 10 minutes (the signature window is 5) to refuse replays."""
    expires = int((clock.now() + REPLAY_MEMORY).timestamp())
    return conditional(
        lambda: items_table().put_item(
            Item={"pk": f"SLACKREQ#{request_id}", "sk": "SEEN", "expires_at": expires},
            ConditionExpression="attribute_not_exists(pk)",
        )
    )
