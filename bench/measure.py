"""Shared measuring tools for the deploy benchmarks: handler API calls and state transitions."""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from unittest import mock

import boto3
import botocore.client
from figures import PRICE_PER_TRANSITION

from harbormaster.local import LocalEngine

__all__ = ["PRICE_PER_TRANSITION", "api_calls", "handler_api_calls", "history", "transitions"]


@contextmanager
def api_calls(counted: Callable[[Any], bool] = lambda client: True) -> Iterator[collections.Counter[str]]:
    """Count `service:Operation` calls of the clients `counted` accepts. Client side, so retries count."""
    calls: collections.Counter[str] = collections.Counter()
    original = botocore.client.BaseClient._make_api_call

    def counting(client: Any, operation: str, params: Any) -> Any:
        if counted(client):
            calls[f"{client.meta.service_model.service_name}:{operation}"] += 1
        return original(client, operation, params)

    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", counting):
        yield calls


def handler_api_calls(engine: LocalEngine) -> AbstractContextManager[collections.Counter[str]]:
    """The calls made by the handlers (as on AWS), not by the engine's own polling, nor by the
    simulated instances (the deploy script's fence read)."""
    return api_calls(
        lambda client: getattr(engine.runtime.invoking, "active", False) and client is not engine.fleet._dynamodb
    )


def history(execution_arn: str) -> list[dict[str, Any]]:
    """An execution's history events (Step Functions fails an execution past 25,000 of them)."""
    sfn = boto3.client("stepfunctions")
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events += page["events"]
    return events


def transitions(execution_arn: str) -> int:
    """States entered by an execution: what Step Functions bills."""
    return sum(1 for e in history(execution_arn) if e["type"].endswith("StateEntered"))
