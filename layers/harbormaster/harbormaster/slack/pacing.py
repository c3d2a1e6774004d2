"""At most N messages per second per webhook, for every attempt (first sends and retries alike),
across every forwarder that runs at the same time.

Up to `MaximumConcurrency` forwarders poll the alert queue at once, so the pace lives in the
table: each send books the next slot of its webhook with one atomic write, then sleeps until the
slot. Two forwarders can never book the same slot:

- the webhook was idle (its next free slot is in the past): a conditional write claims `now`;
- otherwise: `ADD next_slot :interval` moves the next free slot on and returns it, atomically.

The interval carries a small margin: Slack measures arrivals, we measure departures. The item is
keyed by a hash of the webhook URL: the URL is a secret and never stored.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from harbormaster.state.store import conditional, items_table

MARGIN = 1.05
_TTL_SECONDS = 3600


class TablePacer:
    """Books send slots in the DynamoDB table; `table`, `now` and `sleep` are injectable for tests."""

    def __init__(
        self,
        table: Callable[[], Any] = items_table,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._table = table
        self._now = now
        self._sleep = sleep

    def book(self, webhook_url: str, per_second: float) -> float:
        """Book the next slot of this webhook; returns its time (epoch seconds)."""
        interval = Decimal(str(round(MARGIN / per_second, 6)))
        now = Decimal(str(round(self._now(), 6)))
        key = {"pk": "PACE#" + hashlib.sha256(webhook_url.encode()).hexdigest()[:32], "sk": "SLOT"}
        expires = int(now) + _TTL_SECONDS
        table = self._table()
        claimed_now = conditional(
            lambda: table.update_item(
                Key=key,
                UpdateExpression="SET next_slot = :after, expires_at = :expires",
                ConditionExpression="attribute_not_exists(next_slot) OR next_slot <= :now",
                ExpressionAttributeValues={":after": now + interval, ":now": now, ":expires": expires},
            )
        )
        if claimed_now:
            return float(now)
        booked = table.update_item(
            Key=key,
            UpdateExpression="ADD next_slot :interval SET expires_at = :expires",
            ExpressionAttributeValues={":interval": interval, ":expires": expires},
            ReturnValues="UPDATED_NEW",
        )["Attributes"]["next_slot"]
        return float(booked - interval)

    def wait(self, webhook_url: str, per_second: float) -> None:
        """Sleep until this webhook may send again, its slot booked."""
        slot = self.book(webhook_url, per_second)
        delay = slot - self._now()
        if delay > 0:
            self._sleep(delay)


PACER = TablePacer()
