"""Runtime state in the single DynamoDB table: the release ledger, the deploy lock, and what each
instance runs."""

from harbormaster.state import instances, ledger, lock

__all__ = ["instances", "ledger", "lock"]
