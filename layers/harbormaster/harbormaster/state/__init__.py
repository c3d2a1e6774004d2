"""Runtime state in the single DynamoDB table: the release ledger and the deploy lock."""

from harbormaster.state import ledger, lock

__all__ = ["ledger", "lock"]
