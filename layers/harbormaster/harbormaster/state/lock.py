"""One deploy per environment: `ENV#<env> / LOCK` holds the owning execution's ARN.

A lock whose execution is no longer RUNNING is stale and is taken over (conditionally, so two
contenders cannot both win).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from harbormaster.clients import client
from harbormaster.state.ledger import _pk, conditional, now_iso
from harbormaster.state.store import items_table


class LockHeld(Exception):
    """Another running execution holds the environment's lock."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        super().__init__(f"the deploy lock is held by {owner}")


def acquire(environment: str, owner: str, release_id: str) -> str | None:
    """Take the lock for `owner`. Returns the stale owner taken over, if any; raises LockHeld."""
    key = {"pk": _pk(environment), "sk": "LOCK"}
    item = {**key, "owner": owner, "release_id": release_id, "acquired_at": now_iso()}
    if _put_if(item, "attribute_not_exists(sk) OR #o = :who", owner):
        return None
    holder = _holder(environment)
    if holder is None:
        return acquire(environment, owner, release_id)  # released meanwhile
    if _is_running(holder):
        raise LockHeld(holder)
    if not _put_if(item, "#o = :who", holder):  # another contender took the stale lock first
        raise LockHeld(_holder(environment) or "another execution")
    return holder


def release(environment: str, owner: str) -> bool:
    """Release the lock if `owner` still holds it."""
    return conditional(
        lambda: items_table().delete_item(
            Key={"pk": _pk(environment), "sk": "LOCK"},
            ConditionExpression="#o = :who",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":who": owner},
        )
    )


def _put_if(item: dict[str, Any], condition: str, who: str) -> bool:
    return conditional(
        lambda: items_table().put_item(
            Item=item,
            ConditionExpression=condition,
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":who": who},
        )
    )


def holder(environment: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = (
        items_table().get_item(Key={"pk": _pk(environment), "sk": "LOCK"}, ConsistentRead=True).get("Item")
    )
    return item


def _holder(environment: str) -> str | None:
    item = holder(environment)
    return str(item["owner"]) if item else None


def _is_running(execution_arn: str) -> bool:
    try:
        # METADATA_ONLY: the status without the (KMS-encrypted) input and output, so no kms:Decrypt.
        described = client("stepfunctions").describe_execution(executionArn=execution_arn, includedData="METADATA_ONLY")
        status = described["status"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ExecutionDoesNotExist":
            return False
        raise
    return bool(status == "RUNNING")
