"""ECS services as deploy targets, through the local engine on the real template (issue: ECS targets)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from harbormaster.cli.main import main
from harbormaster.local import LocalEngine
from tests.e2e.deploy_world import put_guard_alarm
from tests.e2e.test_rollback import alarm_event

pytestmark = pytest.mark.e2e

ENV, REPO, CLUSTER, SERVICE = "web", "codemate-frontend", "codemate", "frontend"
ALARM = "web-5xx"
CONFIG = f"""
environments:
  {ENV}:
    repository: {REPO}
    tags: ["main-*"]
    target: {{type: ecs, cluster: {CLUSTER}, service: {SERVICE}, container: web, deployment_timeout_seconds: 60}}
    rollout: {{poll_seconds: 0}}
    guard_alarms: [{ALARM}]
    preflight_alarms: warn
    rollback: {{window: 30m}}
slack:
  routes:
    critical: {{webhook_secret: hm/slack/critical}}
    deployments: {{webhook_secret: hm/slack/deployments}}
  default_route: deployments
"""


@dataclass
class EcsWorld:
    engine: LocalEngine
    initial_task_definition: str

    def image(self, digest: str) -> str:
        return f"123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/{REPO}@{digest}"

    def running(self) -> str:
        return str(self.service()["taskDefinition"])

    def service(self) -> dict[str, Any]:
        return dict(boto3.client("ecs").describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0])

    def image_running(self) -> str:
        return self.engine.fleet.ecs.image_of(CLUSTER, SERVICE)


def start_world(tmp_path: Path, config: str = CONFIG) -> EcsWorld:
    path = tmp_path / "harbormaster.yaml"
    path.write_text(config)
    engine = LocalEngine(config=path, slack_messages_per_second=1000)
    engine.start()
    engine.fleet.ecs.service(CLUSTER, SERVICE, image="nginx:1", desired=3, environment=ENV)
    put_guard_alarm(ALARM)
    started = EcsWorld(engine, "")
    started.initial_task_definition = started.running()
    return started


@pytest.fixture
def world(tmp_path: Path) -> Iterator[EcsWorld]:
    started = start_world(tmp_path)
    yield started
    started.engine.stop()


def history(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert main(["history", ENV, "--output", "json"]) == 0
    return list(json.loads(capsys.readouterr().out))


def test_a_push_registers_a_revision_and_the_service_rolls_to_it(
    world: EcsWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    digest, report = world.engine.push_image(REPO, "main-1")

    assert [e.status for e in report.executions] == ["SUCCEEDED"]
    assert world.image_running() == world.image(digest)
    assert world.running().endswith(f"/{CLUSTER}-{SERVICE}:2")
    ecs = boto3.client("ecs")
    new = ecs.describe_task_definition(taskDefinition=world.running(), include=["TAGS"])
    old = ecs.describe_task_definition(taskDefinition=world.initial_task_definition)["taskDefinition"]
    # Identical but for the one image: the sidecar, roles, cpu and memory are copied, tags too.
    sidecar = [c for c in new["taskDefinition"]["containerDefinitions"] if c["name"] == "log-router"]
    assert sidecar == [c for c in old["containerDefinitions"] if c["name"] == "log-router"]
    assert new["taskDefinition"]["executionRoleArn"] == old["executionRoleArn"]
    assert {"key": "harbormaster:environment", "value": ENV} in new["tags"]
    assert world.service()["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    [release] = history(capsys)
    assert (release["status"], release["tag"], release["instances_done"]) == ("SUCCEEDED", "main-1", 1)
    assert release["task_definition_arn"] == world.running()
    assert release["previous_task_definition_arn"] == world.initial_task_definition
    capsys.readouterr()
    assert main(["status", ENV]) == 0
    status = capsys.readouterr().out
    assert "main-1" in status
    texts = [m.body["text"] for m in world.engine.slack.delivered("deployments")]
    assert texts[0].startswith("🚀 Deploy started — web") and texts[-1].startswith("✅ Deploy succeeded")


def test_a_failing_deployment_is_rolled_back_by_the_circuit_breaker_and_not_twice(
    world: EcsWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    world.engine.push_image(REPO, "main-1")
    good = world.running()
    bad = "sha256:" + "b" * 64
    world.engine.fleet.bad_image(world.image(bad))
    report = world.engine.push_image(REPO, "main-2", digest=bad)[1]

    assert [e.status for e in report.executions] == ["FAILED"]
    assert world.running() == good
    # ECS rolled back once by itself; Harbormaster recorded it and sent no second UpdateService.
    outcomes = [outcome for _, _, outcome in world.engine.fleet.ecs.history]
    assert outcomes == ["COMPLETED", "FAILED", "ROLLED_BACK"]
    failed = history(capsys)[0]
    assert (failed["status"], failed["phase"]) == ("FAILED", "rollout")
    assert "circuit breaker" in failed["reason"] and good.rsplit("/", 1)[-1] in failed["reason"]
    [alert] = world.engine.slack.delivered("critical")
    assert "Deploy failed — web" in alert.body["text"]


def test_a_deployment_that_never_completes_times_out_and_is_reverted_by_harbormaster(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Deployments take the simulator's 30 s: the stalled one times out at 60 s, the revert's completes.
    world = start_world(tmp_path)
    try:
        world.engine.push_image(REPO, "main-1")
        good = world.running()
        digest = "sha256:" + "5" * 64
        world.engine.fleet.ecs.stall(world.image(digest))  # its deployment never completes
        report = world.engine.push_image(REPO, "main-2", digest=digest)[1]

        assert [e.status for e in report.executions] == ["FAILED"]
        assert world.running() == good
        failed = history(capsys)[0]
        assert "not COMPLETED within 60s" in failed["reason"] and "service restored" in failed["reason"]
        assert failed["reverted"] == [f"ecs:{CLUSTER}/{SERVICE}"]
    finally:
        world.engine.stop()


def test_a_guard_alarm_in_the_window_rolls_back_to_the_same_known_good_revision(
    world: EcsWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    world.engine.push_image(REPO, "main-1")
    known_good = world.running()
    world.engine.push_image(REPO, "main-2")
    revisions_before = _revisions()
    world.engine.send_event(alarm_event(ALARM))

    assert world.running() == known_good  # the very revision, not a rebuilt copy
    assert _revisions() == revisions_before
    statuses = [(r["tag"], r["trigger"], r["status"]) for r in reversed(history(capsys))]
    assert statuses == [
        ("main-1", "push", "SUCCEEDED"),
        ("main-2", "push", "ROLLED_BACK"),
        ("main-1", "rollback", "SUCCEEDED"),
    ]


def test_a_service_scaled_to_zero_gets_the_new_revision_and_stays_at_zero(world: EcsWorld) -> None:
    boto3.client("ecs").update_service(cluster=CLUSTER, service=SERVICE, desiredCount=0)
    digest, report = world.engine.push_image(REPO, "main-1")

    assert [e.status for e in report.executions] == ["SUCCEEDED"]
    assert world.image_running() == world.image(digest)
    assert world.service()["desiredCount"] == 0


def test_a_service_not_tagged_for_the_environment_is_refused_untouched(
    world: EcsWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    ecs = boto3.client("ecs")
    ecs.untag_resource(resourceArn=world.service()["serviceArn"], tagKeys=["harbormaster:environment"])
    report = world.engine.push_image(REPO, "main-1")[1]

    assert [e.status for e in report.executions] == ["FAILED"]
    assert world.running() == world.initial_task_definition
    assert _revisions() == [world.initial_task_definition]
    [release] = history(capsys)
    assert release["phase"] == "prepare" and "not tagged harbormaster:environment=web" in release["reason"]


def _revisions() -> list[str]:
    return list(boto3.client("ecs").list_task_definitions(familyPrefix=f"{CLUSTER}-{SERVICE}")["taskDefinitionArns"])
