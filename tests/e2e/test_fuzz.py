"""Fuzzing every input the stack accepts, through the real handlers in the local engine (issue:
operations): ECR and alarm events, SNS/SQS alert records, scheduler input, Slack interactions, and
the configuration file. No unhandled exception anywhere; a rejected input changes nothing."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from harbormaster.config import ConfigError, load_config
from harbormaster.local import LocalEngine, slack_clicks
from tests.conftest import SAMPLES

pytestmark = pytest.mark.e2e
FUZZ = settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
CONFIG = """
environments:
  api:
    repository: my-repository-name
    tags: ["*"]
    target: {type: ec2, target_group_name: api-tg}
    guard_alarms: [ServerCpuTooHigh]
schedules:
  office: {timezone: Asia/Seoul, periods: [{begintime: "08:00", endtime: "20:00", weekdays: mon-fri}]}
slack:
  routes: {monitoring: {webhook_secret: fz/monitoring}}
  default_route: monitoring
  signing_secret: fz/signing
"""

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)
json_objects = st.dictionaries(st.text(max_size=12), json_values, max_size=6)


def mutated(sample: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """The sample with one field (at any depth) replaced by anything, or removed."""
    paths: list[tuple[str, ...]] = []

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                paths.append((*path, key))
                walk(value, (*path, key))

    walk(sample, ())

    def apply(path: tuple[str, ...], value: Any, remove: bool) -> dict[str, Any]:
        changed = copy.deepcopy(sample)
        node = changed
        for key in path[:-1]:
            node = node[key]
        if remove:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = value
        return changed

    return st.builds(apply, st.sampled_from(paths), json_values, st.booleans())


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEngine]:
    path = Path(tmp_path_factory.mktemp("fuzz")) / "harbormaster.yaml"
    path.write_text(CONFIG)
    with LocalEngine(config=path, slack_messages_per_second=10_000) as started:
        yield started


def state(engine: LocalEngine) -> tuple[Any, ...]:
    """Everything a handler could change: the table, executions, the fleet's resources (after
    delivering what earlier examples left queued, so only this example's changes count)."""
    engine.settle()
    table = boto3.resource("dynamodb").Table(engine.stack.outputs["TableName"])
    items = sorted(json.dumps(i, sort_keys=True, default=str) for i in table.scan()["Items"])
    executions = len(engine.executions())
    ec2 = boto3.client("ec2").describe_instances()["Reservations"]
    return tuple(items), executions, json.dumps(ec2, sort_keys=True, default=str)


ECR_PUSH = json.loads((SAMPLES / "aws" / "ecr-image-action-push-success.json").read_text())
ALARM = json.loads((SAMPLES / "aws" / "cloudwatch-alarm-state-change-single-metric.json").read_text())


@FUZZ
@given(event=json_objects | mutated(ECR_PUSH))
def test_router_never_crashes_and_a_rejected_event_changes_nothing(engine: LocalEngine, event: dict[str, Any]) -> None:
    before = state(engine)
    invocation = engine.invoke("RouterFunction", event)
    assert not invocation.failed, invocation.error
    if "rejected" in invocation.response or not invocation.response.get("deploys"):
        assert state(engine) == before
    engine.settle()


@FUZZ
@given(event=json_objects | mutated(ALARM))
def test_alarm_handler_never_crashes(engine: LocalEngine, event: dict[str, Any]) -> None:
    before = state(engine)
    invocation = engine.invoke("AlarmFunction", event)
    assert not invocation.failed, invocation.error
    if "rejected" in invocation.response:
        assert state(engine) == before


@FUZZ
@given(
    event=json_objects
    | st.fixed_dictionaries(
        {},
        optional={
            "action": st.sampled_from(["stop", "start", "restart", ""]) | json_values,
            "schedule": st.sampled_from(["office", "nope"]) | json_values,
            "dry_run": json_values,
            "scheduled_time": st.sampled_from(["2026-11-23T09:00:00Z", "yesterday"]) | json_values,
        },
    )
)
def test_scheduler_input_never_crashes(engine: LocalEngine, event: dict[str, Any]) -> None:
    before = state(engine)
    invocation = engine.invoke("SchedulerFunction", event)
    assert not invocation.failed, invocation.error
    if "rejected" in invocation.response:
        assert state(engine) == before


@FUZZ
@given(bodies=st.lists(st.text(max_size=200) | json_values.map(json.dumps), min_size=1, max_size=3))
def test_the_forwarder_delivers_or_reports_every_record_and_never_crashes(
    engine: LocalEngine, bodies: list[str]
) -> None:
    records = [
        {
            "messageId": f"fuzz-{i}-{abs(hash(body))}",
            "receiptHandle": "r",
            "body": body,
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:ap-northeast-2:123456789012:alerts",
            "awsRegion": "ap-northeast-2",
        }
        for i, body in enumerate(bodies)
    ]
    invocation = engine.invoke("SlackForwarderFunction", {"Records": records})
    assert not invocation.failed, invocation.error
    assert invocation.response.get("batchItemFailures") == []  # everything reached Slack (the sink accepts)


@FUZZ
@given(
    headers=st.dictionaries(
        st.sampled_from(["x-slack-signature", "x-slack-request-timestamp", "content-type", "x-other"]),
        st.text(max_size=40),
        max_size=4,
    ),
    body=st.text(max_size=300) | json_objects.map(slack_clicks.form_body),
)
def test_unsigned_or_forged_slack_requests_are_refused_and_change_nothing(
    engine: LocalEngine, headers: dict[str, str], body: str
) -> None:
    before = state(engine)
    status, _, _ = engine.click("approve", {}, "U1", headers=headers, body=body)
    assert status == 401
    assert state(engine) == before


@FUZZ
@given(payload=json_objects)
def test_signed_but_malformed_slack_payloads_get_a_4xx_and_change_nothing(
    engine: LocalEngine, payload: dict[str, Any]
) -> None:
    body = slack_clicks.form_body(payload)
    headers = slack_clicks.signed_headers(engine.slack_signing_secret, body)
    engine.settle()
    table = boto3.resource("dynamodb").Table(engine.stack.outputs["TableName"])
    before = [i for i in table.scan()["Items"] if not str(i["pk"]).startswith("SLACKREQ#")]
    status, _, _ = engine.click("approve", {}, "U1", headers=headers, body=body)
    assert 400 <= status < 500
    after = [i for i in table.scan()["Items"] if not str(i["pk"]).startswith("SLACKREQ#")]
    assert after == before  # only the replay guard remembered the request


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=400) | json_values.map(json.dumps))
def test_any_configuration_file_loads_or_fails_with_a_config_error(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    path = Path(tmp_path_factory.mktemp("cfg")) / "harbormaster.yaml"
    path.write_text(text)
    load_config.cache_clear()
    try:
        load_config(str(path))
    except ConfigError as exc:
        assert str(exc)
    finally:
        load_config.cache_clear()


@settings(max_examples=200, deadline=None)
@given(
    period=st.dictionaries(
        st.sampled_from(["begintime", "endtime", "weekdays", "monthdays", "months"]),
        st.text(max_size=12) | st.integers(-3, 40) | st.lists(st.text(max_size=6) | st.integers(-3, 40), max_size=3),
        max_size=4,
    )
)
def test_any_period_is_accepted_or_refused_with_a_validation_error(period: dict[str, Any]) -> None:
    from pydantic import ValidationError

    from harbormaster.config.models import Schedule
    from harbormaster.schedule.evaluate import evaluate

    try:
        schedule = Schedule.model_validate({"periods": [period]})
    except ValidationError:
        return
    from datetime import UTC, datetime

    assert evaluate(schedule, datetime(2026, 11, 23, 9, tzinfo=UTC)).state in {"running", "stopped", "any"}
