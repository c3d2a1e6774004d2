"""A schedule's temporary override: "keep it on until 23:00", "off now".

OVERRIDE#<schedule> / CURRENT   state, until, by, set_at, expires_at

The reconciler honours it until `until`, then the schedule's own periods decide again; the
table's TTL sweeps the item a day later. Setting one replaces the previous (the latest ask wins:
nothing is read before the write). Clearing it early is a conditional delete of the one the
caller saw, so a newer override set meanwhile is not cleared by mistake.

>>> Overrides(boto3_session=session).keep(Override(schedule="office", state="running", until=..., by="kim"))
>>> Overrides().active("office", now)
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from harbormaster.model import Model
from harbormaster.state.store import Store, conditional

PARTITION = "OVERRIDE#"
SORT_KEY = "CURRENT"
KEPT = timedelta(days=1)


class Override(Model):
    schedule: str
    state: Literal["running", "stopped"]
    until: datetime
    by: str
    set_at: datetime

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Override:
        return cls(
            schedule=str(item["pk"]).removeprefix(PARTITION),
            state=item["state"],
            until=datetime.fromisoformat(str(item["until"])),
            by=str(item["by"]),
            set_at=datetime.fromisoformat(str(item["set_at"])),
        )

    def to_item(self) -> dict[str, Any]:
        return {
            **_key(self.schedule),
            "state": self.state,
            "until": self.until.isoformat(),
            "by": self.by,
            "set_at": self.set_at.isoformat(),
            "expires_at": int((self.until + KEPT).timestamp()),
        }

    def active(self, now: datetime) -> bool:
        return self.set_at <= now < self.until


def _key(schedule: str) -> dict[str, str]:
    return {"pk": f"{PARTITION}{schedule}", "sk": SORT_KEY}


class Overrides(Store):
    """The schedules' overrides in the single table."""

    def keep(self, override: Override) -> None:
        self.table.put_item(Item=override.to_item())

    def current(self, schedule: str) -> Override | None:
        item = self.table.get_item(Key=_key(schedule), ConsistentRead=True).get("Item")
        return Override.from_item(item) if item else None

    def active(self, schedule: str, now: datetime) -> Override | None:
        """The override in force at `now`, if any."""
        found = self.current(schedule)
        return found if found is not None and found.active(now) else None

    def clear(self, override: Override) -> bool:
        """Remove `override` if it is still the current one (False: another replaced it)."""
        return conditional(
            lambda: self.table.delete_item(
                Key=_key(override.schedule),
                ConditionExpression="set_at = :set_at",
                ExpressionAttributeValues={":set_at": override.set_at.isoformat()},
            )
        )
