"""What Step Functions does and moto's interpreter does not.

- An execution's history holds at most 25,000 events. The one that would be the 25,000th is
  replaced by `ExecutionFailed` (`States.Runtime`, "The execution reached the maximum number of
  history events (25000)."), and the execution ends FAILED: no Catch runs, nothing more happens.
- `States.ALL` does not catch the terminal errors `States.DataLimitExceeded` and `States.Runtime`
  (a state's input or output over 256 KB fails the execution however the state is guarded).
  moto already raises DataLimitExceeded for payloads over 256 KB; its `States.ALL` caught it.
- An error from inside a Map iteration or a Parallel branch keeps its name: a `States.*` error stays
  one (moto turned it into a "custom" error, refused it and reported States.Runtime instead).
- A closed execution's name stays taken for 90 days (moto: forever), on the engine's clock.
- StopExecution makes the execution ABORTED at once, with its error and cause (moto: RUNNING until
  its worker thread next looks, which a Lambda still running delays). As in AWS, that Lambda runs
  to its end and its result is discarded; `lingering()` lists such executions so that the engine
  can let them finish before it shuts down.
- A task token is answered once: SendTaskSuccess / SendTaskFailure on a token already answered,
  whose task timed out, or whose execution is over, is `TaskTimedOut` ("the task associated with
  the token has already been closed"); moto let a second answer overwrite the first, and called a
  closed execution's token invalid. A token never handed out stays `InvalidToken`.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any
from unittest import mock

from harbormaster import clock

HISTORY_LIMIT = 25_000
HISTORY_CAUSE = f"The execution reached the maximum number of history events ({HISTORY_LIMIT})."
NAME_RESERVED = timedelta(days=90)
_COUNTING = threading.RLock()
_CLOSING = {"ExecutionFailed", "ExecutionSucceeded", "ExecutionAborted", "ExecutionTimedOut"}
_LINGERING: set[Any] = set()  # stopped executions whose worker thread has not ended yet


def lingering() -> list[str]:
    """ARNs of stopped (ABORTED) executions whose last task is still running in the engine."""
    with _COUNTING:
        return [execution.exec_arn for execution in _LINGERING]


def patches() -> list[Any]:
    from moto.stepfunctions.exceptions import ExecutionAlreadyExists
    from moto.stepfunctions.models import StateMachine
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    terminal = {StatesErrorNameType.StatesRuntime, StatesErrorNameType.StatesStatesDataLimitExceeded}
    everything = StatesErrorName(typ=StatesErrorNameType.StatesALL)
    original_equals = ErrorEqualsDecl._eval_body
    original_add = EventManager.add_event
    original_reflect = BaseExecutionWorkerCommunication._reflect_execution_status

    def error_equals(decl: Any, env: Any) -> None:
        error = env.stack[-1] if env.stack else None
        if everything in decl.error_names and isinstance(error, StatesErrorName) and error.typ in terminal:
            env.stack.pop()
            env.stack.append(False)  # States.ALL does not catch a terminal error
            return
        original_equals(decl, env)

    def add_event(manager: Any, context: Any, event_type: Any, event_details: Any = None, **kwargs: Any) -> int:
        with _COUNTING:  # Map iterations add events from several threads
            return counted(manager, context, event_type, event_details, **kwargs)

    def counted(manager: Any, context: Any, event_type: Any, event_details: Any = None, **kwargs: Any) -> int:
        kind = str(getattr(event_type, "value", event_type))
        if getattr(manager, "_harbormaster_exhausted", False):
            if kind in _CLOSING:
                return HISTORY_LIMIT  # the limit's ExecutionFailed is already the last event
            raise _history_exhausted(context)
        if manager._event_id_gen._next_id >= HISTORY_LIMIT and kind not in _CLOSING:
            manager._harbormaster_exhausted = True
            original_add(
                manager,
                context,
                "ExecutionFailed",
                {"executionFailedEventDetails": {"error": "States.Runtime", "cause": HISTORY_CAUSE}},
            )
            raise _history_exhausted(context)
        return int(original_add(manager, context, event_type, event_details, **kwargs))

    def reflect(communication: Any) -> None:
        original_reflect(communication)
        execution = communication.execution
        with _COUNTING:
            _LINGERING.discard(execution)
        execution._harbormaster_closed_at = clock.now()
        if getattr(execution.exec_worker.env.event_manager, "_harbormaster_exhausted", False):
            execution.exec_status = ExecutionStatus.FAILED
            execution.error, execution.cause = "States.Runtime", HISTORY_CAUSE

    def name_taken(machine: Any, name: str, execution_input: str) -> Any:
        """moto's rule (the same name and input while RUNNING: that execution; else taken), for the
        executions that closed less than 90 days ago."""
        now = clock.now()
        for execution in list(machine.executions):
            closed = getattr(execution, "_harbormaster_closed_at", None)
            if execution.name != name or (closed is not None and now - closed >= NAME_RESERVED):
                continue
            if execution_input == execution.execution_input and execution.status == "RUNNING":
                return execution
            raise ExecutionAlreadyExists(f"Execution Already Exists: '{execution.execution_arn}'")
        return None

    return [
        *_nested_error_names(),
        mock.patch.object(ErrorEqualsDecl, "_eval_body", error_equals),
        mock.patch.object(EventManager, "add_event", add_event),
        mock.patch.object(BaseExecutionWorkerCommunication, "_reflect_execution_status", reflect),
        _aborted_at_once(),
        mock.patch.object(StateMachine, "_handle_name_input_idempotency", name_taken),
        *_answered_once(),
    ]


def _answered_once() -> list[Any]:
    from moto.stepfunctions.parser.api import InvalidToken, TaskTimedOut
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackPoolManager
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original_notify = CallbackPoolManager.notify
    original_add = CallbackPoolManager.add
    issued: set[str] = set()  # every task token handed out: one not found later belongs to a closed task

    def closed() -> Exception:
        # (Raised here: moto's own TaskTimedOut path fails to build the error.)
        error: Exception = TaskTimedOut(
            "Task Timed Out: the task associated with the token has already been closed", "TaskTimedOut"
        )
        return error

    def add(pool: Any, callback_id: str) -> Any:
        issued.add(callback_id)
        return original_add(pool, callback_id)

    def notify(pool: Any, callback_id: str, outcome: Any) -> bool:
        endpoint = pool.get(callback_id)
        # Set once the token is answered, or the task's wait ended (moto interrupts it on a timeout).
        if endpoint is not None and endpoint._notify_event.is_set():
            raise closed()
        return bool(original_notify(pool, callback_id, outcome))

    def answering(original: Any) -> Any:
        def answer(backend: Any, task_token: str, *args: Any, **kwargs: Any) -> Any:
            try:
                return original(backend, task_token, *args, **kwargs)
            except InvalidToken:
                if task_token in issued:  # its execution is over: AWS says the task is closed
                    raise closed() from None
                raise

        return answer

    return [
        mock.patch.object(CallbackPoolManager, "add", add),
        mock.patch.object(CallbackPoolManager, "notify", notify),
        mock.patch.object(
            StepFunctionsParserBackend, "send_task_success", answering(StepFunctionsParserBackend.send_task_success)
        ),
        mock.patch.object(
            StepFunctionsParserBackend, "send_task_failure", answering(StepFunctionsParserBackend.send_task_failure)
        ),
    ]


def _nested_error_names() -> list[Any]:
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import iteration_worker
    from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branches_decl

    def nested_error_name(error_name: str) -> Any:
        if error_name.startswith("States."):
            return StatesErrorName.from_name(error_name)
        return CustomErrorName(error_name=error_name)

    return [
        mock.patch.object(iteration_worker, "CustomErrorName", nested_error_name),
        mock.patch.object(branches_decl, "CustomErrorName", nested_error_name),
    ]


def _aborted_at_once() -> Any:
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.backend.execution import Execution

    original_stop = Execution.stop

    def stop(execution: Any, stop_date: Any, error: str | None, cause: str | None) -> None:
        original_stop(execution, stop_date=stop_date, error=error, cause=cause)
        with _COUNTING:
            if execution.exec_status == ExecutionStatus.RUNNING:
                execution.exec_status = ExecutionStatus.ABORTED
                execution.stop_date, execution.error, execution.cause = stop_date, error, cause
                _LINGERING.add(execution)

    return mock.patch.object(Execution, "stop", stop)


def _history_exhausted(context: Any) -> Exception:
    """What the state that hit the limit raises: a terminal States.Runtime failure."""
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )

    class _Env:  # FailureEvent reads only these two attributes of the environment
        next_state_name = ""
        event_history_context = context

    details = {"executionFailedEventDetails": {"error": "States.Runtime", "cause": HISTORY_CAUSE}}
    error = StatesErrorName(typ=StatesErrorNameType.StatesRuntime)
    failure: Exception = FailureEventException(FailureEvent(_Env(), error, "ExecutionFailed", details))
    return failure
