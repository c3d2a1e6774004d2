"""Bot mode (issue 17): with the app's bot token and channel routes, a deploy is one message updated
in place, a failure's reason goes into its thread, an alarm's recovery is a reply under it, and a
burst loses nothing and posts nothing twice. Through the engine, whose Slack answers the Web API."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest

from harbormaster.notify.events import HarbormasterEvent, ImageRef
from harbormaster.slack import conversation
from harbormaster.slack.bot import BotChannel
from harbormaster.slack.formatting import render
from tests.e2e.deploy_world import REPO, World, start_world

pytestmark = pytest.mark.e2e
DEPLOYS, CRITICAL = "C0DEPLOYS1", "C0CRITICAL"
RATE = 100.0
CONFIG = f"""
environments:
  api-prod:
    repository: tpt-api-prod
    tags: ["v*"]
    target: {{type: ec2, target_group_name: api-prod-tg}}
    container: {{name: app, port: 8080, health_path: /actuator/health}}
    rollout: {{batch: 1, min_healthy: 50%, drain_seconds: 0, poll_seconds: 0, health_timeout_seconds: 2}}
slack:
  bot_token_secret: hm/slack/bot-token
  routes:
    critical: {{channel: {CRITICAL}}}
    deployments: {{channel: {DEPLOYS}}}
  default_route: deployments
  messages_per_second: {RATE}
  retry_backoff_seconds: 0.01
"""


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    started = start_world(tmp_path, CONFIG, size=3)  # batch 1: three batches
    started.engine.slack.messages_per_second = RATE
    yield started
    started.engine.stop()


def texts(messages: list[Any]) -> list[str]:
    return [str(m.body["text"]) for m in messages]


def test_a_three_batch_deploy_is_one_message_updated_in_place(world: World) -> None:
    world.engine.push_image(REPO, "v2")
    [message] = world.engine.slack.channel(DEPLOYS)
    assert message.body["text"].startswith("✅ Deploy succeeded — api-prod")
    posts = [a for m, a in world.engine.slack.api_calls if m == "chat.postMessage"]
    assert len(posts) == 1 and not world.engine.slack.channel(CRITICAL)
    assert posts[0]["text"].startswith("🚀 Deploy started")
    updates = [a for m, a in world.engine.slack.api_calls if m == "chat.update"]
    assert all(a["ts"] == message.ts for a in updates) and message.updates == len(updates)
    # Each batch's end moves the bar on (of two delivered out of order, the later batch stays),
    # then the outcome ends it.
    *progress, outcome = updates
    assert outcome["text"].startswith("✅ Deploy succeeded — api-prod")
    shown = [
        re.findall(r"batch (\d)/3 · (\d)/3 instances", json.dumps(a["attachments"], ensure_ascii=False))
        for a in progress
    ]
    assert progress and all(a["text"].startswith("🚀 Deploying — api-prod") for a in progress)
    batches = [int(batch) for [(batch, done)] in shown if batch == done]  # batch n of 1 instance each: n done
    assert len(batches) == len(progress) and batches == sorted(set(batches))
    assert not world.engine.slack.requests, "no webhook in bot mode"


def test_a_failed_deploy_ends_failed_with_its_reason_in_the_thread_and_tells_critical(world: World) -> None:
    world.engine.push_image(REPO, "v2")
    v3 = "sha256:" + "3" * 64
    world.engine.fleet.bad_image(world.image(v3))
    world.engine.push_image(REPO, "v3", digest=v3)
    first, failed = world.engine.slack.channel(DEPLOYS)
    assert first.body["text"].startswith("✅ Deploy succeeded") and failed.body["text"].startswith("❌ Deploy failed")
    [reply] = world.engine.slack.thread(DEPLOYS, failed.ts)
    reason = json.dumps(reply.body)
    assert "Why it failed" in reason and "did not become healthy" in reason
    [alert] = world.engine.slack.channel(CRITICAL)
    assert alert.body["text"].startswith("❌ Deploy failed — api-prod")


def alarm(state: str, name: str = "api-prod-5xx") -> dict[str, Any]:
    return {
        "AlarmName": name,
        "AlarmArn": f"arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:{name}",
        "NewStateValue": state,
        "OldStateValue": "OK" if state == "ALARM" else "ALARM",
        "NewStateReason": f"went {state}",
        "StateChangeTime": "2026-12-04T11:00:00.000+0000",
    }


def test_an_alarm_then_ok_is_one_message_and_one_reply_and_the_message_says_resolved(world: World) -> None:
    world.engine.publish_alert(alarm("ALARM"))
    world.engine.publish_alert(alarm("OK"))
    [parent] = world.engine.slack.channel(CRITICAL)
    assert parent.body["text"].startswith("✅ Resolved:") and parent.updates == 1
    [reply] = world.engine.slack.thread(CRITICAL, parent.ts)
    assert "OK" in reply.body["text"]
    assert not world.engine.slack.channel(DEPLOYS), "the OK is a reply, not a message of its own"
    world.engine.publish_alert(alarm("ALARM"))  # a new episode: a new message
    assert len(world.engine.slack.channel(CRITICAL)) == 2


def _event(kind: str, severity: str = "info", **details: Any) -> str:
    image = ImageRef(repository=REPO, tag="v9", digest="sha256:" + "9" * 64)
    event = HarbormasterEvent(
        type=kind,
        severity=severity,  # type: ignore[arg-type]
        environment="api-prod",
        release_id="r9",
        image=image,
        details=details,
    )
    return event.model_dump_json()


def _channel(world: World, channel: str) -> BotChannel:
    return BotChannel(world.engine.slack.bot_token, channel, per_second=RATE, backoff_seconds=0.01)


@contextmanager
def _table(world: World) -> Iterator[None]:
    """The stack's table, for calls made here rather than by a Lambda of the engine."""
    with mock.patch.dict(os.environ, {"TABLE_NAME": world.engine.stack.outputs["TableName"]}):
        yield


def test_a_late_event_never_puts_an_earlier_state_back(world: World) -> None:
    progress = {"batches": 3, "instances_done": 2, "instances_total": 3}
    delivered = [  # as SQS delivered them: out of order
        _event("deploy.progress", batch=2, **progress),
        _event("deploy.started"),
        _event("deploy.progress", batch=1, **progress),
        _event("deploy.succeeded", "success"),
        _event("deploy.progress", batch=3, **progress),
    ]
    with _table(world):
        for text in delivered:
            conversation.converse(text, render(None, text)[0], _channel(world, DEPLOYS))
    [message] = world.engine.slack.channel(DEPLOYS)
    assert message.body["text"].startswith("✅ Deploy succeeded") and message.updates == 1


def test_progress_is_not_posted_through_a_webhook(tmp_path: Path) -> None:
    """A webhook cannot update the release's message: a message per batch would flood the channel."""
    config = CONFIG.replace("  bot_token_secret: hm/slack/bot-token\n", "")
    for name, channel in (("deployments", DEPLOYS), ("critical", CRITICAL)):
        config = config.replace(f"channel: {channel}", f"webhook_secret: hm/slack/{name}")
    started = start_world(tmp_path, config, size=3)
    try:
        started.engine.push_image(REPO, "v2")
        texts = [str(r.body["text"]) for r in started.engine.slack.delivered()]
        assert [t.split(" — ")[0] for t in texts] == ["🚀 Deploy started", "✅ Deploy succeeded"]
    finally:
        started.engine.stop()


def test_two_forwarders_racing_on_a_releases_first_message_leave_one(world: World) -> None:
    """Forwarder A posts deploy.started; before it claims the release, forwarder B delivers
    deploy.succeeded entirely (posts and claims). A then finds the key claimed: it deletes its own
    message, and its earlier state does not overwrite B's."""
    started, succeeded = _event("deploy.started"), _event("deploy.succeeded", "success")
    channel = _channel(world, DEPLOYS)
    post = BotChannel.post

    def a_posts_then_b_runs(self: BotChannel, message: Any, thread_ts: str | None = None) -> str:
        ts = post(self, message, thread_ts)
        if message.body()["text"].startswith("🚀"):  # A's post: B runs now, before A claims
            with mock.patch.object(BotChannel, "post", post):
                conversation.converse(succeeded, render(None, succeeded)[0], _channel(world, DEPLOYS))
        return ts

    with _table(world), mock.patch.object(BotChannel, "post", a_posts_then_b_runs):
        conversation.converse(started, render(None, started)[0], channel)
    [message] = world.engine.slack.channel(DEPLOYS)
    assert message.body["text"].startswith("✅ Deploy succeeded")
    deleted = [m for m in world.engine.slack.messages if m.deleted]
    assert len(deleted) == 1 and deleted[0].body["text"].startswith("🚀 Deploy started")


def test_a_burst_of_300_with_failures_is_posted_exactly_once(world: World) -> None:
    world.engine.slack.failure_rate = 0.3
    world.engine.slack.failure_statuses = (429, 500, 503)
    world.engine.slack.injected_retry_after = "0"
    sns = boto3.client("sns")
    for n in range(300):
        sns.publish(
            TopicArn=world.engine.stack.outputs["AlertTopicArn"], Message=json.dumps(alarm("ALARM", f"burst-{n:03d}"))
        )
    world.engine.settle(timeout=300)
    counts = Counter(t.split(":")[0].split(" ", 1)[1] for t in texts(world.engine.slack.channel(CRITICAL)))
    assert set(counts) == {f"burst-{n:03d}" for n in range(300)} and max(counts.values()) == 1
    assert len([m for m in world.engine.slack.messages if m.thread_ts]) == 0
    failed = [a for m, a in world.engine.slack.api_calls if m == "chat.postMessage"][300:]
    assert len(failed) > 50, "the sink really failed ~30% of the posts, which were retried"
