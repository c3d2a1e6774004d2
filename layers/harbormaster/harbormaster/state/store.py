"""The single DynamoDB table: access, conditional writes, plain values."""

from __future__ import annotations

import os
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from harbormaster.clients import RETRY_CONFIG, client, table

TABLE_ENV = "TABLE_NAME"
_SERIALIZER = TypeSerializer()


def items_table() -> Any:
    return table(os.environ[TABLE_ENV])


class Store:
    """A store in the single table. Like Powertools' persistence layers it takes an optional
    `boto3_session`: without one it uses the Lambda's shared, adaptive-retry clients and the
    table named by `TABLE_NAME`; tests give it a session (and a table) of their own."""

    def __init__(self, table_name: str | None = None, boto3_session: boto3.session.Session | None = None) -> None:
        self.table_name = table_name or os.environ[TABLE_ENV]
        self.session = boto3_session
        if boto3_session is None:
            self.table, self.dynamodb = table(self.table_name), client("dynamodb")
        else:
            self.table = boto3_session.resource("dynamodb", config=RETRY_CONFIG).Table(self.table_name)
            self.dynamodb = boto3_session.client("dynamodb", config=RETRY_CONFIG)

    def client(self, service: str) -> Any:
        """Another service's client, from the same session."""
        if self.session is None:
            return client(service)
        return self.session.client(service, config=RETRY_CONFIG)  # type: ignore[call-overload]

    def transact(self, *actions: dict[str, Any]) -> list[int]:
        return transact(*actions, table_name=self.table_name, dynamodb=self.dynamodb)


def conditional(write: Callable[[], Any]) -> bool:
    """Run a conditional write: False when its condition did not hold (another writer got there first)."""
    try:
        write()
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False
    return True


def transact(*actions: dict[str, Any], table_name: str | None = None, dynamodb: Any = None) -> list[int]:
    """TransactWriteItems on the single table, each action in the resource's plain-value form
    (`{"Put": {"Item": ..., "ConditionExpression": ...}}`). Returns the indexes of the actions
    whose condition did not hold (then nothing was written); empty when all were written.
    Any other cancellation (`TransactionConflict`: another transaction on the same items) is
    raised: the caller's retry (its state's Retry) runs it again. (`table_name` and `dynamodb`:
    a store's own, else the Lambda's table and shared client.)"""
    name = table_name or os.environ[TABLE_ENV]
    serialised = [{kind: _low_level(name, body) for kind, body in action.items()} for action in actions]
    try:
        (dynamodb or client("dynamodb")).transact_write_items(TransactItems=serialised)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        reasons = [reason.get("Code") for reason in exc.response.get("CancellationReasons", [])]
        failed = [index for index, code in enumerate(reasons) if code == "ConditionalCheckFailed"]
        if not failed or any(code not in {"ConditionalCheckFailed", "None", None} for code in reasons):
            raise
        return failed
    return []


def _low_level(table_name: str, body: dict[str, Any]) -> dict[str, Any]:
    serialise = _SERIALIZER.serialize
    out: dict[str, Any] = {"TableName": table_name}
    for field, value in body.items():
        typed = field in {"Item", "Key", "ExpressionAttributeValues"}
        out[field] = {k: serialise(v) for k, v in value.items()} if typed else value
    return out


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
