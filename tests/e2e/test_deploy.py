"""Deploy on push, through the local engine on the real template and ASL (issue: deploy on push)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import boto3
import pytest

from tests.conftest import wait_for
from tests.e2e.deploy_world import ENV, REPO, World, config, history, start_world

pytestmark = pytest.mark.e2e


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    started = start_world(tmp_path)
    yield started
    started.engine.stop()


def lock_item() -> dict[str, object] | None:
    table = boto3.resource("dynamodb").Table(boto3.client("dynamodb").list_tables()["TableNames"][0])
    return table.get_item(Key={"pk": f"ENV#{ENV}", "sk": "LOCK"}).get("Item")


def test_a_push_rolls_the_whole_fleet_never_below_min_healthy(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    digest, report = world.engine.push_image(REPO, "v2")

    assert [e.status for e in report.executions] == ["SUCCEEDED"]
    assert set(world.images().values()) == {world.image(digest)}
    # The recorded timeline of target states: never fewer healthy registered targets than 50% of 4.
    assert world.engine.fleet.min_healthy_seen(world.target_group) >= math.ceil(4 * 0.5)
    assert world.engine.fleet.min_healthy_seen(world.target_group) == 3  # batch: 1
    [release] = history(capsys)
    assert (release["status"], release["tag"], release["instances_done"]) == ("SUCCEEDED", "v2", 4)
    assert lock_item() is None
    texts = [m.body["text"] for m in world.engine.slack.delivered("deployments")]
    assert texts[0].startswith("🚀 Deploy started — api-prod") and texts[-1].startswith("✅ Deploy succeeded")


def test_an_image_that_never_gets_healthy_fails_in_batch_1_and_is_reverted(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    v2, _ = world.engine.push_image(REPO, "v2")
    v3 = "sha256:" + "3" * 64
    world.engine.fleet.bad_image(world.image(v3))
    commands_before = len(world.engine.fleet.commands)
    report = world.engine.push_image(REPO, "v3", digest=v3)[1]

    first = world.instances[0]
    assert [e.status for e in report.executions] == ["FAILED"]
    assert world.images() == dict.fromkeys(world.instances, world.image(v2))  # first is back on v2
    commanded = {instance for instance, _, _ in world.engine.fleet.commands[commands_before:]}
    assert commanded == {first}  # the others were never touched
    failed = history(capsys)[0]
    assert failed["status"] == "FAILED" and failed["phase"] == "rollout"
    assert "batch 1" in failed["reason"] and "did not become healthy" in failed["reason"]
    assert failed["reverted"] == [first]
    assert lock_item() is None
    [alert] = world.engine.slack.delivered("critical")
    assert "Deploy failed — api-prod" in alert.body["text"] and "did not become healthy" in json.dumps(alert.body)
    parameter = boto3.client("ssm").get_parameter(Name=f"/harbormaster/{ENV}/image")["Parameter"]["Value"]
    assert parameter == world.image(v2)  # instances the ASG launches get the good image again


def test_a_failing_ssm_command(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.engine.push_image(REPO, "v2")
    world.engine.fleet.fail_next_command(world.instances[0])
    _, report = world.engine.push_image(REPO, "v3")
    assert [e.status for e in report.executions] == ["FAILED"]
    failed = history(capsys)[0]
    assert "simulated failure" in failed["reason"] and failed["status"] == "FAILED"
    assert lock_item() is None


def test_a_failure_in_the_last_batch_is_reverted_batch_by_batch_never_below_min_healthy(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three batches succeed, the fourth fails: the revert puts the failed batch back first (it is
    out of service already), then each earlier batch on its own, never all four out at once."""
    v2, _ = world.engine.push_image(REPO, "v2")
    world.engine.fleet.fail_next_command(world.instances[3])  # the last batch (batch: 1, sorted)
    first_point, first_command = len(world.engine.fleet.timeline), len(world.engine.fleet.commands)
    _, report = world.engine.push_image(REPO, "v3")

    assert [e.status for e in report.executions] == ["FAILED"]
    assert set(world.images().values()) == {world.image(v2)}
    points = [p for p in world.engine.fleet.timeline[first_point:] if p.target_group == world.target_group]
    assert min(len(p.healthy & p.registered) for p in points) >= math.ceil(4 * 0.5)
    reverts = [(i, image) for i, image, _ in world.engine.fleet.commands[first_command:] if image == world.image(v2)]
    assert [i for i, _ in reverts] == list(reversed(world.instances))  # newest batch first, one at a time
    assert history(capsys)[0]["reverted"] == sorted(world.instances)


def test_status_shows_each_instance_and_whether_it_converged(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    from harbormaster.cli.main import main

    v2, _ = world.engine.push_image(REPO, "v2")
    world.engine.fleet.never_healthy(world.instances[1])  # v3 fails there, and the revert cannot cure it
    world.engine.push_image(REPO, "v3")
    capsys.readouterr()
    assert main(["status", ENV, "--output", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    by_instance = {i["instance"]: i for i in row["instances"]}
    assert set(by_instance) == set(world.instances)
    assert all(i["image"] == v2[:19] for i in by_instance.values())  # the revert put v2 back everywhere
    assert [i for i, r in by_instance.items() if not r["converged"]] == [world.instances[1]]
    assert by_instance[world.instances[1]]["target"] == "unhealthy"
    # One instance the revert could not cure did not stop it: the others are back, and it is named.
    failed = history(capsys)[0]
    assert f"the revert could not restore {world.instances[1]}" in failed["reason"]
    assert world.instances[1] not in failed["reverted"] and world.instances[0] in failed["reverted"]
    assert main(["status", ENV]) == 0
    table = capsys.readouterr().out
    assert "CONVERGED" in table and world.instances[1] in table


def test_a_target_that_never_turns_healthy_times_out(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    v2, _ = world.engine.push_image(REPO, "v2")
    world.engine.fleet.never_healthy(world.instances[0])
    _, report = world.engine.push_image(REPO, "v3")
    assert [e.status for e in report.executions] == ["FAILED"]
    # The configured 2 s is raised to what the target group needs: 5 checks x 30 s, plus 2 checks.
    assert "did not become healthy in the target group within 210s" in history(capsys)[0]["reason"]
    assert world.images()[world.instances[1]] == world.image(v2)


def test_throttling_on_describe_target_health_is_absorbed(world: World) -> None:
    world.engine.fleet.throttle("elbv2", "DescribeTargetHealth", times=4)
    digest, report = world.engine.push_image(REPO, "v2")
    assert [e.status for e in report.executions] == ["SUCCEEDED"]
    assert set(world.images().values()) == {world.image(digest)}
    assert world.engine.fleet.faults.throttles[("elbv2", "DescribeTargetHealth")] == 0


def test_an_instance_terminated_mid_deploy_is_skipped(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    gone = world.instances[2]
    world.engine.fleet.terminate_when_commanded(gone)
    digest, report = world.engine.push_image(REPO, "v2")
    assert [e.status for e in report.executions] == ["SUCCEEDED"]
    assert {i for i, image in world.images().items() if image == world.image(digest)} == set(world.instances) - {gone}
    assert history(capsys)[0]["instances_done"] == 3


def test_pushes_during_a_deploy_wait_and_the_newest_wins(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    slow = start_world(tmp_path, config=config(drain_seconds=1))
    try:
        engine = slow.engine
        engine.push_image(REPO, "v2", wait=False)
        wait_for(lambda: lock_item() is not None)  # v2 holds the lock before the others arrive
        engine.push_image(REPO, "v3", wait=False)
        # Event times have one-second precision (as EventBridge's): v4 is newer by a second, so
        # "newest" does not depend on which Prepare runs first (their scans finish in any order).
        engine.clock.advance(timedelta(seconds=1))
        v4, _ = engine.push_image(REPO, "v4", wait=False)
        engine.settle()

        by_tag = {r["tag"]: r["status"] for r in history(capsys)}
        assert by_tag == {"v2": "SUCCEEDED", "v3": "SKIPPED", "v4": "SUCCEEDED"}
        assert set(slow.images().values()) == {slow.image(v4)}
        assert sorted(e.status for e in engine.executions()) == ["SUCCEEDED"] * 4  # v2, v3 & v4 queued, v4 run
    finally:
        slow.engine.stop()


def test_a_digest_queued_twice_starts_both_times(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Queued executions are named after the queued request, not the digest: the second queueing of
    an image within 90 days (closed names stay taken) still starts."""
    slow = start_world(tmp_path, config=config(drain_seconds=1))
    try:
        engine = slow.engine
        engine.push_image(REPO, "v2", wait=False)
        wait_for(lambda: lock_item() is not None)
        b, _ = engine.push_image(REPO, "v3", content="image-b", wait=False)  # waits behind v2
        engine.settle()
        engine.push_image(REPO, "v4", wait=False)
        wait_for(lambda: lock_item() is not None)
        engine.push_image(REPO, "v3-again", digest=b, wait=False)  # the same image waits again
        engine.settle()

        by_tag = {r["tag"]: r["status"] for r in history(capsys)}
        assert by_tag == {"v2": "SUCCEEDED", "v3": "SUCCEEDED", "v4": "SUCCEEDED", "v3-again": "SUCCEEDED"}
        assert set(slow.images().values()) == {slow.image(b)}
        assert all(e.status == "SUCCEEDED" for e in engine.executions())
    finally:
        slow.engine.stop()


def test_a_deploy_that_cannot_announce_its_start_fails_cleanly_and_frees_the_environment(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """NotifyStarted fails (the alert topic is gone) after Prepare took the lock: the deploy ends
    FAILED in the ledger, nothing was touched, and the lock is free for the next push."""
    boto3.client("sns").delete_topic(TopicArn=world.engine.stack.outputs["AlertTopicArn"])
    _, report = world.engine.push_image(REPO, "v2")
    assert [e.status for e in report.executions] == ["FAILED"]
    assert lock_item() is None
    [release] = history(capsys)
    assert release["status"] == "FAILED"
    assert set(world.images().values()) == {"v1"} and world.engine.fleet.commands == []


def test_the_running_image_pushed_again_is_skipped_with_the_reason(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """A new push event of the digest that runs (another tag, or again): its own execution, which
    Prepare ends as SKIPPED without touching the fleet. (The same *event* twice starts nothing:
    test_first_path.)"""
    digest, _ = world.engine.push_image(REPO, "v2", content="fixed")
    commands = len(world.engine.fleet.commands)
    again = world.engine.push_image(REPO, "v2-alias", digest=digest)[1]
    assert [e.status for e in again.executions] == ["SUCCEEDED"]
    assert len(world.engine.fleet.commands) == commands
    skipped, deployed = history(capsys)[:2]
    assert (
        skipped["status"] == "SKIPPED" and f"release {deployed['release_id']} deployed this image" in skipped["reason"]
    )


def test_a_digest_deployed_before_deploys_again_after_another_release(world: World) -> None:
    """A revert commit that rebuilds the same image: the digest had a deploy execution before, and
    its name must not stop the new one (a closed execution's name stays taken for 90 days)."""
    a, _ = world.engine.push_image(REPO, "v2", content="image-a")
    b, _ = world.engine.push_image(REPO, "v3", content="image-b")
    assert set(world.images().values()) == {world.image(b)}
    _, report = world.engine.push_image(REPO, "v4", digest=a)
    assert [e.status for e in report.executions] == ["SUCCEEDED"]
    assert set(world.images().values()) == {world.image(a)}


def test_deadlines_follow_the_target_group_on_the_virtual_clock(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """The world's group has AWS's defaults (300 s draining, 150 s to healthy) and the configuration
    says 0 s / 2 s: a real ALB would fail such a deploy, so the plan uses the group's own timing,
    and the engine's clock shows the time a batch really takes (no real sleeping)."""
    started = world.engine.clock.now
    wall = time.monotonic()
    _, report = world.engine.push_image(REPO, "v2")
    assert [e.status for e in report.executions] == ["SUCCEEDED"]
    assert (world.engine.clock.now - started).total_seconds() >= 4 * (300 + 150)  # 4 batches of one
    assert time.monotonic() - wall < 60
    started_event = next(r for r in report.slack if "started" in json.dumps(r.body))
    assert "shorter than the target group needs" in json.dumps(started_event.body)
