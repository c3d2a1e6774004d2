"""Approvals and rollbacks on someone's say-so: the approval gate's service and Slack's buttons."""

from harbormaster.approval.service import Answer, approve, reject, request, rollback

__all__ = ["Answer", "approve", "reject", "request", "rollback"]
