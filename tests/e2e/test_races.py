"""Races replayed deterministically: the engine holds one Lambda's AWS call at a named point
(`engine.pause`), the test makes the other thing happen, then lets the call go. Each test is an
interleaving that left a fleet or the ledger wrong before the fence, the queue transactions and
the convergence check existed; none waits on a sleep."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from harbormaster.local.engine import Execution
from tests.conftest import wait_for
from tests.e2e.deploy_world import ENV, REPO, World, history, put_guard_alarm, start_world
from tests.e2e.test_rollback import ALARM, GUARDED, alarm_event, alarm_response

pytestmark = pytest.mark.e2e
V2 = "sha256:" + "2" * 64
V3 = "sha256:" + "3" * 64


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    started = start_world(tmp_path, config=GUARDED)
    put_guard_alarm(ALARM)
    yield started
    started.engine.stop()


def deploy_command_of(digest: str) -> Any:
    return lambda params: params.get("Parameters", {}).get("ImageUri", [""])[0].endswith(digest)


def transaction_on(sort_key: str, kind: str) -> Any:
    """A TransactWriteItems call with a `kind` action (Put, Update, ...) on the item `sort_key`."""
    return lambda params: any(
        action.get(kind, {}).get("Item", action.get(kind, {}).get("Key", {})).get("sk", {}).get("S") == sort_key
        for action in params.get("TransactItems", [])
    )


def healthy_targets(world: World) -> set[str]:
    described = boto3.client("elbv2").describe_target_health(TargetGroupArn=world.target_group)
    return {d["Target"]["Id"] for d in described["TargetHealthDescriptions"] if d["TargetHealth"]["State"] == "healthy"}


def statuses(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    return {
        str(r.get("tag")) + ("/rollback" if r["trigger"] == "rollback" else ""): r["status"] for r in history(capsys)
    }


def item(world: World, sort_key: str) -> dict[str, Any] | None:
    table = boto3.resource("dynamodb").Table(world.engine.stack.outputs["TableName"])
    found: dict[str, Any] | None = table.get_item(Key={"pk": f"ENV#{ENV}", "sk": sort_key}).get("Item")
    return found


def execution(world: World, digest: str) -> Execution:
    [found] = [e for e in world.engine.executions() if digest[7:19] in e.name or digest[7:19] in str(e.output)]
    return found


def test_a_command_sent_after_the_rollback_by_a_step_that_checked_before_it_changes_nothing(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug 1 and bug 2 of the fencing issue, in one interleaving: v2's step has taken an instance
    out of service and checked that v2 is not stopped; before its SendCommand lands, an alarm stops
    v2 and the rollback to v1 runs to the end. The late command must not put v2 back, and the
    instance v2 took out must be back in service on v1."""
    v1, _ = world.engine.push_image(REPO, "v1")
    held = world.engine.pause("ssm", "SendCommand", when=deploy_command_of(V2))
    world.engine.push_image(REPO, "v2", digest=V2, wait=False)
    [victim] = held.wait_until_reached()["InstanceIds"]
    assert victim not in healthy_targets(world)  # v2's step deregistered it

    report = world.engine.send_event(alarm_event())
    assert [d["action"] for d in alarm_response(report)["decisions"]] == ["stopped_and_rolled_back"]
    held.resume()  # the stale step's SendCommand lands now, after the rollback's commands
    fleet = world.engine.fleet
    landed = lambda: (  # noqa: E731 - refused by the fence, or run
        any(instance == victim for instance, *_ in fleet.superseded)
        or any(instance == victim and image.endswith(V2) for instance, image, _ in fleet.commands)
    )
    wait_for(landed, what="the stale command landing")
    world.engine.settle()

    assert world.images() == dict.fromkeys(world.instances, world.image(v1))
    assert healthy_targets(world) == set(world.instances)
    [(_, release, desired)] = [s for s in world.engine.fleet.superseded if s[0] == victim]
    assert release.endswith(V2[7:19]) and desired != release
    assert statuses(capsys) == {"v2": "ROLLED_BACK", "v1/rollback": "SUCCEEDED", "v1": "SUCCEEDED"}


def test_an_image_queued_while_the_lock_is_released_is_not_lost(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """The lost wake-up: v3's Prepare finds the lock held by v2 and is about to queue; meanwhile
    v2 finishes, releases the lock and finds nothing waiting. v3 must still deploy."""
    world.engine.push_image(REPO, "v1")
    held = world.engine.pause("dynamodb", "TransactWriteItems", when=transaction_on("PENDING", "Put"))
    world.engine.push_image(REPO, "v2", digest=V2, wait=False)
    wait_for(lambda: V2[7:19] in str((item(world, "LOCK") or {}).get("release_id")), what="v2 holding the lock")
    world.engine.push_image(REPO, "v3", digest=V3, wait=False)
    held.wait_until_reached()  # v3 is about to queue behind v2
    wait_for(lambda: execution(world, V2).status == "SUCCEEDED", timeout=120, what="v2's deploy finishing")
    held.resume()
    world.engine.settle()

    assert world.images() == dict.fromkeys(world.instances, world.image(V3))
    assert statuses(capsys)["v3"] == "SUCCEEDED"
    assert item(world, "PENDING") is None and item(world, "LOCK") is None


@pytest.mark.parametrize("after", [False, True], ids=["before-it-is-current", "after-it-is-current"])
def test_an_alarm_during_finalize_rolls_that_release_back_never_to_it(
    world: World, capsys: pytest.CaptureFixture[str], after: bool
) -> None:
    v1, _ = world.engine.push_image(REPO, "v1")
    held = world.engine.pause("dynamodb", "TransactWriteItems", when=transaction_on("CURRENT", "Put"), after=after)
    world.engine.push_image(REPO, "v2", digest=V2, wait=False)
    held.wait_until_reached()  # v2's Finalize is making it the current release
    report = world.engine.send_event(alarm_event())
    assert [d["action"] for d in alarm_response(report)["decisions"]] == ["stopped_and_rolled_back"]
    held.resume()
    world.engine.settle()

    assert world.images() == dict.fromkeys(world.instances, world.image(v1))
    assert statuses(capsys) == {"v2": "ROLLED_BACK", "v1/rollback": "SUCCEEDED", "v1": "SUCCEEDED"}
    assert (item(world, "CURRENT") or {}).get("digest") == v1


def test_a_stale_update_service_after_the_rollback_is_undone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ECS: v2's step checked that v2 holds the environment; before its UpdateService lands, an
    alarm stops v2 and the rollback to v1's revision completes. The late update must not leave
    the service on v2's revision."""
    from tests.e2e import test_ecs

    world = test_ecs.start_world(tmp_path)
    try:
        world.engine.push_image(test_ecs.REPO, "main-1")
        known_good = world.running()
        held = world.engine.pause("ecs", "UpdateService", when=lambda params: params["taskDefinition"] != known_good)
        world.engine.push_image(test_ecs.REPO, "main-2", wait=False)
        held.wait_until_reached()
        report = world.engine.send_event(alarm_event(test_ecs.ALARM))
        assert [d["action"] for d in alarm_response(report)["decisions"]] == ["stopped_and_rolled_back"]
        assert world.running() == known_good  # the rollback is done
        held.resume()
        world.engine.settle()
        assert world.running() == known_good
        statuses = {r["tag"]: r["status"] for r in test_ecs.history(capsys) if r["trigger"] == "push"}
        assert statuses == {"main-1": "SUCCEEDED", "main-2": "ROLLED_BACK"}
    finally:
        world.engine.stop()


def test_a_forward_step_that_outlived_its_failed_map_cannot_undo_the_revert(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """When a batch fails, Step Functions fails the Map, but a Lambda call of it that was already
    running (or is retried late) goes on: Lambda does not stop it. The interleaving: v2 fails on
    the second instance; the revert has put the first back on v1; then v2's step that sends the
    first instance's command runs again, late. Under the release's own fence that command used to
    run and leave the first instance on v2; the revert's fence of its own (`<release>:revert`)
    refuses it."""
    v1, _ = world.engine.push_image(REPO, "v1")
    first, second = world.instances[:2]  # one instance per batch, in id order
    world.engine.fleet.fail_next_command(second)
    reverted = world.engine.pause(
        "ssm",
        "SendCommand",
        when=lambda params: deploy_command_of(v1)(params) and params["InstanceIds"] == [first],
        after=True,
    )
    world.engine.push_image(REPO, "v2", digest=V2, wait=False)
    reverted.wait_until_reached()
    assert world.images()[first] == world.image(v1)  # the revert's command ran; its step is held

    [late] = [  # v2's step that sent the command on the first instance, replayed late
        i.event
        for i in world.engine.runtime.invocations
        if i.logical_id == "BatchStepFunction"
        and i.event.get("instance_ids") == [first]
        and (i.response or {}).get("phase") == "commanding"
        and i.event["settings"]["image_uri"].endswith(V2)
    ]
    stale = world.engine.invoke("BatchStepFunction", late)
    reverted.resume()
    world.engine.settle()

    assert stale.response["phase"] == "superseded", stale.response
    assert world.images()[first] == world.image(v1)
    assert first in healthy_targets(world)
    assert statuses(capsys)["v2"] == "FAILED"


@pytest.mark.parametrize("listing", ["answered", "throttled past every retry"])
def test_an_alarm_cancels_the_stopped_releases_commands_still_waiting_for_an_instance(
    world: World, capsys: pytest.CaptureFixture[str], listing: str
) -> None:
    """v2's command waits for a busy agent when an alarm stops v2: the alarm cancels it, so it
    never runs (not even to be refused by the fence), and the rollback's command is the one the
    agent picks up. When the cancel cannot be made (ListCommands fails), the rollback is the same
    and the fence refuses the stale command instead."""
    v1, _ = world.engine.push_image(REPO, "v1")
    busy = world.instances[0]
    world.engine.fleet.hold_delivery(busy)
    world.engine.push_image(REPO, "v2", digest=V2, wait=False)
    wait_for(lambda: world.engine.fleet.waiting(busy) == [world.image(V2)], what="v2's command waiting for the agent")
    [stale] = boto3.client("ssm").list_commands(InstanceId=busy, Filters=[{"key": "Status", "value": "Pending"}])[
        "Commands"
    ]
    if listing != "answered":
        world.engine.fleet.throttle("ssm", "ListCommands", times=100)
    world.engine.send_event(alarm_event(), wait=False)
    wait_for(lambda: world.engine.fleet.waiting(busy)[-1:] == [world.image(v1)], what="the rollback's command waiting")
    world.engine.fleet.deliver(busy)
    world.engine.settle()

    ssm = boto3.client("ssm")
    stale_status = ssm.get_command_invocation(CommandId=stale["CommandId"], InstanceId=busy)["Status"]
    if listing == "answered":
        assert stale_status == "Cancelled"
        assert world.engine.fleet.superseded == []  # it never reached the instance's fence
    else:
        assert stale_status == "Failed"  # exit 75: refused by the fence
        assert [entry[:2] for entry in world.engine.fleet.superseded] == [(busy, stale_release(stale))]
    assert (busy, world.image(V2), "Success") not in world.engine.fleet.commands
    assert world.images()[busy] == world.image(v1) and busy in healthy_targets(world)
    assert statuses(capsys)["v2"] == "ROLLED_BACK"


def stale_release(command: dict[str, Any]) -> str:
    return str(command["Parameters"]["ReleaseId"][0])


def test_an_alarm_during_the_first_deploy_with_nothing_to_return_to_does_not_strand_it(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by the property test: an alarm stopped the environment's first deploy, found no
    known-good release, and left that release IN_PROGRESS and its instance out of service for
    good. With nothing to return to, the deploy goes on (its bake fails it if the alarm holds),
    and a critical event says so."""
    held = world.engine.pause("ssm", "SendCommand", when=deploy_command_of(V2))
    world.engine.push_image(REPO, "v2", digest=V2, wait=False)
    held.wait_until_reached()
    world.engine.send_event(alarm_event(), wait=False)
    wait_for(lambda: alarm_actions(world), what="the alarm's decision")
    held.resume()
    world.engine.settle()

    assert alarm_actions(world) == ["no_known_good"]
    assert statuses(capsys) == {"v2": "SUCCEEDED"}  # the alarm no longer holds at bake (moto's state)
    assert item(world, "LOCK") is None
    assert set(world.images().values()) == {world.image(V2)} and healthy_targets(world) == set(world.instances)
    critical = [json.dumps(m.body) for m in world.engine.slack.delivered("critical")]
    assert any("no known-good release to return to; the deploy goes on" in body for body in critical), critical


def alarm_actions(world: World) -> list[str]:
    """What the alarm function decided for the environment, oldest first (its ALARM# records)."""
    table = boto3.resource("dynamodb").Table(world.engine.stack.outputs["TableName"])
    found = table.query(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :a)",
        ExpressionAttributeValues={":pk": f"ENV#{ENV}", ":a": "ALARM#"},
    )["Items"]
    return [str(record["action"]) for record in found]


def test_an_instance_taken_out_just_before_the_alarm_is_put_back_by_the_rollback(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by the property test: v2's step deregistered an instance and the alarm's rollback was
    planned before the step recorded that it had touched it. The rollback never saw the instance
    (not in the target group, not touched), rolled the others one at a time below min_healthy,
    and left it out of service. The step now records the touch before it deregisters, and the
    rollback's convergence check reads the stopped release's touches again at its end."""
    v1, _ = world.engine.push_image(REPO, "v1")
    held = world.engine.pause("elbv2", "DeregisterTargets", when=lambda _: True, after=True)
    world.engine.push_image(REPO, "v2", digest=V2, wait=False)
    [victim] = [t["Id"] for t in held.wait_until_reached()["Targets"]]

    world.engine.send_event(alarm_event())
    held.resume()
    world.engine.settle()

    assert world.images() == dict.fromkeys(world.instances, world.image(v1))
    assert healthy_targets(world) == set(world.instances), f"{victim} was taken out by v2"
    assert world.engine.fleet.min_healthy_seen(world.target_group) >= 2  # min_healthy 50% of 4
    assert statuses(capsys) == {"v2": "ROLLED_BACK", "v1/rollback": "SUCCEEDED", "v1": "SUCCEEDED"}
