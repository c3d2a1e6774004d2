"""The states a release and an approval request go through (stored as their names)."""

from __future__ import annotations

from enum import StrEnum


class ReleaseStatus(StrEnum):
    """A release (one deploy attempt) in the ledger.

    PENDING ─lock→ IN_PROGRESS ─→ SUCCEEDED | FAILED | REJECTED (approval) | ROLLED_BACK
    SKIPPED: never started (superseded by a newer image, quarantined, already running)."""

    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    REJECTED = "REJECTED"
    ROLLED_BACK = "ROLLED_BACK"

    @property
    def finished(self) -> bool:
        return self not in {ReleaseStatus.PENDING, ReleaseStatus.IN_PROGRESS}


class ApprovalStatus(StrEnum):
    """An approval request: PENDING ─decide→ APPROVING/REJECTING ─delivered→ APPROVED/REJECTED."""

    PENDING = "PENDING"
    APPROVING = "APPROVING"
    REJECTING = "REJECTING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
