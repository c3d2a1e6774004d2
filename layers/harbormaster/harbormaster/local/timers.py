"""What falls due on the engine's virtual clock while every execution waits on something outside it.

A Wait state jumps the clock itself, but an execution parked on a task token (an approval gate,
an ECS deployment followed by its events) waits for the world: the deployment to complete at its
time, or the task's own timeout. Those moments are timers here. When the engine finds nothing
running but parked executions (`LocalEngine.settle`), it moves the clock to the earliest timer and
fires it, as that much time passing in AWS would.

The timeout (`TimeoutSeconds`, `TimeoutSecondsPath`) of a task waiting on its token is such a
timer (`parked`): moto's interpreter would wait for it on the wall clock.

An execution is parked from the moment its task waits on the token until the token is sent
(`SendTaskSuccess` sets the endpoint's event at once, before the execution's thread wakes), so
the engine never mistakes an execution that was just woken for one still waiting.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from harbormaster.local.clock import VirtualClock


class Timers:
    """Callbacks due at moments of the virtual clock, fired in order by `fire_next`."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self._heap: list[tuple[datetime, int, Callable[[], None]]] = []
        self._cancelled: set[int] = set()
        self._ids = itertools.count()
        self._lock = threading.RLock()
        self._parked: dict[str, list[Any]] = {}  # execution ARN → callback endpoints waiting on a token

    def at(self, moment: datetime, callback: Callable[[], None]) -> int:
        """Run `callback` once the clock reaches `moment`; returns an id for `cancel`."""
        with self._lock:
            timer = next(self._ids)
            heapq.heappush(self._heap, (moment, timer, callback))
            return timer

    def cancel(self, timer: int) -> None:
        with self._lock:
            self._cancelled.add(timer)

    def fire_next(self) -> bool:
        """Move the clock to the earliest timer and run every timer due by then; False if none."""
        with self._lock:
            self._drop_cancelled()
            if not self._heap:
                return False
            self.clock.advance_to(self._heap[0][0])
            now = self.clock.now
            due = []
            while self._heap and self._heap[0][0] <= now:
                _, timer, callback = heapq.heappop(self._heap)
                if timer not in self._cancelled:
                    due.append(callback)
                self._cancelled.discard(timer)
        for callback in due:  # outside the lock: a callback may arm another timer
            callback()
        return True

    def _drop_cancelled(self) -> None:
        while self._heap and self._heap[0][1] in self._cancelled:
            self._cancelled.discard(heapq.heappop(self._heap)[1])

    @contextmanager
    def parked(self, execution_arn: str, endpoint: Any, timeout_seconds: float) -> Iterator[None]:
        """While a task of `execution_arn` waits on its token at `endpoint`: the execution counts
        as parked (until the token is sent), and the task's timeout is a timer that ends the wait
        (moto's interpreter then reports States.Timeout, as for a timeout on the wall clock)."""
        timer = self.at(self.clock.now + timedelta(seconds=timeout_seconds), endpoint.interrupt_all)
        with self._lock:
            self._parked.setdefault(execution_arn, []).append(endpoint)
        try:
            yield
        finally:
            self.cancel(timer)
            with self._lock:
                self._parked[execution_arn].remove(endpoint)

    def all_parked(self, execution_arns: list[str]) -> bool:
        """Each of these executions has a task waiting on a token not yet sent. (A token wait inside
        a Map or Parallel would count its whole execution as parked: the deploy machine has none.)"""
        with self._lock:
            return all(
                any(not endpoint._notify_event.is_set() for endpoint in self._parked.get(arn, []))
                for arn in execution_arns
            )
