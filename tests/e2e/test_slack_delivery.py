"""Alerts to Slack through the local engine on the real template (issue: Slack alerts): a burst with
Slack failing often, nothing lost, nothing doubled, the rate per webhook respected; 4xx to the DLQ;
redrive."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from harbormaster.cli.main import main
from harbormaster.local import LocalEngine

pytestmark = pytest.mark.e2e
RATE = 100.0  # messages per second per webhook, on both sides (production: Slack's 1)
CONFIG = f"""
environments: {{}}
slack:
  routes:
    critical: {{webhook_secret: hm/slack/critical}}
    monitoring: {{webhook_secret: hm/slack/monitoring}}
  default_route: monitoring
  messages_per_second: {RATE}
  retry_backoff_seconds: 0.01
"""


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[LocalEngine]:
    path = tmp_path / "harbormaster.yaml"
    path.write_text(CONFIG)
    with LocalEngine(config=path, slack_messages_per_second=RATE) as started:
        yield started


def publish(engine: LocalEngine, alert_id: int, state: str = "ALARM") -> None:
    message = {"AlarmName": f"alarm-{alert_id:03d}", "NewStateValue": state, "NewStateReason": f"burst #{alert_id}"}
    boto3.client("sns").publish(
        TopicArn=engine.stack.outputs["AlertTopicArn"], Subject=f"alarm {alert_id}", Message=json.dumps(message)
    )


def dlq_bodies(engine: LocalEngine) -> list[dict[str, Any]]:
    """Every message in the DLQ, left there (visible again) for whoever reads next."""
    sqs = boto3.client("sqs")
    url = engine.stack.outputs["AlertDeadLetterQueueUrl"]
    seen: dict[str, Any] = {}
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages"):
        seen.update({m["MessageId"]: m for m in batch})
    for message in seen.values():
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    return [json.loads(m["Body"]) for m in seen.values()]


def alarm_names(bodies: list[Any]) -> list[str]:
    return [str(b["text"]).split(":")[0].split(" ", 1)[1] for b in bodies]


def test_a_burst_of_500_with_30_percent_failures_is_delivered_exactly_once(engine: LocalEngine) -> None:
    engine.slack.failure_rate = 0.3
    engine.slack.failure_statuses = (429, 500, 502, 503)
    engine.slack.injected_retry_after = "0"
    for alert_id in range(500):
        publish(engine, alert_id)
    # SNS delivers at least once: the same notifications arrive a second time.
    sqs = boto3.client("sqs")
    queue = engine.stack.outputs["AlertQueueUrl"]
    copies = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    for copy in copies:
        sqs.send_message(QueueUrl=queue, MessageBody=copy["Body"])
        sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=copy["ReceiptHandle"], VisibilityTimeout=0)
    engine.settle(timeout=300)

    accepted = engine.slack.delivered("critical")
    counts = Counter(alarm_names([r.body for r in accepted]))
    dead = {json.loads(b["Message"])["AlarmName"] for b in dlq_bodies(engine)}
    assert max(counts.values()) == 1, "an alert reached Slack twice"
    assert set(counts) | dead == {f"alarm-{i:03d}" for i in range(500)}, "an alert was lost"
    assert not set(counts) & dead
    injected = [r for r in engine.slack.requests if r.status != 200]
    assert len(injected) > 100  # the sink really failed ~30% of the requests
    # Never faster than the allowed rate: in any window of one second at most RATE accepted (+1 edge).
    times = sorted(r.at for r in engine.slack.requests if r.webhook == "critical")
    assert all(times[i + int(RATE) + 1] - times[i] >= 1.0 for i in range(len(times) - int(RATE) - 1))


def test_a_message_slack_refuses_goes_to_the_dlq_at_once_and_redrive_brings_it_back(
    engine: LocalEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    engine.slack.fail_next = 1
    engine.slack.failure_statuses = (404,)  # channel_not_found-like: retrying cannot help
    publish(engine, 1)
    engine.settle()

    assert [r.status for r in engine.slack.requests] == [404]  # one attempt, no retries
    [dead] = dlq_bodies(engine)
    assert json.loads(dead["Message"])["AlarmName"] == "alarm-001"
    # Redrive once the cause is fixed: delivered, and only once.
    assert main(["slack", "redrive"]) == 0
    assert "moved 1 message" in capsys.readouterr().out
    engine.settle()
    assert alarm_names([r.body for r in engine.slack.delivered("critical")]) == ["alarm-001"]


def test_ok_and_alarm_route_by_severity(engine: LocalEngine) -> None:
    publish(engine, 7, "ALARM")
    publish(engine, 8, "OK")
    engine.settle()
    assert alarm_names([r.body for r in engine.slack.delivered("critical")]) == ["alarm-007"]
    assert alarm_names([r.body for r in engine.slack.delivered("monitoring")]) == ["alarm-008"]


def test_a_route_mentions_who_it_names_on_its_severities_and_payload_mentions_stay_escaped(tmp_path: Path) -> None:
    config = CONFIG.replace(
        "critical: {webhook_secret: hm/slack/critical}",
        "critical: {webhook_secret: hm/slack/critical, mention: [here, S0123ONCALL], mention_on: [critical]}",
    )
    path = tmp_path / "harbormaster.yaml"
    path.write_text(config)
    with LocalEngine(config=path, slack_messages_per_second=RATE) as engine:
        sns = boto3.client("sns")
        alarm = {
            "AlarmName": "api-5xx",
            "NewStateValue": "ALARM",
            "NewStateReason": "<!channel> look",
            "OldStateValue": "OK",
        }
        sns.publish(TopicArn=engine.stack.outputs["AlertTopicArn"], Message=json.dumps(alarm))
        engine.settle()
        [posted] = engine.slack.delivered("critical")
        text = str(posted.body["text"])
        assert text.startswith("<!here> <!subteam^S0123ONCALL> ")
        body = json.dumps(posted.body)
        assert body.count("<!channel>") == 0 and "&lt;!channel&gt; look" in body  # the payload's stays escaped


def test_a_route_mentions_whom_it_is_told_to_on_critical_only_and_payload_mentions_stay_text(
    tmp_path: Path,
) -> None:
    path = tmp_path / "harbormaster.yaml"
    path.write_text(
        CONFIG.replace(
            "critical: {webhook_secret: hm/slack/critical}",
            "critical: {webhook_secret: hm/slack/critical, mention: [here, S0ONCALL]}",
        )
    )
    with LocalEngine(config=path, slack_messages_per_second=RATE) as engine:
        engine.publish_alert(
            {"AlarmName": "api <!channel>", "NewStateValue": "ALARM", "NewStateReason": "<@U123> broke it"}
        )
        engine.publish_alert({"AlarmName": "api <!channel>", "NewStateValue": "OK", "NewStateReason": "back"})
        alarm, resolved = (r.body for r in engine.slack.delivered())
    assert alarm["text"].startswith("<!here> <!subteam^S0ONCALL> 🔴 api &lt;!channel&gt;: ALARM")
    assert {"type": "mrkdwn", "text": "<!here> <!subteam^S0ONCALL>"} in [b.get("text") for b in alarm["blocks"]]
    mrkdwn = [b for b in [*alarm["blocks"], *alarm["attachments"][0]["blocks"]] if b["type"] != "header"]
    shown = json.dumps(mrkdwn, ensure_ascii=False)  # a header is plain_text: Slack never parses it
    assert "<!channel>" not in shown and "<@U123>" not in shown and "&lt;@U123&gt;" in shown
    assert "<!here>" not in json.dumps(resolved), "an OK is not critical: nobody is paged"
