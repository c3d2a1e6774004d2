"""One boto3 client per service per Lambda container, with botocore's adaptive retries."""

from __future__ import annotations

import functools
import os
from typing import Any

import boto3
from botocore.config import Config

# Adaptive mode: standard retries (throttling, 5xx, timeouts) plus client-side rate limiting.
RETRY_CONFIG = Config(
    retries={"mode": "adaptive", "total_max_attempts": int(os.environ.get("HARBORMASTER_MAX_ATTEMPTS", "8"))},
    connect_timeout=5,
    read_timeout=30,
    user_agent_extra="harbormaster",
)


def client(service: str, region: str | None = None) -> Any:
    """The shared client for `service` (in `region`, default the function's); created on first use
    and reused for the container's life."""
    return _client(service, region)


@functools.cache
def _client(service: str, region: str | None) -> Any:  # one cache key however `client` was called
    session = boto3.session.Session()
    return session.client(service, region_name=region, config=RETRY_CONFIG)  # type: ignore[call-overload]


@functools.cache
def table(name: str) -> Any:
    """The shared DynamoDB Table resource (attribute values as plain Python)."""
    session = boto3.session.Session()
    return session.resource("dynamodb", config=RETRY_CONFIG).Table(name)


def reset_clients() -> None:
    """Forget cached clients (the local engine calls this between isolated runs)."""
    _client.cache_clear()
    table.cache_clear()
