"""What each instance last ran, as Harbormaster put it there (the deploy command succeeded).

INSTANCE#<env> / <instance id>   image_uri, release_id, recorded_at

It lets an operator see convergence (`harbormaster status ENV`): each instance, the image it runs,
and whether that is the current release's. A step that finishes late never overwrites a newer
record (a conditional write on the record's time).
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key

from harbormaster import clock
from harbormaster.state.store import conditional, items_table, plain

PARTITION = "INSTANCE#"


def record(environment: str, instance_id: str, image_uri: str, release_id: str) -> bool:
    """Remember what `instance_id` runs now; False when a newer record was already there."""
    now = clock.now().isoformat(timespec="microseconds")
    return conditional(
        lambda: items_table().put_item(
            Item={
                "pk": f"{PARTITION}{environment}",
                "sk": instance_id,
                "image_uri": image_uri,
                "release_id": release_id,
                "recorded_at": now,
            },
            ConditionExpression="attribute_not_exists(pk) OR recorded_at <= :now",
            ExpressionAttributeValues={":now": now},
        )
    )


def running(environment: str) -> dict[str, dict[str, Any]]:
    """instance id → its record, for every instance Harbormaster has deployed in `environment`."""
    found: dict[str, dict[str, Any]] = {}
    query: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(f"{PARTITION}{environment}")}
    while True:
        page = items_table().query(**query)
        found.update({str(item["sk"]): plain(item) for item in page["Items"]})
        if "LastEvaluatedKey" not in page:
            return found
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
