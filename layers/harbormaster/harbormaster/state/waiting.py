"""Executions parked on an AWS event: the task token, kept until the event (or the execution) claims it.

WAITING#<subject> / <release id>   token, parked_at, expires_at

`subject` names what the event is about (an ECS service's ARN). One item per release: a newer
park of the same release replaces its token. Whoever deletes the item with its token (the event's
handler, or the parking step itself when it finds the change already over) sends the token, so
it is sent once however the two interleave. The table's TTL sweeps what nothing claimed.

>>> waiting = Waiting(boto3_session=session)
>>> waiting.park("arn:aws:ecs:…:service/shop/web", "rel-1", token, until)
>>> [(p.release_id, p.token) for p in waiting.parked("arn:aws:ecs:…:service/shop/web")]
>>> waiting.claim(parked)  # True for exactly one caller
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key

from harbormaster.model import Model
from harbormaster.state.store import Store, conditional

PARTITION = "WAITING#"
KEPT = timedelta(days=1)  # after the wait's own end: long enough for a late event to find nothing stale


class Parked(Model):
    subject: str
    release_id: str
    token: str
    parked_at: str
    expires_at: int

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Parked:
        return cls(
            subject=str(item["pk"]).removeprefix(PARTITION),
            release_id=str(item["sk"]),
            token=str(item["token"]),
            parked_at=str(item.get("parked_at", "")),
            expires_at=int(item.get("expires_at", 0)),
        )

    def to_item(self) -> dict[str, Any]:
        return {
            "pk": f"{PARTITION}{self.subject}",
            "sk": self.release_id,
            "token": self.token,
            "parked_at": self.parked_at,
            "expires_at": self.expires_at,
        }


class Waiting(Store):
    """The parked task tokens."""

    def park(self, subject: str, release_id: str, token: str, now: datetime, until: datetime) -> Parked:
        expires_at = int((until + KEPT).timestamp())
        parked = Parked(
            subject=subject, release_id=release_id, token=token, parked_at=now.isoformat(), expires_at=expires_at
        )
        self.table.put_item(Item=parked.to_item())
        return parked

    def put_back(self, parked: Parked) -> bool:
        """Park a claimed token again (its send failed), unless a newer park took its place."""
        return conditional(
            lambda: self.table.put_item(Item=parked.to_item(), ConditionExpression="attribute_not_exists(pk)")
        )

    def parked(self, subject: str) -> list[Parked]:
        """Every release parked on `subject` (read consistently: a token parked just now is seen)."""
        query: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(f"{PARTITION}{subject}"),
            "ConsistentRead": True,
        }
        found: list[Parked] = []
        while True:
            answer = self.table.query(**query)
            found.extend(Parked.from_item(item) for item in answer.get("Items", []))
            if "LastEvaluatedKey" not in answer:
                return found
            query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def claim(self, parked: Parked) -> bool:
        """Delete the item if it still holds this token: True for the one caller that may send it."""
        return conditional(
            lambda: self.table.delete_item(
                Key={"pk": f"{PARTITION}{parked.subject}", "sk": parked.release_id},
                ConditionExpression="#token = :token",
                ExpressionAttributeNames={"#token": "token"},
                ExpressionAttributeValues={":token": parked.token},
            )
        )
