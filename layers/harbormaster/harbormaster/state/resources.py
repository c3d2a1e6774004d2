"""What the scheduler remembers per resource, in the single table.

RESOURCE#<arn> / SCHEDULE   last desired state (to act on transitions only), capacities saved at
                            stop (ASG min/max/desired, ECS desiredCount), when we stopped it
"""

from __future__ import annotations

from typing import Any

from harbormaster.state.store import items_table, plain


def _key(arn: str) -> dict[str, str]:
    return {"pk": f"RESOURCE#{arn}", "sk": "SCHEDULE"}


def get(arn: str) -> dict[str, Any]:
    item = items_table().get_item(Key=_key(arn), ConsistentRead=True).get("Item")
    return plain(item) if item else {}


def put(arn: str, record: dict[str, Any]) -> None:
    items_table().put_item(Item={**_key(arn), **{k: v for k, v in record.items() if v is not None}})
