"""Run the template's Lambda handlers in this process, with the template's environment."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from harbormaster.local.stack import LocalFunction, ProvisionedStack


@dataclass
class Invocation:
    logical_id: str
    event: Any
    response: Any = None
    error: dict[str, Any] | None = None
    duration_ms: float = 0.0

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass
class LambdaContext:
    """What the Lambda runtime hands a handler (the fields Powertools reads)."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


class LogCapture(io.TextIOBase):
    """Collects what handlers log (Powertools writes JSON lines); optionally echoes to stderr."""

    def __init__(self, echo: bool = False) -> None:
        self.lines: list[str] = []
        self.echo = echo
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self.lines.extend(line for line in text.splitlines() if line.strip())
            if self.echo:
                sys.stderr.write(text)
        return len(text)

    def text(self) -> str:
        return "\n".join(self.lines)


class StdoutRouter(io.TextIOBase):
    """Installed as sys.stdout for the engine's life: what a handler prints during an invocation
    (Powertools Metrics prints its EMF JSON) goes to the logs, as in Lambda; the rest (the CLI's
    output) goes to the real stdout. Per thread, because Step Functions invokes from workers."""

    def __init__(self, real: Any, logs: LogCapture, invoking: threading.local) -> None:
        self.real = real
        self.logs = logs
        self.invoking = invoking

    def write(self, text: str) -> int:
        target = self.logs if getattr(self.invoking, "active", False) else self.real
        return int(target.write(text))

    def flush(self) -> None:
        self.real.flush()


class LambdaRuntime:
    """One warm container per function: a module loaded once, invoked under its own environment.

    Invocations are serialised (Step Functions executions call in from worker threads) because
    the environment is process-wide.
    """

    def __init__(
        self, stack: ProvisionedStack, base_env: dict[str, str], overrides: dict[str, str], logs: LogCapture
    ) -> None:
        self.stack = stack
        self.base_env = base_env
        self.overrides = overrides
        self.logs = logs
        self.invocations: list[Invocation] = []
        self.listeners: list[Callable[[Invocation], None]] = []
        self._modules: dict[str, ModuleType] = {}
        self._lock = threading.RLock()
        self.invoking = threading.local()
        self._counts = threading.Lock()
        self._started = 0  # invocations begun and not ended (waiting for the lock included)
        self.held: Callable[[], int] = lambda: 0  # of those, how many a test holds (the engine's pauses)

    def busy(self) -> bool:
        """An invocation is running that no test holds: settle() waits for it. A Lambda outlives
        its execution (StopExecution does not stop it), and what it does still counts."""
        with self._counts:
            return self._started > self.held()

    def _count(self, started: int) -> None:
        with self._counts:
            self._started += started

    def invoke(self, ref: str, event: Any) -> Invocation:
        function = self.stack.function(ref)
        record = Invocation(function.logical_id, event)
        started = time.perf_counter()
        # No stdout redirection: it is process-wide and Step Functions calls in from worker threads.
        # Powertools' Logger writes to `logs` (the engine points its handler there).
        outer = getattr(self.invoking, "active", False)  # an invocation made from inside another
        self._count(started=1)
        with self._lock, self.environment(function):
            self.invoking.active = True
            try:
                handler = self._handler(function)
                context = LambdaContext(
                    function_name=function.name,
                    invoked_function_arn=function.arn,
                    memory_limit_in_mb=function.memory,
                    timeout_seconds=function.timeout,
                    log_group_name=f"/aws/lambda/{function.name}",
                )
                # A Lambda response must be JSON: round-trip it so tests see what AWS would return.
                record.response = json.loads(json.dumps(handler(event, context)))
            except Exception as exc:
                record.error = {
                    "errorMessage": str(exc),
                    "errorType": type(exc).__name__,
                    "stackTrace": traceback.format_exception(exc)[-6:],
                }
            finally:
                self.invoking.active = outer
                self._count(started=-1)
        record.duration_ms = (time.perf_counter() - started) * 1000
        self.invocations.append(record)
        for listener in self.listeners:
            listener(record)
        return record

    @contextlib.contextmanager
    def yielding(self) -> Iterator[None]:
        """While this thread's invocation waits on something outside it (a call held by a test,
        `pauses.py`), other invocations run. Each restores the environment it found when it
        ends, so this one finds its own again when it takes the lock back."""
        if not getattr(self.invoking, "active", False):
            yield
            return
        self._lock.release()
        try:
            yield
        finally:
            self._lock.acquire()

    def _handler(self, function: LocalFunction) -> Callable[[Any, Any], Any]:
        module_name, _, attribute = function.handler.rpartition(".")
        module = self._modules.get(function.logical_id)
        if module is None:
            path = function.code_dir / (module_name.replace(".", "/") + ".py")
            spec = importlib.util.spec_from_file_location(f"hm_local_{function.logical_id}", path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load the handler module {path}")
            module = importlib.util.module_from_spec(spec)
            sys.path.insert(0, str(function.code_dir))
            try:
                spec.loader.exec_module(module)
            finally:
                sys.path.remove(str(function.code_dir))
            self._modules[function.logical_id] = module
        handler: Callable[[Any, Any], Any] = getattr(module, attribute)
        return handler

    @contextlib.contextmanager
    def environment(self, function: LocalFunction) -> Iterator[None]:
        """Give `function` its environment from the template.

        Values are only ever set, never removed: other threads (moto's Step Functions workers, the
        engine) read os.environ meanwhile, and a key vanishing under them breaks their iteration.
        The engine restores the process environment when it stops. The price: a handler can also
        see variables that only other functions define (names do not collide in this template).
        """
        os.environ.update(
            {
                **self.base_env,
                **function.environment,
                **self.overrides,
                "AWS_LAMBDA_FUNCTION_NAME": function.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            }
        )
        yield
