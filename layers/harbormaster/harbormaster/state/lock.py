"""One deploy per environment: `ENV#<env> / LOCK` holds the owning execution's ARN.

Every change of holder is one DynamoDB transaction with the environment's fence (`state.fence`):
taking the lock publishes the holder's release as the desired one, releasing it withdraws it. So
the instances never run a command for a release that does not hold the lock.

Queueing behind the lock and releasing it are transactions with the queue too (`ENV#<env> /
PENDING`): an image is queued only while the holder it saw still holds the lock, and the lock is
released only together with taking what waits. Neither side can miss the other (no lost wake-up).

A lock whose execution is no longer RUNNING is stale and is taken over (conditionally, so two
contenders cannot both win).

    lock = DeployLock()  # or DeployLock("table", boto3_session=session) in a test
    lock.acquire("api-prod", execution_arn, release_id, digest, requested_at)
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from harbormaster.state import fence
from harbormaster.state.ledger import _pk, now_iso
from harbormaster.state.store import Store


class LockHeld(Exception):
    """Another running execution holds the environment's lock."""

    def __init__(self, owner: str, requested_at: str | None = None) -> None:
        self.owner = owner
        self.requested_at = requested_at  # of the holder's request: an older request is superseded
        super().__init__(f"the deploy lock is held by {owner}")


class LockChanged(Exception):
    """The lock changed hands while this call read it: run it again (its state's Retry does)."""


def _key(environment: str) -> dict[str, str]:
    return {"pk": _pk(environment), "sk": "LOCK"}


def _queue_key(environment: str) -> dict[str, str]:
    return {"pk": _pk(environment), "sk": "PENDING"}


class DeployLock(Store):
    """The deploy lock, the fence and the queue of every environment (see the module)."""

    def acquire(self, environment: str, owner: str, release_id: str, digest: str, requested_at: str) -> str | None:
        """Take the lock for `owner` and publish `release_id` as the desired release. Returns the
        stale owner taken over, if any; raises LockHeld."""
        item = {
            **_key(environment),
            "owner": owner,
            "release_id": release_id,
            "requested_at": requested_at,
            "acquired_at": now_iso(),
        }
        if self._take(item, digest, "attribute_not_exists(sk) OR #o = :who", owner):
            return None
        held = self.holder(environment)
        if held is None:
            raise LockChanged(f"the lock of {environment} was released while {owner} tried to take it")
        stale = str(held["owner"])
        if self._is_running(stale):
            raise LockHeld(stale, held.get("requested_at"))
        if not self._take(item, digest, "#o = :who", stale):  # another contender took the stale lock first
            raise LockChanged(f"another contender took the stale lock of {environment} first")
        return stale

    def release(self, environment: str, owner: str, release_id: str) -> bool:
        """Release the lock and withdraw `release_id`'s fence, if `owner` still holds the lock."""
        return not self.transact(
            _delete_if_owner(environment, owner), {"Put": {"Item": _withdrawn(environment, release_id)}}
        )

    def release_and_take_pending(
        self, environment: str, owner: str, release_id: str
    ) -> tuple[bool, dict[str, Any] | None]:
        """Release the lock and take the waiting request in one transaction: (released, request).
        `released` is False when `owner` no longer holds the lock (nothing changed). Raises
        LockChanged when a new request was queued meanwhile (run again: it takes that one)."""
        waiting = self._waiting(environment)
        queue: dict[str, Any] = {"ConditionCheck": {"Key": _queue_key(environment), **_as_seen(waiting)}}
        if waiting is not None:
            queue = {"Delete": {"Key": _queue_key(environment), **_as_seen(waiting)}}
        failed = self.transact(
            _delete_if_owner(environment, owner), {"Put": {"Item": _withdrawn(environment, release_id)}}, queue
        )
        if 0 in failed:
            return False, None
        if failed:
            raise LockChanged(f"a request was queued behind {environment}'s lock while it was being released")
        return True, dict(waiting["request"]) if waiting else None

    def queue_behind(self, environment: str, holder_owner: str, request: dict[str, Any]) -> dict[str, Any] | None:
        """Queue `request` while `holder_owner` still holds the lock; return the request it replaced.

        Newest wins: an older request never replaces a newer one (it is returned as replaced
        instead). Raises LockChanged when the holder released the lock meanwhile (take it instead)."""
        item = {**_queue_key(environment), "request": request, "requested_at": request["requested_at"]}
        old = self._waiting(environment)
        if old is not None and str(old["requested_at"]) > str(request["requested_at"]):
            return request  # a newer image is already waiting: this one is the one skipped (safe unfenced: newer wins)
        failed = self.transact(
            {"Put": {"Item": item, **_as_seen(old)}},
            {
                "ConditionCheck": {
                    "Key": _key(environment),
                    "ConditionExpression": "#o = :who",
                    "ExpressionAttributeNames": {"#o": "owner"},
                    "ExpressionAttributeValues": {":who": holder_owner},
                }
            },
        )
        if failed:
            raise LockChanged(
                f"the lock or the queue of {environment} changed while {request['release_id']} was queued"
            )
        return dict(old["request"]) if old else None

    def holder(self, environment: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.table.get_item(Key=_key(environment), ConsistentRead=True).get("Item")
        return item

    def _waiting(self, environment: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.table.get_item(Key=_queue_key(environment), ConsistentRead=True).get("Item")
        return item

    def _take(self, item: dict[str, Any], digest: str, condition: str, who: str) -> bool:
        environment = str(item["pk"]).removeprefix("ENV#")
        published = fence.published(environment, str(item["release_id"]), digest, str(item["acquired_at"]))
        lock_put = {
            "Item": item,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#o": "owner"},
            "ExpressionAttributeValues": {":who": who},
        }
        return not self.transact({"Put": lock_put}, {"Put": {"Item": published}})

    def _is_running(self, execution_arn: str) -> bool:
        try:
            # METADATA_ONLY: the status without the (KMS-encrypted) input and output, so no kms:Decrypt.
            described = self.client("stepfunctions").describe_execution(
                executionArn=execution_arn, includedData="METADATA_ONLY"
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ExecutionDoesNotExist":
                return False
            raise
        return bool(described["status"] == "RUNNING")


def _as_seen(waiting: dict[str, Any] | None) -> dict[str, Any]:
    """The condition "the queue is as it was read": empty, or holding that very request."""
    if waiting is None:
        return {"ConditionExpression": "attribute_not_exists(sk)"}
    return {
        "ConditionExpression": "requested_at = :seen",
        "ExpressionAttributeValues": {":seen": waiting["requested_at"]},
    }


def _delete_if_owner(environment: str, owner: str) -> dict[str, Any]:
    return {
        "Delete": {
            "Key": _key(environment),
            "ConditionExpression": "#o = :who",
            "ExpressionAttributeNames": {"#o": "owner"},
            "ExpressionAttributeValues": {":who": owner},
        }
    }


def _withdrawn(environment: str, release_id: str) -> dict[str, Any]:
    return fence.withdrawn(environment, release_id, now_iso())
