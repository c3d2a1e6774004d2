"""The parts of one scheduler run that covers several accounts and regions, so that the run's
summaries are published once, by whichever part finishes last.

SCHEDULER-RUN#<run id> / PART#<account>/<region>   summaries, expires_at
SCHEDULER-RUN#<run id> / PARTS                     done, of, published, expires_at

A part records its summaries and counts itself in one transaction, which a retried invocation of
the same part cannot repeat (its PART item exists). Then it tries to claim the publication: a
conditional write that holds only when every part is done and nobody published yet, so exactly
one part publishes, even when two finish at once or one is retried after it counted.

>>> parts = RunParts(boto3_session=session)
>>> parts.finish("2026-11-27T11:00:00Z", "-/us-east-1", [summary.model_dump()], of=4, now=now)
>>> parts.claim("2026-11-27T11:00:00Z")      # True for exactly one part, once all 4 are done
>>> parts.summaries("2026-11-27T11:00:00Z")  # every part's summaries
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key

from harbormaster.state.store import Store, conditional, plain

PARTITION = "SCHEDULER-RUN#"
KEPT = timedelta(days=1)


class RunParts(Store):
    def finish(self, run_id: str, part: str, summaries: list[dict[str, Any]], of: int, now: datetime) -> bool:
        """Record a part's summaries and count it; False when it was recorded already (a retry)."""
        expires = int((now + KEPT).timestamp())
        refused = self.transact(
            {
                "Put": {
                    "Item": {
                        "pk": PARTITION + run_id,
                        "sk": f"PART#{part}",
                        "summaries": summaries,
                        "expires_at": expires,
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Update": {
                    "Key": {"pk": PARTITION + run_id, "sk": "PARTS"},
                    "UpdateExpression": "ADD done :one SET #of = :of, expires_at = :expires",
                    "ExpressionAttributeNames": {"#of": "of"},
                    "ExpressionAttributeValues": {":one": 1, ":of": of, ":expires": expires},
                }
            },
        )
        return not refused

    def claim(self, run_id: str) -> bool:
        """The right to publish the run's summaries: True once, when every part is done."""
        return conditional(
            lambda: self.table.update_item(
                Key={"pk": PARTITION + run_id, "sk": "PARTS"},
                UpdateExpression="SET published = :yes",
                ConditionExpression="done = #of AND attribute_not_exists(published)",
                ExpressionAttributeNames={"#of": "of"},
                ExpressionAttributeValues={":yes": True},
            )
        )

    def unclaim(self, run_id: str) -> None:
        """Give the publication back (publishing failed): the next part or retry to finish claims it."""
        self.table.update_item(Key={"pk": PARTITION + run_id, "sk": "PARTS"}, UpdateExpression="REMOVE published")

    def summaries(self, run_id: str) -> list[dict[str, Any]]:
        """Every recorded part's summaries, in one list."""
        found: list[dict[str, Any]] = []
        query: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(PARTITION + run_id) & Key("sk").begins_with("PART#"),
            "ConsistentRead": True,
        }
        while True:
            page = self.table.query(**query)
            for item in page["Items"]:
                found += [plain(summary) for summary in item.get("summaries", [])]
            if "LastEvaluatedKey" not in page:
                return found
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
