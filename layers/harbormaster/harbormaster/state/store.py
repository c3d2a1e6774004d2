"""The single DynamoDB table: access, conditional writes, plain values."""

from __future__ import annotations

import os
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from harbormaster.clients import table

TABLE_ENV = "TABLE_NAME"


def items_table() -> Any:
    return table(os.environ[TABLE_ENV])


def conditional(write: Callable[[], Any]) -> bool:
    """Run a conditional write: False when its condition did not hold (another writer got there first)."""
    try:
        write()
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False
    return True


def _table() -> Any:
    return table(os.environ[TABLE_ENV])


def plain(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB numbers come back as Decimal and sets as set (nested too): make them JSON-friendly."""
    return {key: _plain_value(value) for key, value in item.items()}


def _plain_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set):
        return sorted(value)
    if isinstance(value, dict):
        return plain(value)
    if isinstance(value, list):
        return [_plain_value(v) for v in value]
    return value


def idempotency_records(table_name: str, namespace: str) -> Any:
    """Powertools idempotency records in the single table, under `IDEMPOTENCY#<namespace>`,
    expiring through the table's TTL attribute. (Imported on use: the Slack endpoint, which must
    start fast, imports this module but never this.)"""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from harbormaster.clients import RETRY_CONFIG

    return DynamoDBPersistenceLayer(
        table_name=table_name,
        key_attr="pk",
        sort_key_attr="sk",
        static_pk_value=f"IDEMPOTENCY#{namespace}",
        expiry_attr="expires_at",
        boto_config=RETRY_CONFIG,
    )
