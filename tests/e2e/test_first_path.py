"""The ECR push rule → router → deploy state machine → alert topic → Slack, on the real template."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from harbormaster.local import EventError, LocalEngine
from tests.conftest import SAMPLES, documented_push

pytestmark = pytest.mark.e2e
SAMPLE_PUSH = SAMPLES / "aws" / "ecr-image-action-push-success.json"


def test_the_documented_push_event_with_its_shortened_digest_is_refused(engine: LocalEngine) -> None:
    report = engine.send_event(json.loads(SAMPLE_PUSH.read_text()))
    assert report.executions == []
    assert "image-digest" in engine.logs.text() and report.invocations[0].response["rejected"]


def test_the_documented_push_event_deploys_and_reaches_slack(engine: LocalEngine) -> None:
    report = engine.send_event(documented_push())

    assert [d.target_arn.split(":")[-1] for d in report.bus.deliveries] == [engine.stack.physical_ids["RouterFunction"]]
    assert not [i for i in report.invocations if i.failed]
    assert {i.logical_id for i in report.invocations} == {
        "RouterFunction",
        "PrepareFunction",
        "NotifyFunction",
        "PublishFunction",
        "BatchStepFunction",
        "ConvergeFunction",
        "FinalizeFunction",
        "SlackForwarderFunction",
    }
    [execution] = report.executions
    assert execution.status == "SUCCEEDED"
    assert execution.name.startswith("sample-7f5b2640fe6fb4f4-")  # environment, digest, the event
    started, succeeded = engine.slack.delivered("deployments")
    assert "Deploy started" in started.body["text"] and "Deploy succeeded" in succeeded.body["text"]
    assert "sha256:7f5b2640fe6f" in json.dumps(started.body)


def test_the_same_event_twice_starts_one_execution(engine: LocalEngine) -> None:
    event = documented_push()
    engine.send_event(event)
    again = engine.send_event(event)

    assert again.executions == []
    assert again.invocations[0].response["deploys"][0]["duplicate"] is True
    assert len(engine.executions()) == 1


def test_a_missing_image_fails_the_deploy_and_says_why_in_slack(engine: LocalEngine) -> None:
    boto3.client("ecr").create_repository(repositoryName="tpt-api-dev")
    request = json.loads((Path(__file__).resolve().parents[2] / "events" / "deploy-request.json").read_text())
    sfn = boto3.client("stepfunctions")
    sfn.start_execution(
        stateMachineArn=engine.stack.state_machines["DeployStateMachine"],
        input=json.dumps({"request": request["request"]}),
    )
    engine.settle()

    [execution] = engine.executions()
    assert execution.status == "FAILED"
    assert execution.error == "DeployFailed"
    [message] = engine.slack.delivered("critical")
    assert "Deploy failed" in message.body["text"]
    assert "is not in ECR" in json.dumps(message.body)


def test_an_event_matching_no_rule_triggers_nothing(engine: LocalEngine) -> None:
    report = engine.send_event(
        {"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change", "detail": {"alarmName": "x"}}
    )
    assert not report.bus.matched
    assert report.invocations == [] and report.executions == [] and report.slack == []


def test_a_delete_event_is_ignored_by_the_rule(engine: LocalEngine) -> None:
    sample = SAMPLE_PUSH.with_name("ecr-image-action-delete-success.json")
    report = engine.send_event(json.loads(sample.read_text()))
    assert not report.bus.matched


def test_the_router_ignores_a_push_for_no_environment_with_a_log_line(engine: LocalEngine) -> None:
    _, report = engine.push_image("unwatched-repo", "v1")
    assert report.invocations[0].response == {"deploys": []}
    assert report.executions == []
    assert "the push matches no environment" in engine.logs.text()


def test_something_that_is_not_an_event_is_refused_and_changes_nothing(engine: LocalEngine) -> None:
    with pytest.raises(EventError, match="missing detail-type"):
        engine.send_event({"source": "aws.ecr", "detail": {}})
    with pytest.raises(EventError):
        engine.send_event(["not", "an", "object"])
    assert engine.runtime.invocations == []
    assert engine.executions() == []
