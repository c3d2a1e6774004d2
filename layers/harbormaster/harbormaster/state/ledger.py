"""The release ledger in the single table.

ENV#<env> / RELEASE#<release id>   one record per deploy attempt (ids sort by time)
ENV#<env> / CURRENT                the last known-good release
ENV#<env> / QUARANTINE#<digest>    a digest rolled back here (not deployed again without --force)
ENV#<env> / ALARM#<time>#<alarm>   every alarm that reached the environment
ENV#<env> / PENDING                the newest image waiting behind a running deploy (see `lock`)

The store takes an optional `boto3_session` (`state.store.Store`): the phases use the Lambda's
shared clients, tests give it a session of their own.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key

from harbormaster import clock
from harbormaster.state.release import RELEASE_FIELDS, CurrentRelease, Quarantine, Release
from harbormaster.state.status import ReleaseStatus
from harbormaster.state.store import Store, conditional

__all__ = ["CurrentRelease", "Ledger", "Quarantine", "Release", "now_iso"]


def _pk(environment: str) -> str:
    return f"ENV#{environment}"


def now_iso() -> str:
    return clock.now().isoformat(timespec="seconds")


def _set(fields: dict[str, Any]) -> dict[str, Any]:
    """UpdateItem arguments that set `fields` of a release; a name that is not a field is refused."""
    unknown = set(fields) - RELEASE_FIELDS
    if unknown:
        raise ValueError(f"not fields of a release: {sorted(unknown)}")
    return {
        "UpdateExpression": "SET " + ", ".join(f"#{k} = :{k}" for k in fields),
        "ExpressionAttributeNames": {f"#{k}": k for k in fields},
        "ExpressionAttributeValues": {f":{k}": v for k, v in fields.items()},
    }


class Ledger(Store):
    """Releases, the current one, quarantines and alarms of every environment.

    >>> ledger = Ledger("harbormaster-table", boto3_session=boto3.session.Session(region_name="eu-west-1"))
    >>> ledger.current("api-prod")  # None until a release succeeded
    """

    def _key(self, environment: str, release_id: str) -> dict[str, str]:
        return {"pk": _pk(environment), "sk": f"RELEASE#{release_id}"}

    # ------------------------------------------------------------------ releases
    def record(self, release: Release) -> None:
        """Write the release record (a queued release is rewritten when it finally runs)."""
        item = release.replace(recorded_at=now_iso()).to_item()
        self.table.put_item(Item={**self._key(release.environment, release.release_id), **item})

    def update(self, environment: str, release_id: str, **fields: Any) -> None:
        """Set some fields of an existing release (names checked against `Release`)."""
        self.table.update_item(
            Key=self._key(environment, release_id), ConditionExpression="attribute_exists(sk)", **_set(fields)
        )

    def add_touched(self, environment: str, release_id: str, *instance_ids: str) -> None:
        """Remember instances this release took out of service (the revert puts them back)."""
        self.table.update_item(
            Key=self._key(environment, release_id),
            UpdateExpression="ADD touched :i",
            ExpressionAttributeValues={":i": set(instance_ids)},
        )

    def count_done(self, environment: str, release_id: str, count: int = 1) -> int:
        """Add `count` instances done; the release's total so far (atomic, so batches never lose one)."""
        response = self.table.update_item(
            Key=self._key(environment, release_id),
            UpdateExpression="ADD instances_done :n",
            ExpressionAttributeValues={":n": count},
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["instances_done"])

    def release(self, environment: str, release_id: str) -> Release | None:
        item = self.table.get_item(Key=self._key(environment, release_id), ConsistentRead=True).get("Item")
        return Release.from_item(item) if item else None

    def history(self, environment: str, limit: int = 50) -> list[Release]:
        """Newest first."""
        response = self.table.query(
            KeyConditionExpression=Key("pk").eq(_pk(environment)) & Key("sk").begins_with("RELEASE#"),
            ScanIndexForward=False,
            Limit=limit,
        )
        return [Release.from_item(item) for item in response["Items"]]

    def claim_rollback(self, environment: str, release_id: str, by: str) -> bool:
        """At most one rollback per release: the first claim wins (conditional write)."""
        return conditional(
            lambda: self.table.update_item(
                Key=self._key(environment, release_id),
                UpdateExpression="SET rollback_claimed_by = :by",
                ConditionExpression="attribute_exists(sk) AND attribute_not_exists(rollback_claimed_by)",
                ExpressionAttributeValues={":by": by},
            )
        )

    # ------------------------------------------------------------------ the known-good release
    def current(self, environment: str) -> CurrentRelease | None:
        item = self.table.get_item(Key={"pk": _pk(environment), "sk": "CURRENT"}, ConsistentRead=True).get("Item")
        return CurrentRelease.from_item(item) if item else None

    def mark_succeeded(self, release: Release, **fields: Any) -> bool:
        """Mark the release SUCCEEDED and make it the known-good one, in one transaction, unless a
        rollback claimed it meanwhile (an alarm during its Finalize): then nothing changes (False)."""
        if release.image_uri is None:
            raise ValueError(f"release {release.release_id} has no image to make current")
        current = CurrentRelease.model_validate({**release.model_dump(), "updated_at": now_iso()})
        failed = self.transact(
            {
                "Update": {
                    "Key": self._key(release.environment, release.release_id),
                    "ConditionExpression": "attribute_exists(sk) AND attribute_not_exists(rollback_claimed_by)",
                    **_set({**fields, "status": ReleaseStatus.SUCCEEDED}),
                }
            },
            {"Put": {"Item": {"pk": _pk(release.environment), "sk": "CURRENT", **current.to_item()}}},
        )
        return not failed

    # ------------------------------------------------------------------ quarantine and alarms
    def quarantine(self, environment: str, digest: str, release_id: str, reason: str) -> None:
        """A rolled-back digest is not deployed again automatically (`deploy --force` overrides)."""
        record = Quarantine(release_id=release_id, reason=reason, quarantined_at=now_iso())
        self.table.put_item(Item={"pk": _pk(environment), "sk": f"QUARANTINE#{digest}", **record.to_item()})

    def quarantined(self, environment: str, digest: str) -> Quarantine | None:
        key = {"pk": _pk(environment), "sk": f"QUARANTINE#{digest}"}
        item = self.table.get_item(Key=key, ConsistentRead=True).get("Item")
        return Quarantine.from_item(item) if item else None

    def record_alarm(self, environment: str, alarm: str, action: str, detail: dict[str, Any]) -> None:
        """Every alarm that reached an environment is kept, acted on or not."""
        self.table.put_item(
            Item={
                "pk": _pk(environment),
                "sk": f"ALARM#{now_iso()}#{alarm}",
                "alarm": alarm,
                "action": action,
                **{k: v for k, v in detail.items() if v is not None},
            }
        )
