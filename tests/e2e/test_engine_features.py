"""Engine features the template will use: rule inputs, SQS/SNS targets, batch failures, schedules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from harbormaster.local import LocalEngine

pytestmark = pytest.mark.e2e
EVENT = {"source": "test.app", "detail-type": "Thing Happened", "detail": {"thing": "door", "state": "open"}}


def queue(name: str) -> tuple[str, str]:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def bodies(url: str) -> list[object]:
    messages = boto3.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_input_path_and_input_transformer_are_applied(engine: LocalEngine) -> None:
    events = boto3.client("events")
    events.put_rule(Name="things", EventPattern=json.dumps({"source": ["test.app"]}))
    path_url, path_arn = queue("by-path")
    transform_url, transform_arn = queue("by-transformer")
    events.put_targets(
        Rule="things",
        Targets=[
            {"Id": "path", "Arn": path_arn, "InputPath": "$.detail"},
            {
                "Id": "transform",
                "Arn": transform_arn,
                "InputTransformer": {
                    "InputPathsMap": {"thing": "$.detail.thing"},
                    "InputTemplate": '{"what": "<thing>"}',
                },
            },
        ],
    )
    report = engine.send_event(EVENT)
    assert len(report.bus.deliveries) == 2
    assert bodies(path_url) == [{"thing": "door", "state": "open"}]
    assert bodies(transform_url) == [{"what": "door"}]


def test_a_rule_with_a_pattern_that_does_not_match_delivers_nothing(engine: LocalEngine) -> None:
    events = boto3.client("events")
    events.put_rule(Name="closed", EventPattern=json.dumps({"detail": {"state": ["closed"]}}))
    url, arn = queue("closed")
    events.put_targets(Rule="closed", Targets=[{"Id": "q", "Arn": arn}])
    assert not engine.send_event(EVENT).bus.matched
    assert bodies(url) == []


def test_a_failed_record_is_retried_and_ends_in_the_dead_letter_queue(engine: LocalEngine) -> None:
    """The alert queue's forwarder reports batch item failures; after maxReceiveCount: the DLQ."""
    dlq = engine.stack.outputs["AlertDeadLetterQueueUrl"]
    boto3.client("secretsmanager").put_secret_value(
        SecretId="harbormaster/slack/monitoring", SecretString="http://127.0.0.1:9/closed-port"
    )
    boto3.client("sns").publish(TopicArn=engine.stack.outputs["AlertTopicArn"], Message="plain text alert")
    engine.settle()

    forwarder = [i for i in engine.runtime.invocations if i.logical_id == "SlackForwarderFunction"]
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=engine.stack.outputs["AlertQueueUrl"], AttributeNames=["RedrivePolicy"]
    )["Attributes"]
    assert len(forwarder) == json.loads(attributes["RedrivePolicy"])["maxReceiveCount"]
    # All records failed: Powertools fails the invocation, so Lambda retries the whole batch.
    assert all(i.failed or i.response["batchItemFailures"] for i in forwarder)
    [dead] = boto3.client("sqs").receive_message(QueueUrl=dlq).get("Messages", [])
    assert json.loads(dead["Body"])["Message"] == "plain text alert"


def test_scheduler_schedules_fire_on_the_virtual_clock(engine: LocalEngine) -> None:
    scheduler = boto3.client("scheduler")
    scheduler.create_schedule(
        Name="every-5-minutes",
        ScheduleExpression="rate(5 minutes)",
        FlexibleTimeWindow={"Mode": "OFF"},
        StartDate=engine.clock.now,
        Target={
            "Arn": engine.stack.functions["NotifyFunction"].arn,
            "RoleArn": "arn:aws:iam::123456789012:role/x",
            "Input": json.dumps(
                {
                    "type": "deploy.started",
                    "state": {"request": json.loads(_REQUEST)},
                    "execution_arn": "<aws.scheduler.scheduled-time>",
                }
            ),
        },
    )
    report = engine.advance(timedelta(minutes=16))
    notify = [i for i in report.invocations if i.logical_id == "NotifyFunction"]
    assert len(notify) == 3
    assert notify[0].event["execution_arn"].endswith("Z")


def test_clock_cron_and_at_expressions() -> None:
    from harbormaster.local.clock import ScheduleSpec, firings

    start = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    weekday_mornings = ScheduleSpec("c", "cron(0 8 ? * MON-FRI *)", "Asia/Seoul", "arn", None, start)
    fired = firings(weekday_mornings, start, start + timedelta(days=7))
    # Friday 2026-11-20 00:00 UTC → a week: Mon..Fri at 08:00 KST, which is 23:00 UTC the day before.
    assert [f.strftime("%a %H:%M") for f in fired] == ["Sun 23:00", "Mon 23:00", "Tue 23:00", "Wed 23:00", "Thu 23:00"]
    once = ScheduleSpec("a", "at(2026-11-21T09:00:00)", "UTC", "arn", None, start)
    assert firings(once, start, start + timedelta(days=2)) == [datetime(2026, 11, 21, 9, tzinfo=UTC)]


_REQUEST = json.dumps(
    {
        "environment": "api-dev",
        "image": {"repository": "tpt-api-dev", "tag": "dev-1", "digest": "sha256:" + "a" * 64},
        "trigger": "push",
        "actor": "ecr",
        "event_id": None,
        "requested_at": "2026-11-20T09:15:00Z",
    }
)
