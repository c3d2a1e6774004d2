"""`/harbormaster` slash commands through the engine (issue 17): signed like Slack's, acknowledged
within Slack's 3 seconds from a cold handler, carried out by the worker, answered through
response_url. Working late: `keep api-dev on until 23:00` at 19:30 keeps the schedule's resources up
through the 20:00 stop; they stop at 23:00."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import boto3
import pytest

from harbormaster.local import LocalEngine
from tests.e2e.deploy_world import REPO, World, config, start_world

pytestmark = pytest.mark.e2e
APPROVER, MEMBER, OTHER = "U01ABC", "U02DEV", "U09NOPE"
KST = ZoneInfo("Asia/Seoul")
CONFIG = (
    config()
    .replace("    container: {name: app", f"    approval: {{approvers: [{APPROVER}]}}\n    container: {{name: app")
    .replace("  default_route: deployments", "  default_route: deployments\n  signing_secret: hm/slack/signing")
    + f"""schedules:
  api-dev:
    timezone: Asia/Seoul
    periods: [{{begintime: "08:00", endtime: "20:00", weekdays: [mon-fri]}}]
    members: [{MEMBER}]
"""
)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    started = start_world(tmp_path, config=CONFIG)
    yield started
    started.engine.stop()


def test_every_command_is_acknowledged_within_3_seconds_from_a_cold_handler(world: World) -> None:
    status, immediate, told, _, took_ms = world.engine.slash("status", OTHER)
    assert status == 200 and immediate == "⏳ working on `/harbormaster status`…"
    assert took_ms < 3000, f"the endpoint took {took_ms:.0f} ms from cold"
    assert "api-prod" in told


def test_an_unknown_command_gets_the_usage_at_once_and_nothing_is_queued(world: World) -> None:
    status, immediate, told, report, _ = world.engine.slash("destroy everything", OTHER)
    assert status == 200 and immediate.startswith("Usage: `/harbormaster status [ENV]`") and told == ""
    assert not [i for i in report.invocations if i.logical_id == "SlackClickFunction"]


def test_deploy_and_rollback_from_slack_are_for_approvers_and_said_in_the_channel(world: World) -> None:
    world.engine.push_image(REPO, "v2")
    world.engine.push_image(REPO, "v3")
    _, _, refused, _, _ = world.engine.slash("deploy api-prod v2", OTHER)
    assert refused == f"<@{OTHER}> is not an approver of api-prod: only approvers can deploy it from Slack"
    _, _, told, report, _ = world.engine.slash("deploy api-prod v2", APPROVER)
    assert told.startswith(f"🚀 Deploy of api-prod v2 started by <@{APPROVER}>")
    assert [e.status for e in report.executions] == ["SUCCEEDED"]
    said = [r.body for r in report.slack if r.webhook == "response-url"]
    assert said[-1]["response_type"] == "in_channel"
    _, _, history, _, _ = world.engine.slash("history api-prod", OTHER)
    assert f"slack:{APPROVER}" in history and "v2" in history
    _, _, told, report, _ = world.engine.slash("rollback api-prod", APPROVER)
    assert told.startswith("⏪ Rollback of") and [e.status for e in report.executions] == ["SUCCEEDED"]
    assert world.engine.slash("deploy api-prod v404", APPROVER)[2].startswith(
        "not deployed: tpt-api-prod:v404 is not in ECR"
    )


def test_keep_on_until_23_keeps_the_schedule_up_through_its_stop_then_it_stops(tmp_path: Path) -> None:
    path = tmp_path / "harbormaster.yaml"
    path.write_text(CONFIG)
    engine = LocalEngine(
        config=path,
        slack_messages_per_second=1000,
        start_time=datetime(2026, 12, 7, 19, 30, tzinfo=KST),  # a monday, 19:30 in Seoul
        parameters={"ScheduleRate": "rate(15 minutes)"},
    )
    engine.start()
    try:
        ec2 = boto3.client("ec2")
        tags = [{"ResourceType": "instance", "Tags": [{"Key": "harbormaster:schedule", "Value": "api-dev"}]}]
        [box] = [
            i["InstanceId"]
            for i in ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, TagSpecifications=tags)[
                "Instances"
            ]
        ]

        def state() -> str:
            return str(ec2.describe_instances(InstanceIds=[box])["Reservations"][0]["Instances"][0]["State"]["Name"])

        refused = engine.slash("keep api-dev on until 23:00", OTHER)[2]
        assert refused == f"<@{OTHER}> is not a member of api-dev: only its members can keep it on or off"
        told = engine.slash("keep api-dev on until 23:00", MEMBER)[2]
        assert told == f"api-dev: kept on by <@{MEMBER}> until Mon 2026-12-07 23:00 KST"
        assert "kept on by" in engine.slash("schedule status api-dev", OTHER)[2]
        engine.advance(timedelta(hours=1))  # 20:30: past the schedule's stop
        assert state() == "running"
        engine.advance(timedelta(hours=3))  # 23:30
        assert state() == "stopped"
        assert engine.slash("keep api-dev off now", OTHER)[2] == refused  # off is for members too
        told = engine.slash("keep api-dev off now", MEMBER)[2]
        assert told.startswith(f"api-dev: kept off by <@{MEMBER}> until")
    finally:
        engine.stop()
