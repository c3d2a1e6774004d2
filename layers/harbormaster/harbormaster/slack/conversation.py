"""Bot mode: one Slack message per deploy, updated in place as it moves; an alarm's recovery
replied under the alarm. Webhooks cannot do either (they only post), so this is for routes with a
`channel` and the app's bot token.

    deploy.* / rollback.* of a release   the first event posts the release's message; each later one
                                         updates it in place (queued → started → batch 1/n … → outcome),
                                         never back to an earlier state; a failure's reason goes into
                                         its thread.
                                         An event routed to another channel (a failure to #critical)
                                         is also posted there.
    CloudWatch alarm: ALARM              a new message (or, while it is in ALARM already, a reply)
    CloudWatch alarm: OK / INSUFFICIENT  a reply under the ALARM, whose message is edited to say it
                                         resolved
    anything else                        posted, as with a webhook

Two forwarders can race on a release's first message: the one that cannot claim the key
(state/slack_threads.py) deletes the message it just posted and updates the winner's instead.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from harbormaster import clock
from harbormaster.slack.bot import BotChannel
from harbormaster.slack.message import COLOURS, MAX_BLOCKS, SlackMessage, code_block, context, escape, section
from harbormaster.state.slack_threads import SlackThreads, Thread

# How far along a release's story a state is: a message never moves back. Progress after batch n
# ranks PROGRESS + n, between started and the outcomes.
PROGRESS = 2
_OUTCOME = 1 << 40
RANKS = {
    "queued": 1,
    "started": PROGRESS,
    "progress": PROGRESS,
    "diverged": _OUTCOME,
    "succeeded": _OUTCOME + 1,
    "failed": _OUTCOME + 1,
    "skipped": _OUTCOME + 1,
    "rejected": _OUTCOME + 1,
}
FAILED = {"failed", "diverged"}
ALARM_STATES = {"ALARM": "alarm", "OK": "resolved", "INSUFFICIENT_DATA": "resolved"}


def converse(message_text: str, message: SlackMessage, channel: BotChannel) -> str:
    """Deliver `message` (rendered from `message_text`) to `channel` (its route's) in bot mode;
    what was done, for the log."""
    payload = _json(message_text)
    now = clock.now()
    if (release := _release(payload)) is not None:
        key, stage, rank = release
        return _deploy(key, stage, rank, payload, message, channel, now)
    if (alarm := _alarm(payload)) is not None:
        key, state = alarm
        return _alarm_message(key, state, message, channel, now)
    channel.post(message)
    return "posted"


def _deploy(
    key: str, stage: str, rank: int, payload: dict[str, Any], message: SlackMessage, channel: BotChannel, now: datetime
) -> str:
    threads = SlackThreads()
    body = message.body()
    thread = threads.get(key)
    if thread is None:
        ts = channel.post(message)
        if threads.claim(key, Thread(channel=channel.channel, ts=ts, rank=rank, body=body, state=stage), now):
            _details(payload, stage, message, channel, ts)
            return "posted the release's message"
        channel.delete(ts)  # another forwarder posted the release's message first
        thread = threads.get(key)
        if thread is None:  # pragma: no cover - a claimed key is never deleted
            raise RuntimeError(f"{key} was claimed and is gone")
    home = channel if thread.channel == channel.channel else _same_token(channel, thread.channel)
    if threads.advance(key, rank, body, stage):
        home.update(thread.ts, body)
        _converge(threads, key, home, rank)
        done = "updated the release's message"
    else:
        done = "kept the release's message (it shows a later state)"
    _details(payload, stage, message, home, thread.ts)
    if home is not channel:  # the event's own route names another channel: it is told there too
        channel.post(message)
        done += f"; also posted to {channel.channel}"
    return done


def _converge(threads: SlackThreads, key: str, home: BotChannel, rank: int) -> None:
    """An update that lost a race to a later state (its chat.update landed last) puts that state back."""
    latest = threads.get(key)
    if latest is not None and latest.rank > rank:
        home.update(latest.ts, latest.body)


def _details(payload: dict[str, Any], stage: str, message: SlackMessage, channel: BotChannel, ts: str) -> None:
    """A failure's reason, in the release message's thread."""
    reason = payload.get("reason")
    if stage not in FAILED or not reason:
        return
    phase = payload.get("phase") or "?"
    reply = SlackMessage.build(
        f"Why it {stage} ({phase})",
        message.severity,
        [section(f"*Why it {stage}* (phase {escape(str(phase))})\n{code_block(str(reason))}")],
    )
    channel.post(reply, thread_ts=ts)


def _alarm_message(key: str, state: str, message: SlackMessage, channel: BotChannel, now: datetime) -> str:
    threads = SlackThreads()
    thread = threads.get(key)
    if state == "alarm":
        if thread is not None and thread.state == "alarm":
            channel.post(message, thread_ts=thread.ts)  # still in ALARM: a reply, not a new message
            return "replied to the alarm's message"
        ts = channel.post(message)
        new = Thread(
            channel=channel.channel, ts=ts, rank=(thread.rank + 1) if thread else 1, body=message.body(), state=state
        )
        if not threads.claim(key, new, now, replace_state="resolved"):
            return "posted (another ALARM message is kept for the thread)"
        return "posted the alarm's message"
    if thread is None or thread.state != "alarm":
        channel.post(message)
        return "posted"
    home = channel if thread.channel == channel.channel else _same_token(channel, thread.channel)
    home.post(message, thread_ts=thread.ts)
    resolved = _resolved(thread.body, message, now)
    if threads.advance(key, thread.rank + 1, resolved, "resolved"):
        home.update(thread.ts, resolved)
    return "replied under the alarm and marked it resolved"


def _resolved(body: dict[str, Any], message: SlackMessage, now: datetime) -> dict[str, Any]:
    """The ALARM message, edited: green, and a line saying when and how it resolved."""
    [attachment] = body.get("attachments") or [{"blocks": []}]
    note = context(f"✅ Resolved at {now:%Y-%m-%d %H:%M:%S} UTC — {escape(message.text)}")
    top = list(body.get("blocks") or [])
    return {
        "text": f"✅ Resolved: {body.get('text', '')}",
        "blocks": top,
        "attachments": [
            {
                **attachment,
                "color": COLOURS["success"],
                "blocks": [note, *attachment.get("blocks", [])][: MAX_BLOCKS - len(top)],
            }
        ],
    }


def _same_token(channel: BotChannel, other: str) -> BotChannel:
    return BotChannel(str(channel.client.token), other, channel.per_second)


def _json(text: str) -> dict[str, Any]:
    try:
        payload = json.loads(text)
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _release(payload: dict[str, Any]) -> tuple[str, str, int] | None:
    """The release's key, the event's stage and its rank; None for anything else."""
    kind, _, stage = str(payload.get("type") or "").partition(".")
    if payload.get("source") != "harbormaster" or kind not in {"deploy", "rollback"} or stage not in RANKS:
        return None
    if not payload.get("environment") or not payload.get("release_id"):
        return None
    rank = RANKS[stage]
    if stage == "progress":
        batch = (payload.get("details") or {}).get("batch")
        if not isinstance(batch, int) or batch < 1:
            return None
        rank += batch
    return f"release:{payload['environment']}:{payload['release_id']}", stage, rank


def _alarm(payload: dict[str, Any]) -> tuple[str, str] | None:
    if "AlarmName" in payload and payload.get("NewStateValue") in ALARM_STATES:
        return f"alarm:{payload.get('AlarmArn') or payload['AlarmName']}", ALARM_STATES[payload["NewStateValue"]]
    detail = payload.get("detail") or {}
    if payload.get("detail-type") == "CloudWatch Alarm State Change" and "alarmName" in detail:
        state = str((detail.get("state") or {}).get("value"))
        if state in ALARM_STATES:
            arn = (payload.get("resources") or [None])[0]
            return f"alarm:{arn or detail['alarmName']}", ALARM_STATES[state]
    return None
