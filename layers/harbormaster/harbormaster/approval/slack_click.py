"""Carry out a queued Slack click (or slash command, `approval/slash.py`) and tell Slack what
happened, through its `response_url`.

    an action other than approve / reject / rollback   → told privately (ephemeral), nothing done
    a user who is not an approver of the environment   → told privately, nothing done
    otherwise                                          → the approval service decides

A decision replaces the original message (its buttons removed, who did what and when added); any
other answer goes only to the person who clicked. SQS delivers at least once: the click runs once
per request (Powertools idempotency on the request id), and a failure is raised so that the record
comes back, then lands in the DLQ.
"""

from __future__ import annotations

import functools
import os
import urllib.parse
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from slack_sdk.webhook import WebhookClient

from harbormaster.approval.service import Answer, approve, reject, rollback
from harbormaster.approval.slack_request import BUTTONS, COMMAND, ButtonValue, QueuedClick
from harbormaster.config import HarbormasterConfig
from harbormaster.observability import logger
from harbormaster.state.store import idempotency_records

RESPONSE_HOST_ENV = "HARBORMASTER_SLACK_RESPONSE_HOST"  # an extra host allowed for response_url (local engine)
IDEMPOTENCY = IdempotencyConfig(
    event_key_jmespath="request_id", raise_on_no_idempotency_key=True, expires_after_seconds=3600
)


def perform(click: QueuedClick, config: HarbormasterConfig, state_machine_arn: str, table_name: str) -> Answer:
    """Decide once per request; tell the person who clicked (or everyone, for a decision)."""
    once = _decide_once(table_name)
    answer = Answer(**once(click=click.model_dump(mode="json"), config=config, state_machine_arn=state_machine_arn))
    logger.info("Slack action", extra={"action": click.action_id, "user": click.user, "status": answer.status})
    _tell(click, answer)
    return answer


def _decide(click: dict[str, Any], config: HarbormasterConfig, state_machine_arn: str) -> dict[str, Any]:
    """The approval service's answer to one click (a dict, so that idempotency can keep it)."""
    queued = QueuedClick.model_validate(click)
    if queued.action_id == COMMAND:
        from harbormaster.approval import slash

        return asdict(slash.run(queued.value, queued.user, config, state_machine_arn))
    if queued.action_id not in BUTTONS:
        return asdict(Answer(400, f"this button ({queued.action_id}) is not one Harbormaster knows; nothing was done"))
    value = ButtonValue.model_validate_json(queued.value)
    user = queued.user
    if queued.action_id == "approve":
        answer = approve(config, value.environment, value.release_id, user, "slack")
    elif queued.action_id == "reject":
        answer = reject(config, value.environment, value.release_id, user, "rejected in Slack", "slack")
    else:
        answer = rollback(config, value.environment, value.release_id, user, state_machine_arn, "slack")
    return asdict(answer)


@functools.cache
def _decide_once(table_name: str) -> Callable[..., dict[str, Any]]:
    """`_decide`, idempotent on the click's request id, its records in `table_name`."""
    once: Callable[..., dict[str, Any]] = idempotent_function(
        data_keyword_argument="click",
        config=IDEMPOTENCY,
        persistence_store=idempotency_records(table_name, "slack-click"),
    )(_decide)
    return once


def _tell(click: QueuedClick, answer: Answer) -> None:
    """Update the original message (a decision) or answer the clicker alone (anything else)."""
    url = click.response_url
    if not url or not _allowed(url):
        return
    if click.action_id == COMMAND:  # what changed something is said in the channel, the rest privately
        body: dict[str, Any] = {"response_type": "in_channel" if answer.acted else "ephemeral", "text": answer.text}
    elif answer.acted:
        body = {"replace_original": True, **_decided(click.message, answer.text)}
    else:
        body = {"response_type": "ephemeral", "replace_original": False, "text": answer.text}
    response = WebhookClient(url, timeout=5).send_dict(body)
    if response.status_code != 200:
        logger.warning("Slack response_url refused the update", extra={"status": response.status_code})


def _decided(message: dict[str, Any] | None, text: str) -> dict[str, Any]:
    """The original message without its buttons, with who-did-what as a context line."""
    stamp = {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}
    if not message or not message.get("attachments"):
        return {"text": text, "blocks": [stamp]}
    attachments = []
    for attachment in message["attachments"]:
        blocks = [b for b in attachment.get("blocks", []) if b.get("type") != "actions"]
        attachments.append({**attachment, "blocks": [*blocks, stamp]})
    return {"text": message.get("text", text), "blocks": message.get("blocks") or [], "attachments": attachments}


def _allowed(url: str) -> bool:
    """Only Slack's own hosts (and, locally, the engine's sink): never post a signed user's data elsewhere."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "https" and parsed.hostname == "hooks.slack.com":
        return True
    extra = os.environ.get(RESPONSE_HOST_ENV)
    return bool(extra) and parsed.netloc == extra
