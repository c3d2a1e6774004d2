"""Approve deploys and trigger rollbacks from Slack, through the local engine on the real template
(issue: Slack buttons). Clicks are signed the way Slack signs them, with the app's signing secret."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from harbormaster.cli.main import main
from harbormaster.clients import RETRY_CONFIG
from harbormaster.local import slack_clicks
from tests.conftest import wait_for
from tests.e2e.deploy_world import ENV, REPO, World, config, history, start_world

pytestmark = pytest.mark.e2e
APPROVER, OTHER, SECOND = "U01ABC", "U09NOPE", "U02DEF"
GATED = (
    config()
    .replace(
        "    container: {name: app",
        f"    approval: {{required: true, approvers: [{APPROVER}, {SECOND}], timeout: TIMEOUT}}\n"
        "    container: {name: app",
    )
    .replace("  default_route: deployments", "  default_route: deployments\n  signing_secret: hm/slack/signing")
)


def gated(timeout: str = "1h") -> str:
    return GATED.replace("TIMEOUT", timeout)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    started = start_world(tmp_path, config=gated())
    yield started
    started.engine.stop()


def waiting(world: World, tag: str = "v2") -> tuple[str, str]:
    """Push `tag`; return (digest, release id) once its deploy waits at the gate."""
    digest, _ = world.engine.push_image(REPO, tag, wait=False)
    found: list[Any] = []

    def requested() -> bool:
        world.engine.deliver_queued()
        found[:] = [
            m
            for m in world.engine.slack.delivered()
            if "Approval needed" in m.body["text"] and f":{tag} (" in m.body["text"]
        ]
        return bool(found)

    wait_for(requested, what="an approval request reaching Slack")
    value = _buttons(found[-1].body)["approve"]["value"]
    return digest, json.loads(value)["release_id"]


def _buttons(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    everything = list(body.get("blocks", [])) + [b for a in body.get("attachments", []) for b in a["blocks"]]
    blocks = [b for b in everything if b["type"] == "actions"]
    return {e["action_id"]: e for block in blocks for e in block["elements"]}


def deploy_status(world: World) -> str:
    [execution] = [e for e in world.engine.executions() if e.name.startswith(ENV)]
    return execution.status


def value(release_id: str) -> dict[str, str]:
    return {"environment": ENV, "release_id": release_id}


def test_a_prod_deploy_waits_for_approval_and_a_signed_approval_lets_it_proceed(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    digest, release_id = waiting(world)
    request = next(m for m in world.engine.slack.delivered() if "Approval needed" in m.body["text"])
    text = json.dumps(request.body)
    assert "task_token" not in text and "Approve" in text and "Reject" in text and f"<@{APPROVER}>" in text
    assert deploy_status(world) == "RUNNING" and set(world.images().values()) == {"v1"}

    status, answer, _ = world.engine.click("approve", value(release_id), APPROVER, message=request.body)
    assert status == 200 and answer.startswith(f"✅ Approved by <@{APPROVER}>")
    world.engine.settle()
    assert deploy_status(world) == "SUCCEEDED"
    assert set(world.images().values()) == {world.image(digest)}
    # The original message now says who approved, without its buttons.
    [update] = [r for r in world.engine.slack.requests if r.webhook == "response-url"]
    assert update.body["replace_original"] is True and f"Approved by <@{APPROVER}>" in json.dumps(update.body)
    assert "Approval needed" in update.body["text"] and "approve" not in _buttons(update.body)
    # A second click is told who decided, and changes nothing.
    status, answer, report = world.engine.click("approve", value(release_id), SECOND)
    assert status == 200 and answer.startswith(f"already approved by <@{APPROVER}>")
    assert report.executions == []


def test_a_decision_whose_send_fails_is_delivered_by_the_retry_not_lost(world: World) -> None:
    """The click records the decision, then SendTaskSuccess fails (throttled past every retry):
    the worker fails, SQS delivers the click again, and the retry finds the decision recorded but
    not delivered, sends it and confirms it. Before, the retry found APPROVED and sent nothing:
    the gate waited until its timeout rejected the deploy."""
    digest, release_id = waiting(world)
    every_attempt = int(RETRY_CONFIG.retries["total_max_attempts"])
    world.engine.fleet.throttle("stepfunctions", "SendTaskSuccess", times=every_attempt)
    status, answer, _ = world.engine.click("approve", value(release_id), APPROVER)
    assert status == 200 and answer.startswith(f"✅ Approved by <@{APPROVER}>")
    world.engine.settle()
    assert deploy_status(world) == "SUCCEEDED"
    assert set(world.images().values()) == {world.image(digest)}
    table = boto3.resource("dynamodb").Table(world.engine.stack.outputs["TableName"])
    record = table.get_item(Key={"pk": f"APPROVAL#{ENV}", "sk": release_id})["Item"]
    assert record["status"] == "APPROVED" and "confirmed_at" in record


def test_the_endpoint_answers_at_once_and_the_click_is_carried_out_afterwards(world: World) -> None:
    """Slack needs HTTP 200 within 3 s: the endpoint only verifies and queues (no Step Functions
    call, nothing posted); the decision is the queue worker's."""
    _, release_id = waiting(world)
    table = boto3.resource("dynamodb").Table(world.engine.stack.outputs["TableName"])
    key = {"pk": f"APPROVAL#{ENV}", "sk": release_id}
    before = table.get_item(Key=key)["Item"]
    slack_before = len(world.engine.slack.requests)
    payload = slack_clicks.block_actions("approve", value(release_id), APPROVER, world.engine.slack.webhook_url("u"))
    headers, body = _signed(world, payload)

    ack = world.engine.invoke("SlackActionsFunction", slack_clicks.http_api_event(headers, body))
    assert ack.error is None and ack.response["statusCode"] == 200 and ack.response["body"] == ""
    assert table.get_item(Key=key)["Item"] == before and deploy_status(world) == "RUNNING"
    assert len(world.engine.slack.requests) == slack_before
    sqs = boto3.client("sqs")
    queued = sqs.get_queue_attributes(
        QueueUrl=world.engine.stack.physical_ids["SlackClickQueue"], AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert queued["Attributes"]["ApproximateNumberOfMessages"] == "1"

    world.engine.deliver_queued()
    assert table.get_item(Key=key)["Item"]["status"] == "APPROVED"
    [told] = [r for r in world.engine.slack.requests[slack_before:] if r.webhook == "u"]
    assert told.body["replace_original"] is True and "Approved by" in json.dumps(told.body)
    world.engine.settle()
    assert deploy_status(world) == "SUCCEEDED"


def test_a_rejection_leaves_the_fleet_untouched_and_the_release_rejected(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    _, release_id = waiting(world)
    commands_before = len(world.engine.fleet.commands)
    status, answer, _ = world.engine.click("reject", value(release_id), SECOND)
    world.engine.settle()

    assert status == 200 and answer.startswith(f"❌ Rejected by <@{SECOND}>")
    assert deploy_status(world) == "FAILED"
    assert len(world.engine.fleet.commands) == commands_before and set(world.images().values()) == {"v1"}
    [release] = history(capsys)
    assert (release["status"], release["phase"]) == ("REJECTED", "approval")
    assert f"rejected by <@{SECOND}>" in release["reason"]
    assert any("Deploy rejected" in m.body["text"] for m in world.engine.slack.delivered())


def test_no_decision_within_the_timeout_counts_as_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    short = start_world(tmp_path, config=gated("2s"))
    try:
        short.engine.push_image(REPO, "v2")  # waits for the whole execution: the gate times out
        assert deploy_status(short) == "FAILED" and set(short.images().values()) == {"v1"}
        [release] = history(capsys)
        assert release["status"] == "REJECTED" and "no decision within the approval timeout" in release["reason"]
        assert any("Deploy rejected" in m.body["text"] for m in short.engine.slack.delivered())
    finally:
        short.engine.stop()


def test_the_cli_approves_like_the_button(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    digest, _ = waiting(world)
    assert main(["approve", ENV]) == 0
    assert "Approved by" in capsys.readouterr().out
    world.engine.settle()
    assert set(world.images().values()) == {world.image(digest)}
    assert main(["reject", ENV, "--reason", "too late"]) == 1  # nothing waits any more
    assert "no deploy of api-prod is waiting" in capsys.readouterr().out


def test_two_approvals_needed_when_min_approvals_is_2(tmp_path: Path) -> None:
    two = start_world(tmp_path, config=gated().replace("timeout: 1h}", "timeout: 1h, min_approvals: 2}"))
    try:
        _, release_id = waiting(two)
        status, answer, _ = two.engine.click("approve", value(release_id), APPROVER)
        assert status == 200 and "waiting for 1 more" in answer
        status, answer, _ = two.engine.click("approve", value(release_id), APPROVER)  # the same person again
        assert "you already approved" in answer
        assert deploy_status(two) == "RUNNING"
        two.engine.click("approve", value(release_id), SECOND)
        two.engine.settle()
        assert deploy_status(two) == "SUCCEEDED"
    finally:
        two.engine.stop()


def _signed(world: World, payload: dict[str, Any], **overrides: Any) -> tuple[dict[str, str], str]:
    body = slack_clicks.form_body(payload)
    headers = slack_clicks.signed_headers(world.engine.slack_signing_secret, body, overrides.pop("timestamp", None))
    return headers, body


def refusals(world: World, release_id: str) -> dict[str, tuple[dict[str, str], str]]:
    good = slack_clicks.block_actions("approve", value(release_id), APPROVER, world.engine.slack.webhook_url("r"))
    headers, body = _signed(world, good)
    forged = dict(headers, **{"x-slack-signature": "v0=" + "0" * 64})
    other_secret = slack_clicks.signed_headers("not-the-signing-secret", body)
    stale = slack_clicks.signed_headers(world.engine.slack_signing_secret, body, int(time.time()) - 6 * 60)
    missing = {"content-type": "application/x-www-form-urlencoded"}
    unknown = slack_clicks.block_actions("deploy_everything", value(release_id), APPROVER, "")
    bad_value = slack_clicks.block_actions("approve", "{not json", APPROVER, "")
    not_form = '{"payload": 1}'
    return {
        "forged signature": (forged, body),
        "signed with another secret": (other_secret, body),
        "stale timestamp": (stale, body),
        "missing signature": (missing, body),
        "malformed payload": (slack_clicks.signed_headers(world.engine.slack_signing_secret, not_form), not_form),
        "malformed button value": _signed(world, bad_value),
        "unknown action": _signed(world, unknown),
    }


EXPECTED = {
    "forged signature": 401,
    "signed with another secret": 401,
    "stale timestamp": 401,
    "missing signature": 401,
    "malformed payload": 400,
    "malformed button value": 400,
    "unknown action": 200,  # a genuine click: acknowledged, and its sender told privately (below)
}


def test_bad_requests_are_refused_with_the_right_status_and_no_side_effect(world: World) -> None:
    _, release_id = waiting(world)
    table = boto3.resource("dynamodb").Table(world.engine.stack.outputs["TableName"])
    key = {"pk": f"APPROVAL#{ENV}", "sk": release_id}
    before = table.get_item(Key=key)["Item"]
    for case, (headers, body) in refusals(world, release_id).items():
        status, _, _ = world.engine.click("approve", {}, APPROVER, headers=headers, body=body)
        assert status == EXPECTED[case], case
    assert table.get_item(Key=key)["Item"] == before
    assert deploy_status(world) == "RUNNING"
    assert [r for r in world.engine.slack.requests if r.webhook in {"r", "response-url"}] == []


def test_an_unknown_button_is_acknowledged_and_its_sender_told_privately(world: World) -> None:
    _, release_id = waiting(world)
    status, answer, _ = world.engine.click("deploy_everything", value(release_id), APPROVER)
    assert status == 200 and "not one Harbormaster knows" in answer
    [told] = [r for r in world.engine.slack.requests if r.webhook == "response-url"]
    assert told.body["response_type"] == "ephemeral"
    assert deploy_status(world) == "RUNNING"


def test_a_non_approver_is_refused_and_told_in_slack(world: World) -> None:
    _, release_id = waiting(world)
    status, answer, _ = world.engine.click("approve", value(release_id), OTHER)
    assert status == 200 and "not an approver" in answer  # HTTP 200: Slack would show an error otherwise
    [told] = [r for r in world.engine.slack.requests if r.webhook == "response-url"]
    assert told.body["response_type"] == "ephemeral" and "not an approver" in told.body["text"]
    assert deploy_status(world) == "RUNNING"


def test_a_replayed_request_is_refused(world: World) -> None:
    _, release_id = waiting(world)
    payload = slack_clicks.block_actions("reject", value(release_id), APPROVER, world.engine.slack.webhook_url("x"))
    headers, body = _signed(world, payload)
    first, _, _ = world.engine.click("reject", {}, APPROVER, headers=headers, body=body)
    again, answer, _ = world.engine.click("reject", {}, APPROVER, headers=headers, body=body)
    assert (first, again) == (200, 409) and "already handled" in answer


def test_the_rollback_button_rolls_back_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    free = start_world(tmp_path, config=gated().replace("required: true", "required: false"))
    try:
        v2, _ = free.engine.push_image(REPO, "v2")
        free.engine.push_image(REPO, "v3")
        succeeded = [m for m in free.engine.slack.delivered() if "Deploy succeeded" in m.body["text"]][-1]
        button = _buttons(succeeded.body)["rollback"]
        assert "confirm" in button
        status, answer, _ = free.engine.click("rollback", json.loads(button["value"]), APPROVER, wait=True)
        assert status == 200 and "Rollback of" in answer
        assert set(free.images().values()) == {free.image(v2)}
        statuses = [(r["tag"], r["status"]) for r in history(capsys)]
        assert statuses[:2] == [("v2", "SUCCEEDED"), ("v3", "ROLLED_BACK")]
        again, answer, _ = free.engine.click("rollback", json.loads(button["value"]), APPROVER)
        assert again == 200 and "no longer the current release" in answer  # no second step back
        denied, answer, _ = free.engine.click("rollback", json.loads(button["value"]), OTHER)
        assert denied == 200 and "only approvers can roll it back" in answer
    finally:
        free.engine.stop()


def test_the_view_execution_link_button_is_acknowledged(world: World) -> None:
    waiting(world)
    status, _, _ = world.engine.click("view_execution", "", APPROVER)
    assert status == 200
