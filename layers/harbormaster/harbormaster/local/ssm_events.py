"""What Run Command announces on EventBridge, as AWS sends it (samples in
tests/fixtures/shared-events/aws/ssm-ec2-command-*.json):

- `EC2 Command Invocation Status-change Notification`: one instance's invocation changed status;
- `EC2 Command Status-change Notification`: the command as a whole changed status (its status is
  the invocations' combined one: InProgress until every one ended).

The fleet announces each invocation and command that reached a final status.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

FINAL = {"Success", "Failed", "TimedOut", "Cancelled", "Undeliverable", "Terminated"}


def invocation_event(command: Any, instance_id: str, status: str, account: str, region: str) -> dict[str, Any]:
    return {
        "source": "aws.ssm",
        "detail-type": "EC2 Command Invocation Status-change Notification",
        "resources": [_instance_arn(instance_id, account, region)],
        "detail": {
            "command-id": command.command_id,
            "document-name": command.document_name,
            "instance-id": instance_id,
            "requested-date-time": _stamp(command.requested_date_time),
            "status": status,
        },
    }


def command_event(command: Any, account: str, region: str) -> dict[str, Any]:
    return {
        "source": "aws.ssm",
        "detail-type": "EC2 Command Status-change Notification",
        "resources": [_instance_arn(i, account, region) for i in command.instance_ids],
        "detail": {
            "command-id": command.command_id,
            "document-name": command.document_name,
            "expire-after": _stamp(command.expires_after),
            "parameters": dict(command.parameters or {}),
            "requested-date-time": _stamp(command.requested_date_time),
            "status": command.status,
        },
    }


def _instance_arn(instance_id: str, account: str, region: str) -> str:
    return f"arn:aws:ec2:{region}:{account}:instance/{instance_id}"


def _stamp(moment: datetime) -> str:
    """As the samples write times: milliseconds and a Z (moto's are naive UTC datetimes)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
