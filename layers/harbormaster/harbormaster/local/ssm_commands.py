"""Run Command's queue, as AWS keeps it: CancelCommand (moto lacks the action) and ListCommands'
`Filters` (moto ignores them and lists every command).

- ListCommands: `Filters` keys are InvokedAfter, InvokedBefore, Status, ExecutionStage and
  DocumentName, one value each; a Status outside SSM's command statuses is a ValidationException.
  The engine filters on Status and DocumentName and refuses the others rather than ignore them.
- CancelCommand: an unknown id is `InvalidCommandId`; invocations still Pending or InProgress end
  Cancelled (the fleet never runs them), finished ones are left as they are, and the call succeeds
  either way (AWS: "there is no guarantee that the command will be terminated").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from unittest import mock

COMMAND_STATUSES = {"Pending", "InProgress", "Success", "Cancelled", "Failed", "TimedOut", "Cancelling"}
FILTER_KEYS = {"InvokedAfter", "InvokedBefore", "Status", "ExecutionStage", "DocumentName"}
UNFINISHED = {"Pending", "InProgress", "Delayed"}


def patches(on_cancel: Callable[[Any, list[str]], None]) -> list[Any]:
    """`on_cancel(command, instance ids)`: what the fleet drops from its delivery queue."""
    from moto.core.responses import ActionResult
    from moto.ssm.exceptions import SSMException, ValidationException
    from moto.ssm.responses import SimpleSystemManagerResponse

    original_list = SimpleSystemManagerResponse.list_commands

    def list_commands(response: Any) -> Any:
        filters = response._get_param("Filters") or []
        wanted: dict[str, str] = {}
        for item in filters:
            key, value = item.get("key"), item.get("value")
            if key not in FILTER_KEYS:
                raise ValidationException(f"Invalid filter key {key!r}; valid keys: {sorted(FILTER_KEYS)}")
            if key == "Status" and value not in COMMAND_STATUSES:
                raise ValidationException(f"Invalid filter value {value!r} for Status")
            if key not in {"Status", "DocumentName"}:
                raise ValidationException(f"the engine filters ListCommands on Status and DocumentName, not {key!r}")
            wanted[key] = value
        result = original_list(response)
        listed = [
            command
            for command in result.result["Commands"]
            if command["Status"] == wanted.get("Status", command["Status"])
            and command["DocumentName"] == wanted.get("DocumentName", command["DocumentName"])
        ]
        return ActionResult({**result.result, "Commands": listed})

    def cancel_command(response: Any) -> Any:
        command_id = response._get_param("CommandId")
        backend = response.ssm_backend
        command = next((c for c in backend._commands if c.command_id == command_id), None)
        if command is None:
            raise SSMException("InvalidCommandId", "Invalid command id.")
        only = set(response._get_param("InstanceIds") or command.instance_ids)
        cancelled = []
        for invocation in command.invocations:
            if invocation["InstanceId"] in only and invocation["Status"] in UNFINISHED:
                invocation.update({"Status": "Cancelled", "StatusDetails": "Cancelled", "ResponseCode": -1})
                cancelled.append(invocation["InstanceId"])
        if cancelled:
            on_cancel(command, cancelled)
        return ActionResult({})

    return [
        mock.patch.object(SimpleSystemManagerResponse, "list_commands", list_commands),
        mock.patch.object(SimpleSystemManagerResponse, "cancel_command", cancel_command, create=True),
    ]


def overall(invocations: list[dict[str, Any]]) -> str:
    """A command's status from its invocations' (the rules SSM documents for multi-instance commands)."""
    statuses = {i["Status"] for i in invocations}
    if statuses & UNFINISHED:
        return "InProgress" if "InProgress" in statuses else "Pending"
    if statuses <= {"Success"}:
        return "Success"
    if statuses <= {"Success", "Cancelled"}:
        return "Cancelled"
    return "Failed"  # any invocation that failed, timed out or was undeliverable
