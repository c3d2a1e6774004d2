"""Hold one AWS call of a running Lambda at a named point, so a test can make another thing happen
in between and then let it go: races replayed deterministically, never with sleeps.

    pause = engine.pause("ssm", "SendCommand", when=lambda params: params["InstanceIds"] == [victim])
    engine.push_image(REPO, "v2", wait=False)
    pause.wait_until_reached()        # the step decided to act, and is about to call SendCommand
    engine.send_event(alarm)          # ...a rollback happens meanwhile
    pause.resume()                    # the stale call lands now

`before` holds the call before botocore builds the request (nothing reached AWS yet); `after` holds
it once AWS answered, before the caller sees the answer ("after the status check"). A pause holds
the first matching call only; later calls pass. The hook is a botocore event handler, like
moto's own, so it sees the Lambdas' API parameters exactly as they wrote them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import botocore.handlers

HOLD_LIMIT_SECONDS = 120.0  # a forgotten pause fails the held call instead of hanging the run


class PauseTimeout(TimeoutError):
    """The paused call was never reached, or was never resumed."""


@dataclass
class Pause:
    service: str
    operation: str
    when: Callable[[dict[str, Any]], bool]
    after: bool = False
    params: dict[str, Any] | None = None  # the held call's API parameters
    _reached: threading.Event = field(default_factory=threading.Event)
    _resumed: threading.Event = field(default_factory=threading.Event)

    def wait_until_reached(self, timeout: float = 60.0) -> dict[str, Any]:
        """Block until a matching call is held; its API parameters."""
        if not self._reached.wait(timeout):
            raise PauseTimeout(f"no {self.service} {self.operation} call matched within {timeout:g}s")
        assert self.params is not None
        return self.params

    def resume(self) -> None:
        self._resumed.set()

    @property
    def reached(self) -> bool:
        return self._reached.is_set()

    @property
    def holding(self) -> bool:
        """Reached and not resumed: the held invocation waits for the test, not for the engine."""
        return self._reached.is_set() and not self._resumed.is_set()

    def _hold(self, around: Callable[[], AbstractContextManager[None]]) -> None:
        with around():
            resumed = self._resumed.wait(HOLD_LIMIT_SECONDS)
        if not resumed:
            raise PauseTimeout(f"{self.service} {self.operation} was held {HOLD_LIMIT_SECONDS:g}s and never resumed")


class Pauses:
    """The engine's pause points: one botocore handler for every client created while installed."""

    def __init__(self) -> None:
        self.while_held: Callable[[], AbstractContextManager[None]] = nullcontext  # the runtime's `yielding`
        self._armed: list[Pause] = []
        self._lock = threading.Lock()
        self._handlers = [
            ("before-parameter-build", self._before_call),
            ("after-call", self._after_call),
        ]

    def install(self) -> None:
        botocore.handlers.BUILTIN_HANDLERS.extend(self._handlers)

    def uninstall(self) -> None:
        for handler in self._handlers:
            if handler in botocore.handlers.BUILTIN_HANDLERS:
                botocore.handlers.BUILTIN_HANDLERS.remove(handler)
        for pause in self._armed:
            pause.resume()

    def holding(self) -> int:
        with self._lock:
            return sum(1 for pause in self._armed if pause.holding)

    def arm(self, pause: Pause) -> Pause:
        with self._lock:
            self._armed.append(pause)
        return pause

    def _before_call(self, params: dict[str, Any], model: Any, context: Any = None, **_: Any) -> None:
        if context is not None:
            context["harbormaster_params"] = dict(params)  # the after-call handler sees no parameters
        self._maybe_hold(model, params, after=False)

    def _after_call(self, model: Any, context: Any = None, **_: Any) -> None:
        params = (context or {}).get("harbormaster_params")
        if params is not None:
            self._maybe_hold(model, params, after=True)

    def _maybe_hold(self, model: Any, params: dict[str, Any], after: bool) -> None:
        service, operation = model.service_model.service_name, model.name
        with self._lock:
            candidates = [
                p
                for p in self._armed
                if not p.reached and p.after == after and (p.service, p.operation) == (service, operation)
            ]
        # `when` runs outside the lock: it may itself call AWS (and come back through here).
        matching = [p for p in candidates if p.when(params)]
        pause = None
        with self._lock:
            for candidate in matching:
                if not candidate.reached:  # claimed: no other call takes this pause
                    candidate.params = dict(params)
                    candidate._reached.set()
                    pause = candidate
                    break
        if pause is not None:
            pause._hold(self.while_held)
