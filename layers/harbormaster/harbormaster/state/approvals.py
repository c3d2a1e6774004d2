"""Approval requests in the single table. The task token stays here, never in a Slack message.

APPROVAL#<env> / <release id>   status, the task token, the approvers so far, who decided and when

    PENDING ─decide→ APPROVING / REJECTING ─sent to the gate→ APPROVED / REJECTED
                     (the decision is recorded before SendTask* and confirmed after it: a send that
                      failed, or a function that timed out in between, is completed by the retry or
                      by the next click, never lost; the gate's own timeout always ends REJECTED)

Approval records have a partition of their own so that IAM can keep them from every function that
has no business with task tokens (`dynamodb:LeadingKeys` in the template's ApprovalRecordsOffLimits).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr, Key

from harbormaster import clock
from harbormaster.state.status import ApprovalStatus
from harbormaster.state.store import conditional, items_table, plain

PARTITION = "APPROVAL#"


def _key(environment: str, release_id: str) -> dict[str, str]:
    return {"pk": f"{PARTITION}{environment}", "sk": release_id}


def open_request(
    environment: str, release_id: str, task_token: str, needed: int, timeout_seconds: int, details: dict[str, Any]
) -> None:
    expires = clock.now() + timedelta(seconds=timeout_seconds) + timedelta(days=7)
    items_table().put_item(
        Item={
            **_key(environment, release_id),
            **{k: v for k, v in details.items() if v is not None},
            "status": ApprovalStatus.PENDING,
            "task_token": task_token,
            "needed": needed,
            "requested_at": clock.now().isoformat(timespec="seconds"),
            "expires_at": int(expires.timestamp()),
        }
    )


def get(environment: str, release_id: str) -> dict[str, Any] | None:
    item = items_table().get_item(Key=_key(environment, release_id), ConsistentRead=True).get("Item")
    return plain(item) if item else None


def pending(environment: str) -> dict[str, Any] | None:
    """The newest approval request of the environment that is still PENDING."""
    found = items_table().query(
        KeyConditionExpression=Key("pk").eq(f"{PARTITION}{environment}"),
        FilterExpression=Attr("status").eq(ApprovalStatus.PENDING),
        ScanIndexForward=False,
        ConsistentRead=True,
    )["Items"]
    return plain(found[0]) if found else None


def add_approver(environment: str, release_id: str, user: str) -> dict[str, Any] | None:
    """Record `user`'s approval while the request is PENDING; the updated request, or None if it
    was already decided."""
    item: dict[str, Any] = {}

    def write() -> None:
        item.update(
            items_table().update_item(
                Key=_key(environment, release_id),
                UpdateExpression="ADD approved_by :u",
                ConditionExpression="#s = :pending",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":u": {user}, ":pending": ApprovalStatus.PENDING},
                ReturnValues="ALL_NEW",
            )["Attributes"]
        )

    return plain(item) if conditional(write) else None


SENDING = {ApprovalStatus.APPROVED: ApprovalStatus.APPROVING, ApprovalStatus.REJECTED: ApprovalStatus.REJECTING}
DECIDED = {sending: final for final, sending in SENDING.items()}


def decide(
    environment: str,
    release_id: str,
    status: ApprovalStatus,
    by: str,
    reason: str | None = None,
    sent: str | None = None,
) -> bool:
    """PENDING → APPROVING / REJECTING, once (False: someone else decided first), keeping what is
    to be sent to the gate (`sent`: the task output or the failure cause)."""
    return conditional(
        lambda: items_table().update_item(
            Key=_key(environment, release_id),
            UpdateExpression=(
                "SET #s = :status, decided_by = :by, decided_at = :at, decision_reason = :reason, sent = :sent"
            ),
            ConditionExpression="#s = :pending",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":status": SENDING[status],
                ":by": by,
                ":at": clock.now().isoformat(timespec="seconds"),
                ":reason": reason,
                ":sent": sent,
                ":pending": ApprovalStatus.PENDING,
            },
        )
    )


def confirm(environment: str, release_id: str, sending: ApprovalStatus) -> bool:
    """APPROVING → APPROVED, REJECTING → REJECTED once the gate has the decision."""
    return conditional(
        lambda: items_table().update_item(
            Key=_key(environment, release_id),
            UpdateExpression="SET #s = :final, confirmed_at = :at",
            ConditionExpression="#s = :sending",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":final": DECIDED[sending],
                ":sending": sending,
                ":at": clock.now().isoformat(timespec="seconds"),
            },
        )
    )


def timed_out(environment: str, release_id: str, reason: str) -> None:
    """The gate's timeout fired: the request is REJECTED whatever was decided but not delivered."""
    items_table().update_item(
        Key=_key(environment, release_id),
        UpdateExpression="SET #s = :rejected, decided_by = :by, decided_at = :at, decision_reason = :reason",
        ConditionExpression="attribute_exists(sk)",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":rejected": ApprovalStatus.REJECTED,
            ":by": "the approval timeout",
            ":at": clock.now().isoformat(timespec="seconds"),
            ":reason": reason,
        },
    )
