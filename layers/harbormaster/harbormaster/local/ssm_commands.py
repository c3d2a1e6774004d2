"""Run Command's queue, as AWS keeps it: CancelCommand and ListCommandInvocations (moto lacks
both actions) and ListCommands' `Filters` (moto ignores them and lists every command).

- ListCommands: `Filters` keys are InvokedAfter, InvokedBefore, Status, ExecutionStage and
  DocumentName, one value each; a Status outside SSM's command statuses is a ValidationException.
  The engine filters on Status and DocumentName and refuses the others rather than ignore them.
- CancelCommand: an unknown id is `InvalidCommandId`; invocations still Pending or InProgress end
  Cancelled (the fleet never runs them), finished ones are left as they are, and the call succeeds
  either way (AWS: "there is no guarantee that the command will be terminated").
- ListCommandInvocations: by CommandId (and InstanceId), `MaxResults` 1-50 (default 50) with a
  `NextToken`; with `Details` each invocation carries its plugin (`CommandPlugins`: Status,
  ResponseCode, and `Output`, the first 2,500 characters of stdout then stderr after SSM's
  `----------ERROR-------` line).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from unittest import mock

COMMAND_STATUSES = {"Pending", "InProgress", "Success", "Cancelled", "Failed", "TimedOut", "Cancelling"}
FILTER_KEYS = {"InvokedAfter", "InvokedBefore", "Status", "ExecutionStage", "DocumentName"}
UNFINISHED = {"Pending", "InProgress", "Delayed"}
OUTPUT_LIMIT = 2500
PAGE_LIMIT = 50


def patches(on_cancel: Callable[[Any, list[str]], None], before_read: Callable[[], None]) -> list[Any]:
    """`on_cancel(command, instance ids)`: what the fleet drops from its delivery queue;
    `before_read()`: the fleet ends the commands whose time has come before any is read."""
    from moto.core.responses import ActionResult
    from moto.ssm.exceptions import SSMException, ValidationException
    from moto.ssm.responses import SimpleSystemManagerResponse

    original_list = SimpleSystemManagerResponse.list_commands

    def list_commands(response: Any) -> Any:
        before_read()
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

    def list_command_invocations(response: Any) -> Any:
        before_read()
        command_id, instance_id = response._get_param("CommandId"), response._get_param("InstanceId")
        limit = int(response._get_param("MaxResults") or PAGE_LIMIT)
        if not 1 <= limit <= PAGE_LIMIT:
            raise ValidationException(
                f"1 validation error detected: Value '{limit}' at 'maxResults' failed to satisfy "
                f"constraint: Member must have value less than or equal to {PAGE_LIMIT}"
            )
        commands = [c for c in response.ssm_backend._commands if command_id in (None, c.command_id)]
        if command_id and not commands:
            raise SSMException("InvalidCommandId", "Invalid command id.")
        listed = [
            _listed(command, invocation, bool(response._get_param("Details")))
            for command in commands
            for invocation in command.invocations
            if instance_id in (None, invocation["InstanceId"])
        ]
        start = int(response._get_param("NextToken") or 0)
        page: dict[str, Any] = {"CommandInvocations": listed[start : start + limit]}
        if start + limit < len(listed):
            page["NextToken"] = str(start + limit)
        return ActionResult(page)

    return [
        mock.patch.object(SimpleSystemManagerResponse, "list_commands", list_commands),
        mock.patch.object(SimpleSystemManagerResponse, "cancel_command", cancel_command, create=True),
        mock.patch.object(
            SimpleSystemManagerResponse, "list_command_invocations", list_command_invocations, create=True
        ),
    ]


def _listed(command: Any, invocation: dict[str, Any], details: bool) -> dict[str, Any]:
    listed = {
        "CommandId": command.command_id,
        "InstanceId": invocation["InstanceId"],
        "Comment": command.comment or "",
        "DocumentName": command.document_name,
        "RequestedDateTime": command.requested_date_time,
        "Status": invocation["Status"],
        "StatusDetails": invocation["StatusDetails"],
        "CommandPlugins": [],
    }
    if details:
        output = invocation.get("StandardOutputContent") or ""
        if errors := invocation.get("StandardErrorContent"):
            output += "\n----------ERROR-------\n" + errors
        plugin = {"Name": invocation.get("PluginName") or "aws:runShellScript", "Status": invocation["Status"]}
        plugin.update({"StatusDetails": invocation["StatusDetails"], "Output": output[:OUTPUT_LIMIT]})
        if invocation["Status"] not in UNFINISHED:
            plugin["ResponseCode"] = invocation.get("ResponseCode", -1)
        listed["CommandPlugins"] = [plugin]
    return listed


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
