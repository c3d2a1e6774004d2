"""Runtime state in the single DynamoDB table: the release ledger, the deploy lock, and what each
instance runs."""
