"""What the scheduler remembers per resource, in the single table.

RESOURCE#<arn> / SCHEDULE   last desired state (to act on transitions only), capacities saved at
                            stop (ASG min/max/desired, ECS desiredCount), when we stopped it

Every write names the attributes it changes (UpdateItem), never a whole record read earlier, so
two overlapping runs cannot write back each other's stale copy. The saved capacity is written
only when none is saved (a second stop, by an overlapping run or a one-shot, would save the zeros
of the first), and forgotten only once the start restored exactly it.
"""

from __future__ import annotations

from typing import Any

from harbormaster.state.store import conditional, items_table, plain


def _key(arn: str) -> dict[str, str]:
    return {"pk": f"RESOURCE#{arn}", "sk": "SCHEDULE"}


def get(arn: str) -> dict[str, Any]:
    item = items_table().get_item(Key=_key(arn), ConsistentRead=True).get("Item")
    return plain(item) if item else {}


def remember(arn: str, **fields: Any) -> None:
    """Set these attributes of the resource's record (created if need be), and only these."""
    items_table().update_item(
        Key=_key(arn),
        UpdateExpression="SET " + ", ".join(f"#{name} = :{name}" for name in fields),
        ExpressionAttributeNames={f"#{name}": name for name in fields},
        ExpressionAttributeValues={f":{name}": value for name, value in fields.items()},
    )


def save_capacity(arn: str, capacity: dict[str, int]) -> bool:
    """Keep the capacity to restore at the next start; False (and nothing written) when one is
    already saved: the resource was stopped before and is at zero now."""
    return conditional(
        lambda: items_table().update_item(
            Key=_key(arn),
            UpdateExpression="SET saved = :capacity",
            ConditionExpression="attribute_not_exists(saved)",
            ExpressionAttributeValues={":capacity": capacity},
        )
    )


def forget_capacity(arn: str, restored: dict[str, int]) -> bool:
    """Drop the saved capacity once the start restored it (False: it changed meanwhile, kept)."""
    return conditional(
        lambda: items_table().update_item(
            Key=_key(arn),
            UpdateExpression="REMOVE saved",
            ConditionExpression="saved = :restored",
            ExpressionAttributeValues={":restored": restored},
        )
    )
