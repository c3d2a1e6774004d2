"""A batch's deploy commands are awaited, not polled: the batch parks on a task token until Run
Command announces the end (`EC2 Command Status-change Notification`, or an instance's invocation
failing), and a look after the park's timeout covers a lost event. The two ways of waking race for
one token; each interleaving is played deterministically."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from harbormaster.deploy.batch import COMMAND_FALLBACK_SECONDS
from tests.e2e.deploy_world import REPO, World, start_world

pytestmark = pytest.mark.e2e

COMMAND_SECONDS = 90  # a docker pull and a container start


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    started = start_world(tmp_path)
    started.engine.fleet.command_seconds = COMMAND_SECONDS
    yield started
    started.engine.stop()


def _history(execution_arn: str) -> list[dict[str, Any]]:
    return list(boto3.client("stepfunctions").get_execution_history(executionArn=execution_arn)["events"])


def _entered(execution_arn: str) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"] for e in _history(execution_arn) if e["type"].endswith("StateEntered")
    ]


def _wakes(world: World) -> list[Any]:
    return [i for i in world.engine.runtime.invocations if i.logical_id == "WakeFunction"]


def _parks(world: World) -> list[str]:
    steps = [i for i in world.engine.runtime.invocations if i.logical_id == "BatchStepFunction"]
    return [str(i.response["parked"]) for i in steps if "task_token" in i.event]


def _deploy(world: World, tag: str) -> tuple[str, timedelta]:
    started = world.engine.clock.now
    digest, report = world.engine.push_image(REPO, tag)
    [execution] = report.executions
    assert execution.status == "SUCCEEDED", execution
    assert world.images() == dict.fromkeys(world.instances, world.image(digest))
    return execution.arn, world.engine.clock.now - started


def test_each_batch_parks_until_its_command_ends_and_costs_no_more_than_an_instant_command(world: World) -> None:
    arn, took = _deploy(world, "v2")

    assert took >= timedelta(seconds=4 * COMMAND_SECONDS)  # four batches of one, each waited for its command
    assert _entered(arn).count("BatchAwait") == 4 and "TaskTimedOut" not in {e["type"] for e in _history(arn)}
    assert _parks(world) == ["parked"] * 4
    woken = [w.response["woken"] for w in _wakes(world) if any(w.response["woken"].values())]
    assert len(woken) == 4  # one wake per batch, by its command's event
    assert {w.event["detail-type"] for w in _wakes(world)} == {"EC2 Command Status-change Notification"}

    world.engine.fleet.command_seconds = 0  # the same deploy with commands that end at once
    instant, _ = _deploy(world, "v3")
    assert len(_entered(instant)) == len(_entered(arn))


def test_a_lost_event_is_covered_by_a_look_after_the_parks_timeout(world: World) -> None:
    world.engine.fleet.lose_events = True
    arn, took = _deploy(world, "v2")

    timeouts = [e for e in _history(arn) if e["type"] == "TaskTimedOut"]
    assert len(timeouts) == 4  # one look per batch, at the fallback
    assert took >= timedelta(seconds=4 * COMMAND_FALLBACK_SECONDS)
    assert not _wakes(world)


def test_a_failing_instance_wakes_the_batch_and_the_deploy_is_reverted(world: World) -> None:
    _deploy(world, "v2")
    known_good = world.images()
    world.engine.fleet.fail_next_command(world.instances[1])
    before = len(_wakes(world))
    _, report = world.engine.push_image(REPO, "v3")

    [execution] = report.executions
    assert execution.status == "FAILED"
    failed = [w for w in _wakes(world)[before:] if w.event["detail"]["status"] == "Failed"]
    # The instance's invocation event wakes the batch; the command's, just after, finds nothing parked.
    assert [(w.event["detail-type"], sum(map(len, w.response["woken"].values()))) for w in failed] == [
        ("EC2 Command Invocation Status-change Notification", 1),
        ("EC2 Command Status-change Notification", 0),
    ]
    assert world.images() == known_good  # the first instance was put back


def test_a_command_that_ended_before_the_token_was_kept_is_seen_by_the_parking_step(world: World) -> None:
    engine = world.engine
    held = engine.pause("dynamodb", "PutItem", when=_parks_token)
    engine.push_image(REPO, "v2", wait=False)
    held.wait_until_reached()
    assert engine.timers.fire_next()  # the command ends meanwhile and Run Command says so
    engine.deliver_announced()
    assert [list(w.response["woken"].values()) for w in _wakes(world)] == [[[]]]  # nobody parked yet
    held.resume()
    engine.settle()

    [execution] = engine.executions()
    assert execution.status == "SUCCEEDED"
    assert _parks(world)[0] == "woken"


def test_a_command_ending_while_the_step_looks_wakes_the_batch_once(world: World) -> None:
    engine = world.engine
    held = engine.pause("dynamodb", "PutItem", when=_parks_token, after=True)
    engine.push_image(REPO, "v2", wait=False)
    held.wait_until_reached()
    assert engine.timers.fire_next()
    engine.deliver_announced()
    [wake] = _wakes(world)
    assert [len(r) for r in wake.response["woken"].values()] == [1]  # the handler sent the token
    held.resume()
    engine.settle()

    [execution] = engine.executions()
    assert execution.status == "SUCCEEDED"
    assert _parks(world)[0] == "claimed"  # the step's look found it over too, and sent nothing
    first_await = [e for e in _history(execution.arn) if e["type"] == "TaskSucceeded"]
    assert len(first_await) == 4  # one answer per batch


def _parks_token(params: dict[str, Any]) -> bool:
    return str(params.get("Item", {}).get("pk", {}).get("S", "")).startswith("WAITING#")
