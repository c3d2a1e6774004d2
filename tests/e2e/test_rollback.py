"""Rollback on alarm, through the local engine on the real template (issue: rollback on alarm)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from harbormaster.cli.main import main
from tests.conftest import SAMPLES, wait_for
from tests.e2e.deploy_world import ENV, REPO, World, config, history, put_guard_alarm, start_world

pytestmark = pytest.mark.e2e
ALARM = "api-prod-5xx"
GUARDED = config().replace(
    "    container: {name: app",
    "    guard_alarms: [api-prod-5xx]\n    preflight_alarms: warn\n"
    "    rollback: {window: 30m, batch: 100%, drain_seconds: 0, health_timeout_seconds: 2}\n"
    "    container: {name: app",
)


def alarm_event(name: str = ALARM, sample: str = "single-metric") -> dict[str, Any]:
    event = json.loads((SAMPLES / "aws" / f"cloudwatch-alarm-state-change-{sample}.json").read_text())
    event = copy.deepcopy(event)
    event["detail"]["alarmName"] = name
    event["resources"] = [f"arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:{name}"]
    event["detail"]["state"]["timestamp"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
    return event


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    started = start_world(tmp_path, config=GUARDED)
    put_guard_alarm(ALARM)
    yield started
    started.engine.stop()


def alarm_response(report: Any) -> dict[str, Any]:
    [invocation] = [i for i in report.invocations if i.logical_id == "AlarmFunction"]
    return dict(invocation.response)


def push(world: World, tag: str, **kwargs: Any) -> str:
    digest, _ = world.engine.push_image(REPO, tag, **kwargs)
    return digest


def test_an_alarm_inside_the_window_rolls_back_and_quarantines(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    v1 = push(world, "v1")
    v2 = push(world, "v2")
    report = world.engine.send_event(alarm_event())

    assert set(world.images().values()) == {world.image(v1)}
    statuses = {r["tag"]: r["status"] for r in reversed(history(capsys))}
    assert statuses == {"v1": "SUCCEEDED", "v2": "ROLLED_BACK"}
    [rollback] = [r for r in history(capsys) if r["trigger"] == "rollback"]
    assert (rollback["status"], rollback["tag"]) == ("SUCCEEDED", "v1")
    texts = [m.body["text"] for m in report.slack if m.status == 200]
    assert any(t.startswith("⏪ Rollback started") for t in texts)
    assert any(t.startswith("✅ Rollback succeeded") for t in texts)

    # pushing v2 again is skipped as quarantined (a new push event: its own execution, which Prepare
    # ends); so is a manual deploy; `deploy --force` deploys it
    again = world.engine.push_image(REPO, "v2", digest=v2)[1]
    assert [e.status for e in again.executions] == ["SUCCEEDED"]
    assert history(capsys)[0]["status"] == "SKIPPED" and "quarantined" in history(capsys)[0]["reason"]
    capsys.readouterr()
    assert main(["deploy", ENV, "v2"]) == 0
    world.engine.settle()
    assert history(capsys)[0]["status"] == "SKIPPED" and "quarantined" in history(capsys)[0]["reason"]
    assert main(["deploy", ENV, "v2", "--force"]) == 0
    world.engine.settle()
    assert set(world.images().values()) == {world.image(v2)}


def test_an_alarm_during_batch_2_of_4_stops_the_deploy_and_the_fleet_ends_on_the_previous_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    slow = start_world(tmp_path, config=GUARDED.replace("drain_seconds: 0, poll", "drain_seconds: 1, poll"))
    try:
        v1 = push(slow, "v1")
        before = len(slow.engine.fleet.commands)
        slow.engine.push_image(REPO, "v2", wait=False)
        wait_for(lambda: len(slow.engine.fleet.commands) - before >= 2, what="batch 2 of 4 starting")
        slow.engine.send_event(alarm_event())
        assert set(slow.images().values()) == {slow.image(v1)}
        assert slow.engine.fleet.min_healthy_seen(slow.target_group) >= 2  # min_healthy 50% of 4
        by_tag = {r["tag"]: r["status"] for r in history(capsys) if r["trigger"] != "rollback"}
        assert by_tag["v2"] == "ROLLED_BACK"
    finally:
        slow.engine.stop()


def test_an_alarm_outside_the_window_does_not_roll_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    short = start_world(tmp_path, config=GUARDED.replace("window: 30m", "window: 1s"))
    try:
        v1 = push(short, "v1")
        push(short, "v2")
        short.engine.clock.advance(timedelta(seconds=2))  # past the 1 s window, on the engine's clock
        report = short.engine.send_event(alarm_event())
        assert report.executions == []
        assert {r["status"] for r in history(capsys)} == {"SUCCEEDED"}
        assert any("Guard alarm, no rollback" in m.body["text"] for m in report.slack if m.status == 200)
        assert short.image(v1) not in short.images().values()
    finally:
        short.engine.stop()


def test_an_unrelated_alarm_does_nothing(world: World) -> None:
    push(world, "v1")
    report = world.engine.send_event(alarm_event(name="someone-elses-alarm"))
    assert report.executions == [] and alarm_response(report) == {"decisions": []}
    assert "the alarm guards no environment" in world.engine.logs.text()


def test_an_alarm_tagged_for_the_environment_guards_it(world: World) -> None:
    put_guard_alarm("tagged-alarm", tags={"harbormaster:guards": ENV})
    push(world, "v1")
    push(world, "v2")
    report = world.engine.send_event(alarm_event(name="tagged-alarm"))
    assert [d["action"] for d in alarm_response(report)["decisions"]] == ["rolled_back"]


def test_the_same_alarm_three_times_rolls_back_once(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    push(world, "v1")
    push(world, "v2")
    event = alarm_event()
    actions = []
    for _ in range(3):
        report = world.engine.send_event(event)
        actions += [d["action"] for d in alarm_response(report)["decisions"]]
    assert actions[0] == "rolled_back"
    assert "rolled_back" not in actions[1:]
    assert len([r for r in history(capsys) if r["trigger"] == "rollback"]) == 1


def test_an_alarm_while_the_rollback_runs_is_recorded_not_acted_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    slow_rollback = GUARDED.replace("drain_seconds: 0, poll", "drain_seconds: 2, poll").replace(
        "rollback: {window: 30m, batch: 100%, drain_seconds: 0", "rollback: {window: 30m, batch: 100%, drain_seconds: 2"
    )
    slow = start_world(tmp_path, config=slow_rollback)
    try:
        push(slow, "v1")
        push(slow, "v2")
        slow.engine.send_event(alarm_event(), wait=False)
        table = boto3.resource("dynamodb").Table(slow.engine.stack.outputs["TableName"])
        wait_for(  # the rollback holds the lock and is rolling
            lambda: [
                i for i in table.scan()["Items"] if i.get("trigger") == "rollback" and i["status"] == "IN_PROGRESS"
            ],
            what="the rollback rolling",
        )
        second = slow.engine.send_event(alarm_event(sample="metric-math"))
        actions = [d["action"] for d in alarm_response(second)["decisions"]]
        assert actions == ["already_rolling_back"]
        assert len([r for r in history(capsys) if r["trigger"] == "rollback"]) == 1
    finally:
        slow.engine.stop()


def test_a_rollback_that_fails_stops_with_a_critical_event(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    v1 = push(world, "v1")
    push(world, "v2")
    world.engine.fleet.bad_image(world.image(v1))  # the known-good no longer starts
    report = world.engine.send_event(alarm_event())
    rollbacks = [r for r in history(capsys) if r["trigger"] == "rollback"]
    assert [r["status"] for r in rollbacks] == ["FAILED"]
    assert any("Rollback failed" in m.body["text"] for m in report.slack if m.webhook == "critical" and m.status == 200)
    assert len([e for e in world.engine.executions() if "rollback" in e.name]) == 1  # no rollback of the rollback


def test_bake_catches_an_alarm_that_sent_no_event(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    baking = start_world(
        tmp_path, config=GUARDED.replace("    preflight_alarms: warn\n", "    preflight_alarms: ignore\n    bake: 3s\n")
    )
    try:
        v1 = push(baking, "v1")
        put_guard_alarm(ALARM)
        cloudwatch = boto3.client("cloudwatch")
        cloudwatch.set_alarm_state(AlarmName=ALARM, StateValue="ALARM", StateReason="5xx above 1")
        push(baking, "v2")  # no EventBridge alarm event is sent: only the bake phase can see it
        released = history(capsys)[0]
        assert (released["tag"], released["status"], released["phase"]) == ("v2", "ROLLED_BACK", "bake")
        assert set(baking.images().values()) == {baking.image(v1)}
    finally:
        baking.engine.stop()


def test_manual_rollback_to_a_tag(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    v1 = push(world, "v1")
    push(world, "v2")
    push(world, "v3")
    capsys.readouterr()
    assert main(["rollback", ENV, "--to", "v1"]) == 0
    world.engine.settle()
    assert set(world.images().values()) == {world.image(v1)}
    assert {r["tag"]: r["status"] for r in history(capsys) if r["trigger"] != "rollback"}["v3"] == "ROLLED_BACK"


def test_two_manual_rollbacks_of_one_release_start_one(world: World) -> None:
    """A second click (or the CLI) before the first rollback finished: the release is still the
    current one, so only the claim can refuse it. Both calls run back to back against a state
    machine that does nothing, so no rollback execution can change the ledger in between."""
    from harbormaster.cli import ops
    from harbormaster.config import load_config
    from harbormaster.rollback.manual import RollbackRefused, manual_rollback

    push(world, "v1")
    push(world, "v2")
    ops.Stack.find()
    idle = boto3.client("stepfunctions").create_state_machine(
        name="idle",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/idle",
    )["stateMachineArn"]
    config = load_config(str(world.engine.config_path))
    manual_rollback(config, idle, ENV, None, actor="slack:U01ABC")
    with pytest.raises(RollbackRefused, match=r"already being rolled back \(manual:slack:U01ABC\)"):
        manual_rollback(config, idle, ENV, None, actor="cli:ops")
    response = alarm_response(world.engine.send_event(alarm_event()))
    assert response["decisions"][0]["action"] == "already_rolled_back"  # nor can an alarm


@pytest.mark.parametrize("sample", ["single-metric", "metric-math", "anomaly-detection", "composite-with-suppressor"])
def test_all_four_alarm_shapes_roll_back(world: World, sample: str) -> None:
    push(world, "v1")
    push(world, "v2")
    report = world.engine.send_event(alarm_event(sample=sample))
    assert [d["action"] for d in alarm_response(report)["decisions"]] == ["rolled_back"]
