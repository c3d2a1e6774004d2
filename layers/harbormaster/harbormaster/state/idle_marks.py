"""What makes a scheduler run with nothing to do cost O(1) calls per schedule, not O(resources).

SCHEDULER / IDLE#<schedule>   fingerprint, epoch, at   (`IDLE#<account>/<region>/<schedule>` for the
                              part of a schedule in another account or region)

After a run in which a schedule changed nothing (every resource already as desired, left by
hand, or changing state), the run keeps a fingerprint of what it decided from: the desired state,
`enforced`, and each member's kind, id, observed state and capacity. The next run whose
fingerprint is the same would decide the same (its inputs are), so it reads no resource records
and writes nothing. Any change (a boundary, an override, a resource that started or stopped, a
new member) gives another fingerprint and a full run.

The records are inputs too: a run that writes a schedule's records (it acted, or a one-shot
action ran) bumps the mark's `epoch` and drops its fingerprint when it is done. Keeping a mark is
conditional on the epoch the run read at its start, so a run that decided from records another
run changed meanwhile cannot leave a stale mark behind.

All marks are read with one Query per run.

>>> marks = IdleMarks(boto3_session=session)
>>> seen = marks.all()                     # {'office-hours': Mark(fingerprint='9f2c…', epoch=3)}
>>> marks.keep("office-hours", "9f2c…", seen.get("office-hours"), now)   # False: changed meanwhile
>>> marks.invalidate("office-hours")
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

from boto3.dynamodb.conditions import Key

from harbormaster.state.store import Store, conditional

PARTITION = "SCHEDULER"
PREFIX = "IDLE#"


class Mark(NamedTuple):
    fingerprint: str | None
    epoch: int


def fingerprint(desired: str, enforced: bool, members: Iterable[dict[str, Any]]) -> str:
    """A digest of what a schedule's run decides from (members in any order)."""
    ordered = sorted(json.dumps(member, sort_keys=True, default=str) for member in members)
    body = json.dumps({"desired": desired, "enforced": enforced, "members": ordered}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


class IdleMarks(Store):
    def all(self) -> dict[str, Mark]:
        """schedule → its mark (one Query, paginated)."""
        marks: dict[str, Mark] = {}
        query: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(PARTITION), "ConsistentRead": True}
        while True:
            page = self.table.query(**query)
            for item in page["Items"]:
                found = item.get("fingerprint")
                marks[str(item["sk"]).removeprefix(PREFIX)] = Mark(
                    str(found) if found else None, int(item.get("epoch", 0))
                )
            if "LastEvaluatedKey" not in page:
                return marks
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def keep(self, schedule: str, digest: str, seen: Mark | None, now: datetime) -> bool:
        """Keep `digest` as the schedule's idle fingerprint, unless the mark changed since `seen`
        (another run wrote the schedule's records meanwhile): then False, and nothing written."""
        epoch = seen.epoch if seen else 0
        return conditional(
            lambda: self.table.put_item(
                Item={
                    "pk": PARTITION,
                    "sk": PREFIX + schedule,
                    "fingerprint": digest,
                    "epoch": epoch,
                    "at": now.isoformat(),
                },
                ConditionExpression="attribute_not_exists(pk) OR epoch = :epoch",
                ExpressionAttributeValues={":epoch": epoch},
            )
        )

    def invalidate(self, schedule: str) -> None:
        """The schedule's records changed: no earlier fingerprint may be trusted, nor kept."""
        self.table.update_item(
            Key={"pk": PARTITION, "sk": PREFIX + schedule},
            UpdateExpression="SET epoch = if_not_exists(epoch, :zero) + :one REMOVE fingerprint",
            ExpressionAttributeValues={":zero": 0, ":one": 1},
        )
