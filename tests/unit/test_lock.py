"""The deploy lock, its queue and the fence on their own: a moto table, the stores' injected boto3
session, no engine. Each read-then-write is proven by the interleaving it exists for, replayed
deterministically between the store's read and its transaction."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from harbormaster.state.fence import Fence, revert_of
from harbormaster.state.lock import DeployLock, LockChanged, LockHeld
from tests.conftest import create_items_table

ENV = "api-prod"
DIGEST = "sha256:" + "a" * 64


class InterleavedLock(DeployLock):
    """A lock store that runs `between` once, right after it read the queue (before it writes)."""

    between: Callable[[], Any] | None = None

    def _waiting(self, environment: str) -> dict[str, Any] | None:
        seen = super()._waiting(environment)
        if self.between is not None:
            action, self.between = self.between, None
            action()
        return seen


@pytest.fixture
def session() -> Iterator[boto3.session.Session]:
    with mock_aws():
        create_items_table("lock")
        yield boto3.session.Session(region_name="ap-northeast-2")


def running_execution(session: boto3.session.Session, name: str) -> str:
    """An execution that is RUNNING in moto's Step Functions (a lock holder that is alive)."""
    sfn = session.client("stepfunctions")
    definition = json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}}})
    role = "arn:aws:iam::123456789012:role/sfn"
    machines = {m["name"]: m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]}
    if "m" not in machines:
        machines["m"] = sfn.create_state_machine(name="m", definition=definition, roleArn=role)["stateMachineArn"]
    arn = machines["m"]
    return str(sfn.start_execution(stateMachineArn=arn, name=name)["executionArn"])


def request(release_id: str, requested_at: str) -> dict[str, Any]:
    return {"release_id": release_id, "requested_at": requested_at, "image": {"digest": DIGEST}}


def test_taking_the_lock_publishes_the_fence_and_releasing_withdraws_it(session: boto3.session.Session) -> None:
    lock, fence = DeployLock("lock", session), Fence("lock", session)
    owner = running_execution(session, "first")
    assert lock.acquire(ENV, owner, "r1", DIGEST, "2026-12-04T01:00:00+00:00") is None
    assert fence.desired(ENV) == "r1"
    with pytest.raises(LockHeld) as held:
        lock.acquire(ENV, running_execution(session, "second"), "r2", DIGEST, "2026-12-04T01:01:00+00:00")
    assert held.value.owner == owner and fence.desired(ENV) == "r1"
    assert not lock.release(ENV, "someone-else", "r1")  # only the owner releases
    assert lock.release(ENV, owner, "r1")
    assert lock.holder(ENV) is None and fence.desired(ENV) is None


def test_a_stale_lock_is_taken_over(session: boto3.session.Session) -> None:
    lock = DeployLock("lock", session)
    gone = "arn:aws:states:ap-northeast-2:123456789012:execution:m:gone"  # no such execution
    lock.acquire(ENV, gone, "r1", DIGEST, "2026-12-04T01:00:00+00:00")
    assert lock.acquire(ENV, "new-owner", "r2", DIGEST, "2026-12-04T01:01:00+00:00") == gone
    assert Fence("lock", session).desired(ENV) == "r2"


def test_an_image_queued_between_the_release_read_and_its_write_is_not_lost(session: boto3.session.Session) -> None:
    """The lost wake-up: Finalize reads an empty queue; before it releases, Prepare queues an
    image behind the holder it saw. The release fails (LockChanged), changes nothing, and the
    retry takes the image."""
    lock = InterleavedLock("lock", session)
    owner = running_execution(session, "holder")
    lock.acquire(ENV, owner, "r1", DIGEST, "2026-12-04T01:00:00+00:00")
    queued = request("r2", "2026-12-04T01:02:00+00:00")
    lock.between = lambda: DeployLock("lock", session).queue_behind(ENV, owner, queued)
    with pytest.raises(LockChanged):
        lock.release_and_take_pending(ENV, owner, "r1")
    assert lock.holder(ENV) is not None  # nothing was released
    assert lock.release_and_take_pending(ENV, owner, "r1") == (True, queued)
    assert lock.holder(ENV) is None and lock._waiting(ENV) is None


def test_queueing_behind_a_holder_that_just_released_fails_instead_of_waiting_forever(
    session: boto3.session.Session,
) -> None:
    lock = InterleavedLock("lock", session)
    owner = running_execution(session, "holder")
    lock.acquire(ENV, owner, "r1", DIGEST, "2026-12-04T01:00:00+00:00")
    lock.between = lambda: DeployLock("lock", session).release_and_take_pending(ENV, owner, "r1")
    with pytest.raises(LockChanged):
        lock.queue_behind(ENV, owner, request("r2", "2026-12-04T01:02:00+00:00"))
    assert lock._waiting(ENV) is None  # nothing queued behind a lock nobody holds: Prepare takes it


def test_the_newest_waiting_image_wins(session: boto3.session.Session) -> None:
    lock = DeployLock("lock", session)
    owner = running_execution(session, "holder")
    lock.acquire(ENV, owner, "r1", DIGEST, "2026-12-04T01:00:00+00:00")
    older, newer = request("r2", "2026-12-04T01:02:00+00:00"), request("r3", "2026-12-04T01:03:00+00:00")
    assert lock.queue_behind(ENV, owner, newer) is None
    assert lock.queue_behind(ENV, owner, older) == older  # refused: it is the one superseded
    waiting = lock._waiting(ENV)
    assert waiting is not None and waiting["request"]["release_id"] == "r3"


def test_the_revert_takes_the_fence_only_while_its_release_holds_it(session: boto3.session.Session) -> None:
    lock, fence = DeployLock("lock", session), Fence("lock", session)
    owner = running_execution(session, "holder")
    lock.acquire(ENV, owner, "r1", DIGEST, "2026-12-04T01:00:00+00:00")
    assert fence.hand_to_revert(ENV, "r1", DIGEST, "t")
    assert fence.hand_to_revert(ENV, "r1", DIGEST, "t")  # a retry of the same revert
    assert fence.desired(ENV) == revert_of("r1")
    assert not fence.hand_to_revert(ENV, "r0", DIGEST, "t")  # another release's revert: refused
    lock.release(ENV, owner, "r1")  # an alarm withdrew it
    assert not fence.hand_to_revert(ENV, "r1", DIGEST, "t")
    assert fence.desired(ENV) is None
