"""What the scheduler remembers per resource, in the single table.

RESOURCE#<arn> / SCHEDULE   last desired state (to act on transitions only), capacities saved at
                            stop (ASG min/max/desired, ECS desiredCount), when we stopped it

Records are read in bulk (BatchGetItem, 100 per call, consistent). Writes that carry a saved
capacity (ASG, ECS) or a database's stop time name the attributes they change (UpdateItem), never
a whole record read earlier, so two overlapping runs cannot write back each other's stale copy.
The saved capacity is written only when none is saved (a second stop, by an overlapping run or a
one-shot, would save the zeros of the first), and forgotten only once the start restored exactly
it. EC2 records hold no capacity: a transition writes them in bulk (BatchWriteItem, 25 per call),
each the record this run read with its new fields.
"""

from __future__ import annotations

from typing import Any

from harbormaster.state.store import conditional, items_table, plain

PREFIX = "RESOURCE#"
BATCH_GET_LIMIT = 100  # BatchGetItem takes at most 100 keys
UNPROCESSED_ROUNDS = 5  # DynamoDB may leave keys unprocessed; they are asked for again, this often


def _key(arn: str) -> dict[str, str]:
    return {"pk": f"{PREFIX}{arn}", "sk": "SCHEDULE"}


class UnprocessedKeys(Exception):
    """DynamoDB kept leaving keys unprocessed (throttled past the client's own retries)."""


def get_many(arns: list[str]) -> dict[str, dict[str, Any]]:
    """arn → its record ({} when there is none), read consistently in batches of 100."""
    table = items_table()
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(arns), BATCH_GET_LIMIT):
        keys = [_key(arn) for arn in arns[start : start + BATCH_GET_LIMIT]]
        request: dict[str, Any] = {table.name: {"Keys": keys, "ConsistentRead": True}}
        for _ in range(UNPROCESSED_ROUNDS):
            answer = table.meta.client.batch_get_item(RequestItems=request)
            for item in answer["Responses"].get(table.name, []):
                found[str(item["pk"]).removeprefix(PREFIX)] = plain(item)
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                break
        else:
            raise UnprocessedKeys(f"{len(request[table.name]['Keys'])} resource record(s) left unprocessed")
    return {arn: found.get(arn, {}) for arn in arns}


def put_many(records: dict[str, dict[str, Any]]) -> None:
    """Write whole records (arn → fields), 25 per BatchWriteItem; boto3's batch writer sends
    again what DynamoDB left unprocessed. Only for records without a saved capacity."""
    with items_table().batch_writer() as batch:
        for arn, fields in records.items():
            batch.put_item(Item={**fields, **_key(arn)})


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
