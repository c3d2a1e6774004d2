"""ECS deployments are awaited, not polled: the execution parks on a task token until ECS's
`ECS Deployment State Change` event, and a look after the park's timeout covers a lost event.
Both ways of waking (the event's handler, the parking step finding the deployment already over)
race for one token; each interleaving is played deterministically."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.e2e.test_ecs import CONFIG, REPO, EcsWorld, start_world

pytestmark = pytest.mark.e2e

LONG = CONFIG.replace("deployment_timeout_seconds: 60", "deployment_timeout_seconds: 7200")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[EcsWorld]:
    started = start_world(tmp_path, LONG)
    yield started
    started.engine.stop()


def _history(execution_arn: str) -> list[dict[str, Any]]:
    return list(boto3.client("stepfunctions").get_execution_history(executionArn=execution_arn)["events"])


def _transitions(execution_arn: str) -> int:
    return sum(1 for e in _history(execution_arn) if e["type"].endswith("StateEntered"))


def _entered(execution_arn: str) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"] for e in _history(execution_arn) if e["type"].endswith("StateEntered")
    ]


def _deploy(world: EcsWorld, tag: str, minutes: float) -> tuple[str, int]:
    world.engine.fleet.ecs.rollout_seconds = int(minutes * 60)
    started = world.engine.clock.now
    _, report = world.engine.push_image(REPO, tag)
    [execution] = report.executions
    assert execution.status == "SUCCEEDED", execution
    took = world.engine.clock.now - started
    assert took >= timedelta(minutes=minutes)  # the execution really waited for the deployment
    return execution.arn, _transitions(execution.arn)


def test_the_transitions_do_not_grow_with_the_deployments_duration(world: EcsWorld) -> None:
    _, short_count = _deploy(world, "main-1", minutes=1)
    long, long_count = _deploy(world, "main-2", minutes=9)

    assert short_count == long_count <= 25
    # Parked once, woken by ECS's event: no look in between, and no Wait state at all.
    assert _entered(long).count("EcsAwait") == 1
    assert _entered(long).count("EcsStep") == 2
    woken = [e for e in world.engine.runtime.invocations if e.logical_id == "WakeFunction"]
    assert [list(w.response["woken"].values()) for w in woken] == [[[r]] for r in _parked_releases(world)]


def test_a_lost_event_is_covered_by_a_look_after_the_parks_timeout(world: EcsWorld) -> None:
    world.engine.fleet.ecs.lose_events = True  # ECS announces nothing: only the fallback can see the end
    started = world.engine.clock.now
    arn, _ = _deploy(world, "main-1", minutes=1)

    timed_out = [e for e in _history(arn) if e["type"] == "TaskTimedOut"]
    assert len(timed_out) == 1  # the park's timeout, on the virtual clock
    assert world.engine.clock.now - started >= timedelta(seconds=600)  # FALLBACK_SECONDS
    assert _entered(arn).count("EcsAwait") == 1 and _entered(arn).count("EcsStep") == 2
    assert not [e for e in world.engine.runtime.invocations if e.logical_id == "WakeFunction"]


def test_an_end_announced_before_the_token_was_kept_is_seen_by_the_parking_step(world: EcsWorld) -> None:
    """The event comes first and finds no token; the step, once it kept its token, looks, finds
    the deployment over and wakes the execution itself."""
    engine = world.engine
    held = engine.pause("dynamodb", "PutItem", when=_parks)
    engine.push_image(REPO, "main-1", wait=False)
    held.wait_until_reached()
    _end_deployment_and_announce(world)
    [wake] = [e for e in engine.runtime.invocations if e.logical_id == "WakeFunction"]
    assert list(wake.response["woken"].values()) == [[]]  # nobody parked yet
    held.resume()
    engine.settle()

    [execution] = engine.executions()
    assert execution.status == "SUCCEEDED"
    assert _park_outcomes(world) == ["woken"]
    assert _sent_once(execution.arn)


def test_an_end_announced_while_the_step_looks_wakes_the_execution_once(world: EcsWorld) -> None:
    """The token is kept; before the step's own look, the deployment ends and the event's handler
    claims the token and sends it. The step's look then also finds the deployment over: its claim
    fails, and the token is not sent twice."""
    engine = world.engine
    held = engine.pause("dynamodb", "PutItem", when=_parks, after=True)
    engine.push_image(REPO, "main-1", wait=False)
    held.wait_until_reached()
    _end_deployment_and_announce(world)
    [wake] = [e for e in engine.runtime.invocations if e.logical_id == "WakeFunction"]
    [woken] = wake.response["woken"].values()
    assert len(woken) == 1  # the handler claimed the token and sent it
    held.resume()
    engine.settle()

    [execution] = engine.executions()
    assert execution.status == "SUCCEEDED"
    assert _park_outcomes(world) == ["claimed"]
    assert _sent_once(execution.arn)


def _parks(params: dict[str, Any]) -> bool:
    return str(params.get("Item", {}).get("pk", {}).get("S", "")).startswith("WAITING#")


def _end_deployment_and_announce(world: EcsWorld) -> None:
    """What AWS does meanwhile: the deployment reaches its end, ECS announces it on the bus."""
    assert world.engine.timers.fire_next()
    world.engine.deliver_announced()


def _park_outcomes(world: EcsWorld) -> list[str]:
    parks = [
        i for i in world.engine.runtime.invocations if i.logical_id == "EcsStepFunction" and "task_token" in i.event
    ]
    return [str(i.response["parked"]) for i in parks]


def _sent_once(execution_arn: str) -> bool:
    return sum(1 for e in _history(execution_arn) if e["type"] == "TaskSucceeded") == 1


def _parked_releases(world: EcsWorld) -> list[str]:
    parks = [
        i for i in world.engine.runtime.invocations if i.logical_id == "EcsStepFunction" and "task_token" in i.event
    ]
    return [str(i.event["task"]["release_id"]) for i in parks]


def test_a_late_or_repeated_event_and_a_stale_token_change_nothing(world: EcsWorld) -> None:
    """EventBridge delivers at least once: the same event again finds no token. A token left by an
    execution that is over (its item not yet swept by TTL) is claimed, refused by Step Functions
    (InvalidToken / TaskTimedOut) and dropped, without failing the handler."""
    from harbormaster.state.waiting import Waiting

    arn, _ = _deploy(world, "main-1", minutes=1)
    [wake] = [e for e in world.engine.runtime.invocations if e.logical_id == "WakeFunction"]
    service_arn = next(iter(wake.response["woken"]))
    waiting = Waiting()
    waiting.park(service_arn, "stale-release", "an-old-token", world.engine.clock.now, world.engine.clock.now)

    again = world.engine.invoke("WakeFunction", wake.event)

    assert again.error is None and again.response["woken"] == {service_arn: []}
    assert waiting.parked(service_arn) == []  # the stale item was claimed and dropped
    assert [e["type"] for e in _history(arn)][-1] == "ExecutionSucceeded"


@pytest.mark.parametrize(
    "event",
    [
        {"detail-type": "ECS Deployment State Change", "source": "aws.ecs", "detail": {}},
        {"detail-type": "ECS Deployment State Change", "source": "aws.ecs", "detail": {"eventName": ""}},
        "not an event",
    ],
)
def test_a_malformed_event_is_rejected_with_the_reason_and_wakes_nothing(world: EcsWorld, event: Any) -> None:
    invocation = world.engine.invoke("WakeFunction", event)
    assert invocation.error is None
    assert invocation.response["rejected"] == "not a valid ECS Deployment State Change event"


def test_the_simulated_service_announces_its_deployments_as_ecs_does(world: EcsWorld) -> None:
    """Same keys and values as the samples from the ECS documentation, for a completed deployment
    and one the circuit breaker failed and rolled back."""
    samples = Path(__file__).parents[1] / "fixtures" / "shared-events" / "aws"
    completed = json.loads((samples / "ecs-deployment-state-change-completed.json").read_text())
    ecs = world.engine.fleet.ecs
    _deploy(world, "main-1", minutes=1)
    bad = "sha256:" + "b" * 64
    world.engine.fleet.bad_image(world.image(bad))
    world.engine.push_image(REPO, "main-2", digest=bad)
    names = [e["detail"]["eventName"] for e in ecs.announced]
    assert names == [
        "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "SERVICE_DEPLOYMENT_COMPLETED",  # main-1
        "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "SERVICE_DEPLOYMENT_FAILED",  # main-2: the circuit breaker
        "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "SERVICE_DEPLOYMENT_COMPLETED",  # its rollback to main-1's revision
    ]
    for event in ecs.announced:
        assert event.keys() <= completed.keys() and event["detail"].keys() == completed["detail"].keys()
        assert event["resources"] == [world.service()["serviceArn"]]
    failed = ecs.announced[3]["detail"]
    assert (failed["eventType"], failed["reason"]) == (
        "ERROR",
        "ECS deployment circuit breaker: tasks failed to start.",
    )
    assert "rolling back to deploymentId" in ecs.announced[4]["detail"]["reason"]


def test_a_token_whose_send_fails_is_parked_again_and_the_events_retry_wakes_the_execution(
    world: EcsWorld,
) -> None:
    """Step Functions throttles SendTaskSuccess past every retry of the handler's first try: the
    claimed token goes back into the table and the handler fails, so EventBridge retries it; the
    retry claims the token again and wakes the execution. Nothing waits for the fallback look."""
    world.engine.fleet.throttle("stepfunctions", "SendTaskSuccess", times=8)  # one call's attempts
    arn, _ = _deploy(world, "main-1", minutes=1)

    wakes = [e for e in world.engine.runtime.invocations if e.logical_id == "WakeFunction"]
    assert [w.failed for w in wakes] == [True, False]
    assert list(wakes[1].response["woken"].values()) == [[_parked_releases(world)[0]]]
    assert "TaskTimedOut" not in {e["type"] for e in _history(arn)}
