"""The deploy commands of a release that have not finished: found by their comment, cancelled
when the release is stopped (a guard alarm) or fails (before its revert).

The fence already makes such a command a no-op once its release lost the environment; cancelling
it keeps it from waiting in the instance's queue (and holding the deploy `flock`) ahead of the
command that replaces it. SSM does not promise that a cancelled command stops ("there is no
guarantee that the command will be terminated"): the fence is the guarantee, this is the speed.
"""

from __future__ import annotations

import os

from botocore.exceptions import ClientError

from harbormaster.clients import client
from harbormaster.observability import logger

DOCUMENT_ENV = "DEPLOY_DOCUMENT_NAME"
IN_FLIGHT = ("Pending", "InProgress")  # ListCommands' Status filter takes one value per filter


def comment(environment: str, release_id: str) -> str:
    """What SendCommand's Comment says (at most 100 characters): how a release finds its commands."""
    return f"harbormaster {environment} {release_id}"[:100]


def cancel_in_flight(environment: str, release_id: str) -> list[str]:
    """Cancel every deploy command of `release_id` that is pending or running; their ids. Best
    effort: an error (e.g. a permission boundary denying ListCommands) is logged, never raised,
    because the rollback or revert that follows must not depend on it."""
    try:
        return _cancel(environment, release_id)
    except ClientError as exc:
        logger.warning(
            "could not cancel the release's commands in flight (the fence still refuses them)",
            extra={"release_id": release_id, "error": exc.response["Error"].get("Code")},
        )
        return []


def _cancel(environment: str, release_id: str) -> list[str]:
    ssm = client("ssm")
    wanted = comment(environment, release_id)
    cancelled = []
    for status in IN_FLIGHT:
        filters = [{"key": "DocumentName", "value": os.environ[DOCUMENT_ENV]}, {"key": "Status", "value": status}]
        for page in ssm.get_paginator("list_commands").paginate(Filters=filters):
            for command in page["Commands"]:
                if command.get("Comment") != wanted:
                    continue
                try:
                    ssm.cancel_command(CommandId=command["CommandId"])
                except ClientError as exc:
                    if exc.response["Error"]["Code"] != "InvalidCommandId":  # gone meanwhile
                        raise
                    continue
                cancelled.append(str(command["CommandId"]))
    return cancelled
