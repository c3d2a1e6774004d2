"""Step Functions on the engine's virtual clock: Wait states and retry intervals jump the clock
forward instead of sleeping, so a 300 s drain or a 150 s health check costs no real time, and
the handlers (through `harbormaster.clock`) see the time AWS would show them. The SDK's own
retry backoff (botocore sleeps between attempts of a throttled call) jumps it too. The timeout
of a task waiting on its token runs on the virtual clock as well (`Timers.parked`): it fires when
the engine, finding every execution parked, moves the clock to it."""

from __future__ import annotations

import time
from datetime import timedelta
from types import SimpleNamespace
from typing import Any
from unittest import mock

from harbormaster import clock
from harbormaster.local.clock import VirtualClock
from harbormaster.local.timers import Timers


def install(virtual: VirtualClock, timers: Timers) -> list[Any]:
    """Patch moto's interpreter and point `harbormaster.clock` at `virtual` (task timeouts: at
    `timers`); returns the patchers (each has `stop()`)."""
    import botocore.endpoint
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
        StateTaskServiceCallback,
    )
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    def wait_interval(function: Any, env: Any, wait_seconds: int) -> None:
        if wait_seconds > 0 and env.is_running():
            virtual.advance_to(virtual.now + timedelta(seconds=wait_seconds))
        time.sleep(0)  # let the other branches of a Map or Parallel run

    def retry_sleep(seconds: float) -> None:
        virtual.advance_to(virtual.now + timedelta(seconds=seconds))

    patchers: list[Any] = [
        mock.patch.object(WaitFunction, "_wait_interval", wait_interval),
        mock.patch.object(retrier_decl, "time", SimpleNamespace(sleep=retry_sleep)),
        mock.patch.object(botocore.endpoint, "time", SimpleNamespace(sleep=retry_sleep)),  # its only use of time
        mock.patch.object(StateTaskServiceCallback, "_eval_wait_for_task_token", _token_wait(timers)),
    ]
    for patcher in patchers:
        patcher.start()
    clock.use(virtual.read)
    patchers.append(SimpleNamespace(stop=clock.reset))
    return patchers


def _token_wait(timers: Timers) -> Any:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
        StateTaskServiceCallback,
    )

    original = StateTaskServiceCallback._eval_wait_for_task_token

    def wait(task: Any, env: Any, timeout_seconds: int, callback_endpoint: Any, heartbeat_endpoint: Any) -> Any:
        execution = env.states.context_object.context_object_data["Execution"]["Id"]
        with timers.parked(execution, callback_endpoint, timeout_seconds):
            return original(task, env, timeout_seconds, callback_endpoint, heartbeat_endpoint)

    return wait
