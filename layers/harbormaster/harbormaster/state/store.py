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
