"""Where a deploy's or an alarm's Slack message is, so later events update it or reply under it.

SLACK#<key> / MESSAGE   channel, ts (the message), rank (how far the story it shows has got),
                        body (what it shows now), state, expires_at

`key` is `release:<environment>:<release id>` for a deploy, `alarm:<alarm ARN or name>` for an
alarm. Every write is conditional: the first poster claims the key (a second one, racing it,
finds it claimed and deletes its own message), and a message only moves forward (`rank` grows),
so an event that SQS delivers late never puts an older state back.

>>> threads = SlackThreads(boto3_session=session)
>>> threads.claim("release:api:r1", Thread(channel="C0123", ts="1.2", rank=1, body={...}), now)
True
>>> threads.advance("release:api:r1", rank=9, body={...})   # False when a later state is shown already
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from harbormaster.model import Model
from harbormaster.state.store import Store, conditional

PARTITION = "SLACK#"
SORT_KEY = "MESSAGE"
KEPT = timedelta(days=30)


class Thread(Model):
    channel: str
    ts: str
    rank: int
    body: dict[str, Any]
    state: str | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Thread:
        return cls(
            channel=str(item["channel"]),
            ts=str(item["ts"]),
            rank=int(item["rank"]),
            body=dict(item["body"]),
            state=item.get("state"),
        )


class SlackThreads(Store):
    def get(self, key: str) -> Thread | None:
        item = self.table.get_item(Key=_key(key), ConsistentRead=True).get("Item")
        return Thread.from_item(item) if item else None

    def claim(self, key: str, thread: Thread, now: datetime, replace_state: str | None = None) -> bool:
        """Keep `thread` as the key's message, if none is kept (or, with `replace_state`, if the
        kept one is in that state: an alarm's new ALARM after it resolved starts a new thread)."""
        condition = "attribute_not_exists(pk)"
        extra: dict[str, Any] = {}
        if replace_state:
            condition += " OR #state = :replaced"
            extra = {
                "ExpressionAttributeNames": {"#state": "state"},
                "ExpressionAttributeValues": {":replaced": replace_state},
            }
        item = {**_key(key), **thread.model_dump(), "expires_at": int((now + KEPT).timestamp())}
        return conditional(lambda: self.table.put_item(Item=item, ConditionExpression=condition, **extra))

    def advance(self, key: str, rank: int, body: dict[str, Any], state: str | None = None) -> bool:
        """Record that the message now shows `body` (rank `rank`): False when it already shows a
        state as far along or further."""
        return conditional(
            lambda: self.table.update_item(
                Key=_key(key),
                UpdateExpression="SET #rank = :rank, body = :body, #state = :state",
                ConditionExpression="attribute_exists(pk) AND #rank < :rank",
                ExpressionAttributeNames={"#rank": "rank", "#state": "state"},
                ExpressionAttributeValues={":rank": rank, ":body": body, ":state": state},
            )
        )


def _key(key: str) -> dict[str, str]:
    return {"pk": f"{PARTITION}{key}", "sk": SORT_KEY}
