"""Rendering gaps found side by side with the open-source peers, each on a real sample from
tests/fixtures/shared-events/ (changed only where the sample lacks the case: a state, a region)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harbormaster.slack import render
from harbormaster.slack.aws_formatters import console
from harbormaster.slack.inputs import notifications
from tests.conftest import DOC_SAMPLES, SAMPLES


def _sample(relative: str) -> dict[str, Any]:
    path = SAMPLES / relative if (SAMPLES / relative).exists() else DOC_SAMPLES / relative
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _render(data: Any) -> tuple[dict[str, Any], str | None]:
    [notification] = notifications(data)
    message, route = render(notification.subject, notification.message, notification.topic_arn)
    return message.body() | {"severity": message.severity}, route


def _texts(body: dict[str, Any]) -> list[str]:
    texts = []
    for block in [*body["blocks"], *(b for a in body["attachments"] for b in a["blocks"])]:
        if "text" in block:
            texts.append(block["text"]["text"])
        texts.extend(f["text"] for f in block.get("fields", []))
        texts.extend(e["text"] for e in block.get("elements", []) if "text" in e)
    return texts


def test_insufficient_data_is_labelled_as_such_and_not_as_resolved() -> None:
    data = _sample("slack-anchors/notify-slack/messages/cloudwatch_alarm.json")
    alarm = json.loads(data["Records"][0]["Sns"]["Message"])
    alarm.update(NewStateValue="INSUFFICIENT_DATA", OldStateValue="OK")
    data["Records"][0]["Sns"]["Message"] = json.dumps(alarm)

    body, _ = _render(data)

    assert "INSUFFICIENT_DATA" in body["text"] and "resolved" not in body["text"]
    assert body["severity"] == "warning"


def test_an_ecs_circuit_breaker_rollback_is_shown_as_a_failure() -> None:
    body, route = _render(_sample("aws/ecs-deployment-state-change-in-progress-rollback.json"))
    assert body["severity"] == "critical" and route == "critical"
    assert "circuit breaker rollback" in body["text"]
    # An ordinary deployment in progress stays information.
    assert _render(_sample("aws/ecs-deployment-state-change-in-progress.json"))[0]["severity"] == "info"


def test_triple_backticks_in_a_value_cannot_close_the_code_block() -> None:
    data = _sample("slack-anchors/notify-slack/messages/glue_notification.json")
    event = json.loads(data["Records"][0]["Sns"]["Message"])
    event["detail"]["message"] = "SystemExit: 1\n```\n<!channel> *bold*"
    data["Records"][0]["Sns"]["Message"] = json.dumps(event)

    body, _ = _render(data)

    [block] = [t for t in _texts(body) if t.startswith("```")]
    assert block.endswith("```") and block.count("```") == 2  # only its own fences
    assert "<!channel>" not in block and "&lt;!channel&gt;" in block


def test_a_json_message_with_neither_subject_nor_detail_type_gets_a_header_from_its_content() -> None:
    body, _ = _render(_sample("slack-anchors/aws-to-slack/generic_cognito_sync_trigger.raw.json"))
    [header] = [block["text"]["text"] for block in body["blocks"]]
    assert header == body["text"] == "SyncTrigger"  # its eventType, not "Notification"


def test_a_guardduty_malware_protection_scan_result_is_formatted() -> None:
    body, route = _render(
        _sample("slack-anchors/notify-slack/messages/guardduty_malware_protection_object_scan_result.json")
    )
    assert "THREATS_FOUND" in body["text"] and "EICAR-Test-File" in body["text"]
    assert body["severity"] == "critical" and route == "critical"
    texts = "\n".join(_texts(body))
    assert "s3://amzn-s3-demo-bucket/APKAEIBAERJR2EXAMPLE" in texts
    assert "https://us-east-1.console.aws.amazon.com/guardduty/home?region=us-east-1#/malware-protection" in texts


@pytest.mark.parametrize(
    ("sample", "page"),
    [
        ("slack-anchors/aws-to-slack/guardduty_finding_port_probe.sns.json", "guardduty/home"),
        ("slack-anchors/notify-slack/unmerged/pr198/events/securityhub_finding_low.json", "securityhub/home"),
        ("slack-anchors/notify-slack/unmerged/pr267/events/inspector_finding.json", "inspector/v2/home"),
        ("slack-anchors/notify-slack/events/aws_health_event.json", "health/home"),
        ("aws/ecs-deployment-state-change-failed.json", "ecs/v2/clusters/default/services/servicetest"),
        ("slack-anchors/notify-slack/messages/backup.json", "backup/home?region=us-west-1#/jobs"),
        ("rds-event-notification.sns.json", "rds/home?region=eu-west-1#dbinstance:id=dbinstanceid"),
        (
            "slack-anchors/notify-slack/messages/dms_notification.json",
            "dms/home?region=us-east-1#tasks:ids=hello-world",
        ),
        ("slack-anchors/aws-to-slack/codebuild_build_state_change_succeeded.sns.json", "codesuite/codebuild/projects/"),
        (
            "slack-anchors/aws-to-slack/codepipeline_pipeline_execution_started.eventbridge.json",
            "codepipeline/pipelines/",
        ),
        ("slack-anchors/aws-to-slack/codedeploy_deployment_state_success.eventbridge.json", "codedeploy/deployments/"),
    ],
)
def test_every_source_with_a_console_page_links_to_it(sample: str, page: str) -> None:
    notification = notifications(_sample(sample))[0]  # the first, where a sample holds several
    message, _ = render(notification.subject, notification.message, notification.topic_arn)
    links = [t for t in _texts(message.body()) if t.startswith("<https://")]
    assert len(links) == 1 and page in links[0], links


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("ap-northeast-2", "https://ap-northeast-2.console.aws.amazon.com/"),
        ("us-gov-west-1", "https://console.amazonaws-us-gov.com/"),
        ("cn-north-1", "https://console.amazonaws.cn/"),
    ],
)
def test_console_links_use_the_partitions_domain(region: str, host: str) -> None:
    data = _sample("aws/ecs-deployment-state-change-failed.json")
    data["region"] = region
    data["resources"] = [r.replace("us-west-2", region) for r in data["resources"]]
    body, _ = _render(data)
    [link] = [t for t in _texts(body) if t.startswith("<https://")]
    assert link.startswith(f"<{host}ecs/v2/clusters/default/services/servicetest/deployments?region={region}|")
    assert console("not a region", "ecs/v2") is None and console(None, "ecs/v2") is None


def test_an_alarm_without_its_arn_links_to_the_console_through_its_topics_region() -> None:
    """CloudWatch's SNS JSON names the region ("US (Virginia)") and, in older messages, has no
    AlarmArn: the topic it came through (an alarm publishes to a topic of its region) gives it."""
    data = _sample("slack-anchors/notify-slack/messages/cloudwatch_alarm.json")
    body, _ = _render(data)
    [link] = [t for t in _texts(body) if t.startswith("<https://")]
    assert link.startswith("<https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#alarmsV2:alarm/")

    data["Records"][0]["Sns"]["TopicArn"] = "arn:aws-cn:sns:cn-north-1:123456789012:alerts"
    body, _ = _render(data)
    assert [t for t in _texts(body) if t.startswith("<https://console.amazonaws.cn/cloudwatch/")]


def test_an_rds_event_subscription_message_is_formatted() -> None:
    body, route = _render(_sample("rds-event-notification.sns.json"))
    assert body["text"] == "🗄️ RDS db-instance dbinstanceid: Finished DB Instance backup"
    assert body["severity"] == "info" and route == "monitoring"
    texts = "\n".join(_texts(body))
    assert "RDS-EVENT-0002" in texts and "2019-01-02 12:45:06.000" in texts


@pytest.mark.parametrize(
    ("event_message", "severity"),
    [
        ("DB instance shutdown", "warning"),
        ("Multi-AZ instance failover started.", "warning"),
        ("The DB instance has a storage-full condition", "critical"),
        ("Backup of the DB instance failed", "critical"),
    ],
)
def test_an_rds_event_gets_its_severity_from_what_happened(event_message: str, severity: str) -> None:
    data = _sample("rds-event-notification.sns.json")
    event = json.loads(data["Records"][0]["Sns"]["Message"])
    event["Event Message"] = event_message
    data["Records"][0]["Sns"]["Message"] = json.dumps(event)
    body, _ = _render(data)
    assert body["severity"] == severity and event_message in body["text"]


def test_a_dms_event_subscription_message_is_formatted_like_rds() -> None:
    body, _ = _render(_sample("slack-anchors/notify-slack/messages/dms_notification.json"))
    assert body["text"] == "🟠 DMS replication-task hello-world: Replication task has stopped."
    assert "DMS-EVENT-0079" in "\n".join(_texts(body))


def test_the_first_message_of_an_rds_subscription_is_shown_as_such() -> None:
    data = _sample("rds-event-notification.sns.json")
    data["Records"][0]["Sns"]["Message"] = (
        "This is a message to notify that RDS will attempt to send you event notifications of type db-instance"
    )
    body, _ = _render(data)
    assert body["text"] == "🗄️ RDS Notification Message" and "attempt to send you" in "\n".join(_texts(body))


@pytest.mark.parametrize(
    "sample",
    [
        "aws/ecs-deployment-state-change-failed.json",
        "slack-anchors/notify-slack/messages/cloudwatch_alarm.json",
        "slack-anchors/notify-slack/messages/text_message.json",
        "slack-anchors/aws-to-slack/generic_cognito_sync_trigger.raw.json",
    ],
)
def test_the_title_is_shown_once(sample: str) -> None:
    """Slack shows a top-level `text` above the attachments unless the message has top-level
    blocks: the header goes there, so the title is not shown twice (the text stays the notification)."""
    for notification in notifications(_sample(sample)):
        body = render(notification.subject, notification.message, notification.topic_arn)[0].body()
        [header] = body["blocks"]
        assert header["type"] == "header" and body["text"].startswith(header["text"]["text"][:40])
        below = [block for attachment in body["attachments"] for block in attachment["blocks"]]
        assert all(block["type"] != "header" for block in below)
        assert header["text"]["text"] not in _texts({"blocks": below, "attachments": []})
