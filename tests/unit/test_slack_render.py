"""Every shared sample renders to a valid Slack payload with its key facts; snapshots of the main
types; escaping; and the `harbormaster slack render` contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harbormaster.cli.main import main
from harbormaster.slack import render
from harbormaster.slack.inputs import notifications
from harbormaster.slack.message import MAX_BLOCKS, MAX_FIELD_TEXT, MAX_FIELDS, MAX_HEADER_TEXT, MAX_SECTION_TEXT
from tests.conftest import DOC_SAMPLES, SAMPLES

SNAPSHOTS = Path(__file__).parent.parent / "snapshots"
ALL_SAMPLES = sorted([*SAMPLES.rglob("*.json"), *DOC_SAMPLES.rglob("*.json")])


def _name(path: Path) -> str:
    return str(path.relative_to(SAMPLES if path.is_relative_to(SAMPLES) else DOC_SAMPLES))


# Facts that must appear in the rendered message of these samples (path relative to SAMPLES).
KEY_FACTS: dict[str, list[str]] = {
    "aws/cloudwatch-alarm-state-change-single-metric.json": ["ServerCpuTooHigh", "ALARM"],
    "aws/cloudwatch-alarm-state-change-metric-math.json": ["TotalNetworkTrafficTooHigh", "ALARM", "SUM(METRICS())"],
    "aws/cloudwatch-alarm-state-change-anomaly-detection.json": ["ALARM", "ANOMALY_DETECTION_BAND"],
    "aws/cloudwatch-alarm-state-change-composite-with-suppressor.json": ["ALARM", "ALARM("],
    "slack-anchors/notify-slack/events/cloudwatch_alarm.json": ["Example", "ALARM", "Threshold Crossed"],
    "slack-anchors/notify-slack/messages/cloudwatch_alarm.json": ["DBMigrationRequired", "resolved (OK)"],
    "slack-anchors/notify-slack/events/guardduty_finding_high.json": ["GuardDuty", "High"],
    "slack-anchors/notify-slack/events/guardduty_finding_medium.json": ["GuardDuty", "Medium"],
    "slack-anchors/notify-slack/events/guardduty_finding_low.json": ["GuardDuty", "Low"],
    "slack-anchors/aws-to-slack/guardduty_finding_port_probe.sns.json": ["GuardDuty", "PortProbeUnprotectedPort"],
    "slack-anchors/notify-slack/events/aws_health_event.json": ["AWS Health"],
    "slack-anchors/aws-to-slack/aws_health_acm_renewal_failed.sns.json": ["AWS Health", "ACM"],
    "slack-anchors/notify-slack/unmerged/pr198/events/securityhub_finding_no_id_high.json": ["Security Hub", "HIGH"],
    "slack-anchors/notify-slack/unmerged/pr267/events/inspector_finding.json": ["Inspector"],
    "slack-anchors/notify-slack/unmerged/pr267/events/inspector_scan.json": ["Inspector scan"],
    "aws/inspector2-scan-initial-scan-complete-enhanced.json": ["Inspector scan"],
    "aws/ecs-deployment-state-change-failed.json": ["SERVICE_DEPLOYMENT_FAILED"],
    "aws/ecs-deployment-state-change-completed.json": ["SERVICE_DEPLOYMENT_COMPLETED"],
    "slack-anchors/notify-slack/messages/backup.json": ["AWS Backup"],
    "slack-anchors/notify-slack/messages/dms_notification.json": ["DMS", "hello-world", "stopped"],
    "rds-event-notification.sns.json": ["RDS", "dbinstanceid", "Finished DB Instance backup"],
    "slack-anchors/aws-to-slack/codebuild_build_state_change_succeeded.sns.json": ["CodeBuild", "SUCCEEDED"],
    "slack-anchors/aws-to-slack/codepipeline_pipeline_execution_started.eventbridge.json": ["CodePipeline", "STARTED"],
    "slack-anchors/aws-to-slack/codedeploy_deployment_state_success.eventbridge.json": ["CodeDeploy", "SUCCESS"],
    "slack-anchors/aws-to-slack/codepipeline_manual_approval_request.sns.json": ["Approval needed"],
    "slack-anchors/aws-to-slack/cloudformation_stack_update_in_progress.sns.json": [
        "CloudFormation",
        "UPDATE_IN_PROGRESS",
    ],
    "slack-anchors/notify-slack/messages/text_message.json": ["All Fine", "typical multi-line"],
    "slack-anchors/aws-to-slack/generic_plain_text.sns.json": ["foo"],
    "slack-anchors/aws-to-slack/generic_cognito_sync_trigger.raw.json": ["datasetName"],
}


def rendered(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text())
    return [render(n.subject, n.message)[0].body() for n in notifications(data)]


def check_limits(body: dict[str, Any]) -> None:
    assert body["text"] and len(json.dumps(body, ensure_ascii=False)) < 40_000
    for attachment in body.get("attachments", []):
        blocks = attachment["blocks"]
        assert 0 < len(blocks) <= MAX_BLOCKS
        for block in blocks:
            if block["type"] == "header":
                assert len(block["text"]["text"]) <= MAX_HEADER_TEXT
            if block["type"] == "section" and "text" in block:
                assert len(block["text"]["text"]) <= MAX_SECTION_TEXT
            if "fields" in block:
                assert len(block["fields"]) <= MAX_FIELDS
                assert all(len(f["text"]) <= MAX_FIELD_TEXT for f in block["fields"])


@pytest.mark.parametrize("path", ALL_SAMPLES, ids=[_name(p) for p in ALL_SAMPLES])
def test_every_shared_sample_renders_within_slack_limits(path: Path) -> None:
    bodies = rendered(path)
    assert bodies
    for body in bodies:
        check_limits(body)
    text = json.dumps(bodies, ensure_ascii=False)
    for fact in KEY_FACTS.get(_name(path), []):
        assert fact in text, f"{fact!r} missing from {path.name}"


def test_every_key_fact_entry_names_a_sample() -> None:
    assert {_name(p) for p in ALL_SAMPLES} >= set(KEY_FACTS)


SNAPSHOT_CASES = {
    "alarm-sns": "slack-anchors/notify-slack/messages/cloudwatch_alarm.json",
    "alarm-eventbridge-metric-math": "aws/cloudwatch-alarm-state-change-metric-math.json",
    "guardduty": "slack-anchors/aws-to-slack/guardduty_finding_port_probe.sns.json",
    "security-hub": "slack-anchors/notify-slack/unmerged/pr198/events/securityhub_finding_no_id_high.json",
    "ecs-deployment-failed": "aws/ecs-deployment-state-change-failed.json",
    "text": "slack-anchors/notify-slack/messages/text_message.json",
}


@pytest.mark.parametrize(("name", "sample"), SNAPSHOT_CASES.items(), ids=list(SNAPSHOT_CASES))
def test_snapshots_of_the_main_types(name: str, sample: str) -> None:
    expected = json.loads((SNAPSHOTS / f"{name}.json").read_text())
    assert rendered(SAMPLES / sample) == expected


def mrkdwn_texts(body: dict[str, Any]) -> list[str]:
    texts = [body["text"]]
    for blocks in [body["blocks"], *(attachment["blocks"] for attachment in body["attachments"])]:
        for block in blocks:
            if block.get("text", {}).get("type") == "mrkdwn":
                texts.append(block["text"]["text"])
            texts += [f["text"] for f in block.get("fields", [])]
            texts += [e["text"] for e in block.get("elements", []) if e.get("type") == "mrkdwn"]
    return texts


def test_alarm_text_cannot_inject_links_or_mentions() -> None:
    alarm = {
        "AlarmName": "api <!channel>",
        "NewStateValue": "ALARM",
        "NewStateReason": "see <https://evil.example|the fix> & <@U123>",
        "AlarmDescription": "한국어 설명 그대로 — 알람",
    }
    message = render(None, json.dumps(alarm))[0].body()
    body = json.dumps(mrkdwn_texts(message), ensure_ascii=False)  # header blocks are plain_text: never parsed
    assert "<!channel>" not in body and "<https://evil" not in body and "<@U123>" not in body
    assert "&lt;!channel&gt;" in body and "&amp;" in body
    assert "한국어 설명 그대로 — 알람" in body


def test_long_and_huge_payloads_are_cut_cleanly() -> None:
    huge = {"detail-type": "Something", "source": "x", "detail": {"blob": "가" * 100_000}}
    body = render("s" * 500, json.dumps(huge))[0].body()
    check_limits(body)
    assert "…" in json.dumps(body, ensure_ascii=False)


@pytest.mark.parametrize("content", ["42", "[]", '"just text"', "null", '{"Records": []}', '{"Records": [1, 2]}'])
def test_render_prints_one_body_per_line_for_any_json(
    tmp_path: Path, content: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "x.json"
    path.write_text(content)
    assert main(["slack", "render", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and "attachments" in json.loads(lines[0])


def test_render_prints_one_line_per_sns_record(capsys: pytest.CaptureFixture[str]) -> None:
    sample = SAMPLES / "slack-anchors/notify-slack/messages/cloudwatch_alarm.json"
    data = json.loads(sample.read_text())
    data["Records"] = data["Records"] * 3
    path = sample.parent / "never-written.json"
    assert not path.exists()
    sqs = {"Records": [{"messageId": "m1", "body": json.dumps({"Type": "Notification", **data["Records"][0]["Sns"]})}]}
    for payload, count in ((data, 3), (sqs, 1)):
        target = Path(pytest.importorskip("tempfile").mkdtemp()) / "in.json"
        target.write_text(json.dumps(payload))
        assert main(["slack", "render", str(target)]) == 0
        assert len(capsys.readouterr().out.splitlines()) == count


@pytest.mark.parametrize(("content", "message"), [(None, "cannot read"), ("{not json", "is not JSON")])
def test_render_exits_2_for_a_missing_or_non_json_file(
    tmp_path: Path, content: str | None, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "in.json"
    if content is not None:
        path.write_text(content)
    assert main(["slack", "render", str(path)]) == 2
    assert message in capsys.readouterr().err
