"""At most N messages per second per webhook, for every attempt (first sends and retries alike).

One forwarder runs at a time (reserved concurrency 1), so pacing in the process is pacing overall.
The interval carries a small margin: Slack measures arrivals, we measure departures."""

from __future__ import annotations

import threading
import time

MARGIN = 1.05


class Pacer:
    def __init__(self) -> None:
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, key: str, per_second: float) -> None:
        """Sleep until `key` may send again, and book the slot."""
        with self._lock:
            now = time.monotonic()
            due = self._next.get(key, now)
            if due > now:
                time.sleep(due - now)
                now = due
            self._next[key] = now + MARGIN / per_second


PACER = Pacer()
