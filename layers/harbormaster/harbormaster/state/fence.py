"""The environment's desired release, the fence every deploy command checks on the instance.

FENCE#<env> / DESIRED   release_id, digest, set_at

Taking the deploy lock publishes the new holder's release here, in the same transaction
(`DeployLock.acquire`); releasing the lock withdraws it (`DeployLock.release`). The deploy document reads this
item under a per-instance `flock` and exits `SUPERSEDED_EXIT_CODE` when its `ReleaseId` is not the
desired one, so a step that decided to act before its release was stopped cannot act after: the
check happens where the change happens. The instance role may read only this partition
(`dynamodb:LeadingKeys` `FENCE#*`).

A failed release's revert takes a fence of its own (`<release id>:revert`) before it sends any
command: a forward step of that release still in flight (a Lambda outlives the Map iteration that
failed around it) is then refused on the instance like any stale release.
"""

from __future__ import annotations

from typing import Any

from harbormaster.state.store import Store, conditional

PARTITION = "FENCE#"
SORT_KEY = "DESIRED"
WITHDRAWN = "-"  # no deploy is running: every command is superseded
SUPERSEDED_EXIT_CODE = 75  # EX_TEMPFAIL; the deploy document's "not the desired release" exit
REVERT_SUFFIX = ":revert"  # allowed by the document's ReleaseId pattern


def key(environment: str) -> dict[str, str]:
    return {"pk": f"{PARTITION}{environment}", "sk": SORT_KEY}


def published(environment: str, release_id: str, digest: str, at: str) -> dict[str, Any]:
    """The fence item that makes `release_id` the desired release (a transaction's Put)."""
    return {**key(environment), "release_id": release_id, "digest": digest, "set_at": at}


def withdrawn(environment: str, release_id: str, at: str) -> dict[str, Any]:
    """The fence item once `release_id` stops being desired (its lock was released)."""
    return {**key(environment), "release_id": WITHDRAWN, "withdrawn_from": release_id, "set_at": at}


def revert_of(release_id: str) -> str:
    """The fence id under which the revert of `release_id` sends its commands."""
    return f"{release_id}{REVERT_SUFFIX}"


class Fence(Store):
    """The fence records (the lock publishes and withdraws them in its transactions)."""

    def desired(self, environment: str) -> str | None:
        """The release the environment's instances may run commands for, if any."""
        item = self.table.get_item(Key=key(environment), ConsistentRead=True).get("Item") or {}
        release = item.get("release_id")
        return None if release in (None, WITHDRAWN) else str(release)

    def hand_to_revert(self, environment: str, release_id: str, digest: str, at: str) -> bool:
        """Make the revert of `release_id` the desired release, if `release_id` (or its revert, on
        a retry) still is: False when the release lost the environment (a rollback owns it now)."""
        revert = revert_of(release_id)
        return conditional(
            lambda: self.table.put_item(
                Item={**key(environment), "release_id": revert, "digest": digest, "set_at": at},
                ConditionExpression="release_id IN (:mine, :revert)",
                ExpressionAttributeValues={":mine": release_id, ":revert": revert},
            )
        )
