"""The release ledger in the single table.

ENV#<env> / RELEASE#<release id>   one record per deploy attempt (ids sort by time)
ENV#<env> / CURRENT                the last known-good release
ENV#<env> / PENDING                the newest image waiting behind a running deploy
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key

from harbormaster import clock
from harbormaster.state.status import ReleaseStatus
from harbormaster.state.store import TABLE_ENV, conditional, items_table, plain, transact

__all__ = ["TABLE_ENV", "conditional"]  # re-exported for the lock and the CLI


def _pk(environment: str) -> str:
    return f"ENV#{environment}"


def now_iso() -> str:
    return clock.now().isoformat(timespec="seconds")


def record_release(environment: str, release_id: str, fields: dict[str, Any]) -> None:
    """Write the release record (a queued release is rewritten when it finally runs)."""
    item = {
        "pk": _pk(environment),
        "sk": f"RELEASE#{release_id}",
        "release_id": release_id,
        "environment": environment,
        "recorded_at": now_iso(),
        **fields,
    }
    items_table().put_item(Item={k: v for k, v in item.items() if v is not None})


def update_release(environment: str, release_id: str, **fields: Any) -> None:
    names = {f"#{k}": k for k in fields}
    values = {f":{k}": v for k, v in fields.items()}
    items_table().update_item(
        Key={"pk": _pk(environment), "sk": f"RELEASE#{release_id}"},
        UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in fields),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def add_touched(environment: str, release_id: str, instance_id: str) -> None:
    """Remember an instance this release took out of service (the revert puts it back)."""
    items_table().update_item(
        Key={"pk": _pk(environment), "sk": f"RELEASE#{release_id}"},
        UpdateExpression="ADD touched :i",
        ExpressionAttributeValues={":i": {instance_id}},
    )


def count_done(environment: str, release_id: str) -> None:
    items_table().update_item(
        Key={"pk": _pk(environment), "sk": f"RELEASE#{release_id}"},
        UpdateExpression="ADD instances_done :one",
        ExpressionAttributeValues={":one": 1},
    )


def get_release(environment: str, release_id: str) -> dict[str, Any] | None:
    item = items_table().get_item(Key={"pk": _pk(environment), "sk": f"RELEASE#{release_id}"}, ConsistentRead=True)
    return plain(item["Item"]) if "Item" in item else None


def history(environment: str, limit: int = 50) -> list[dict[str, Any]]:
    """Newest first."""
    response = items_table().query(
        KeyConditionExpression=Key("pk").eq(_pk(environment)) & Key("sk").begins_with("RELEASE#"),
        ScanIndexForward=False,
        Limit=limit,
    )
    return [plain(item) for item in response["Items"]]


def current(environment: str) -> dict[str, Any] | None:
    item = items_table().get_item(Key={"pk": _pk(environment), "sk": "CURRENT"}, ConsistentRead=True)
    return plain(item["Item"]) if "Item" in item else None


def mark_succeeded(environment: str, release: dict[str, Any], **fields: Any) -> bool:
    """Mark the release SUCCEEDED and make it the known-good one, in one transaction, unless a
    rollback claimed it meanwhile (an alarm during its Finalize): then nothing changes (False)."""
    keep: dict[str, Any] = {
        k: release[k]
        for k in ("release_id", "digest", "tag", "image_uri", "repository", "task_definition_arn")
        if release.get(k) is not None
    }
    values = {"SUCCEEDED": ReleaseStatus.SUCCEEDED, **fields}
    names = {f"#{k}": k for k in ["status", *fields]}
    failed = transact(
        {
            "Update": {
                "Key": {"pk": _pk(environment), "sk": f"RELEASE#{release['release_id']}"},
                "UpdateExpression": "SET #status = :SUCCEEDED, " + ", ".join(f"#{k} = :{k}" for k in fields),
                "ConditionExpression": "attribute_exists(sk) AND attribute_not_exists(rollback_claimed_by)",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": {f":{k}": v for k, v in values.items()},
            }
        },
        {"Put": {"Item": {"pk": _pk(environment), "sk": "CURRENT", "updated_at": now_iso(), **keep}}},
    )
    return not failed


def quarantine(environment: str, digest: str, release_id: str, reason: str) -> None:
    """A rolled-back digest is not deployed again automatically (`deploy --force` overrides)."""
    items_table().put_item(
        Item={
            "pk": _pk(environment),
            "sk": f"QUARANTINE#{digest}",
            "release_id": release_id,
            "reason": reason,
            "quarantined_at": now_iso(),
        }
    )


def quarantined(environment: str, digest: str) -> dict[str, Any] | None:
    item = items_table().get_item(Key={"pk": _pk(environment), "sk": f"QUARANTINE#{digest}"}, ConsistentRead=True)
    return plain(item["Item"]) if "Item" in item else None


def claim_rollback(environment: str, release_id: str, by: str) -> bool:
    """At most one automatic rollback per release: the first claim wins (conditional write)."""
    return conditional(
        lambda: items_table().update_item(
            Key={"pk": _pk(environment), "sk": f"RELEASE#{release_id}"},
            UpdateExpression="SET rollback_claimed_by = :by",
            ConditionExpression="attribute_exists(sk) AND attribute_not_exists(rollback_claimed_by)",
            ExpressionAttributeValues={":by": by},
        )
    )


def record_alarm(environment: str, alarm: str, action: str, detail: dict[str, Any]) -> None:
    """Every alarm that reached an environment is kept, acted on or not."""
    items_table().put_item(
        Item={
            "pk": _pk(environment),
            "sk": f"ALARM#{now_iso()}#{alarm}",
            "alarm": alarm,
            "action": action,
            **{k: v for k, v in detail.items() if v is not None},
        }
    )
