"""One Slack interactivity request (a button click), end to end:

    X-Slack-Signature missing, wrong, or its timestamp > 5 min off   → 401, nothing done
    the same signed request seen before (a replay)                    → 409, nothing done
    not form-encoded block_actions JSON with our button value         → 400, nothing done
    an action other than approve / reject / rollback                  → 400, nothing done
    a user who is not an approver of the environment                  → 403, told so in Slack
    otherwise                                                         → the approval service decides

Signatures are verified by slack_sdk's SignatureVerifier (HMAC-SHA256 over `v0:{ts}:{body}`,
constant-time compare). The original message is updated through its response_url to say who did
what and when; other answers go only to the person who clicked (ephemeral).
"""

from __future__ import annotations

import hashlib
import os
import urllib.parse
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from harbormaster.approval.service import Answer, approve, reject, rollback
from harbormaster.config import HarbormasterConfig
from harbormaster.observability import logger
from harbormaster.state.store import conditional, items_table

RESPONSE_HOST_ENV = "HARBORMASTER_SLACK_RESPONSE_HOST"  # an extra host allowed for response_url (local engine)


class ButtonValue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    environment: str
    release_id: str


class _User(BaseModel):
    id: str = Field(pattern=r"^[UW][A-Z0-9]+$")


class _Action(BaseModel):
    action_id: str
    value: str = ""


class BlockActions(BaseModel):
    type: Literal["block_actions"]
    user: _User
    actions: list[_Action] = Field(min_length=1)
    response_url: str | None = None
    message: dict[str, Any] | None = None


def handle(
    headers: Mapping[str, str],
    body: str,
    signing_secret: str,
    config: HarbormasterConfig,
    state_machine_arn: str,
) -> Answer:
    lowered = {k.lower(): v for k, v in headers.items()}
    timestamp, signature = lowered.get("x-slack-request-timestamp"), lowered.get("x-slack-signature")
    if not timestamp or not signature:
        return Answer(401, "missing Slack signature")
    try:
        valid = SignatureVerifier(signing_secret).is_valid(body=body, timestamp=timestamp, signature=signature)
    except ValueError:
        valid = False
    if not valid:
        logger.warning("refused a Slack request: bad or stale signature")
        return Answer(401, "invalid or stale Slack signature")
    if not _first_time(signature):
        logger.warning("refused a replayed Slack request")
        return Answer(409, "this request was already handled")
    try:
        payload = BlockActions.model_validate_json(urllib.parse.parse_qs(body, strict_parsing=True)["payload"][0])
        action = payload.actions[0]
        value = ButtonValue.model_validate_json(action.value) if action.action_id in _ACTIONS else None
    except (KeyError, IndexError, ValueError, ValidationError):
        return Answer(400, "malformed Slack payload")
    if action.action_id == "view_execution":
        return Answer(200, "a link button: Slack opened the page")
    if value is None:
        return Answer(400, f"unknown action {action.action_id!r}")
    user = payload.user.id
    if action.action_id == "approve":
        answer = approve(config, value.environment, value.release_id, user, "slack")
    elif action.action_id == "reject":
        answer = reject(config, value.environment, value.release_id, user, "rejected in Slack", "slack")
    else:
        answer = rollback(config, value.environment, value.release_id, user, state_machine_arn, "slack")
    logger.info("Slack action", extra={"action": action.action_id, "user": user, "status": answer.status})
    _tell(payload, answer)
    return answer


_ACTIONS = {"approve", "reject", "rollback"}


def _first_time(signature: str) -> bool:
    """Remember a verified request for 10 minutes (the signature window is 5) to refuse replays."""
    digest = hashlib.sha256(signature.encode()).hexdigest()
    expires = int((datetime.now(UTC) + timedelta(minutes=10)).timestamp())
    return conditional(
        lambda: items_table().put_item(
            Item={"pk": f"SLACKREQ#{digest}", "sk": "SEEN", "expires_at": expires},
            ConditionExpression="attribute_not_exists(pk)",
        )
    )


def _tell(payload: BlockActions, answer: Answer) -> None:
    """Update the original message (a decision) or answer the clicker alone (anything else)."""
    url = payload.response_url
    if not url or not _allowed(url):
        return
    if answer.acted:
        body: dict[str, Any] = {"replace_original": True, **_decided(payload.message, answer.text)}
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
    return {"text": message.get("text", text), "attachments": attachments}


def _allowed(url: str) -> bool:
    """Only Slack's own hosts (and, locally, the engine's sink): never post a signed user's data elsewhere."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "https" and parsed.hostname == "hooks.slack.com":
        return True
    extra = os.environ.get(RESPONSE_HOST_ENV)
    return bool(extra) and parsed.netloc == extra
