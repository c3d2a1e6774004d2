"""Shared test set-up: never reach a real AWS account; paths of the project and the samples."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Copies of ../shared/events (AWS documentation and open-source samples; origins in their SOURCES/README).
SAMPLES = ROOT / "tests" / "fixtures" / "shared-events"
# AWS documentation samples that ../shared/events lacks (origins in its SOURCES.md).
DOC_SAMPLES = ROOT / "tests" / "fixtures" / "aws-docs"
EVENTS = ROOT / "events"

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "ap-northeast-2",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "harbormaster",
    }
)


def _share_botocore_loader() -> None:
    """moto gives every `mock_aws` (every engine) a fresh default boto3 session, and each new session
    parses botocore's service models again (about 1 s per engine). One loader serves them all here."""
    import functools

    import botocore.loaders
    import botocore.session

    botocore.session.create_loader = functools.cache(botocore.loaders.create_loader)  # type: ignore[attr-defined]


_share_botocore_loader()


@pytest.fixture
def root() -> Path:
    return ROOT


def documented_push() -> Any:
    """The AWS documentation's ECR push event, its digest (shortened to 60 hex digits in the
    documentation) made as long as a real one; nothing else changed."""
    event = json.loads((SAMPLES / "aws" / "ecr-image-action-push-success.json").read_text())
    event["detail"]["image-digest"] = event["detail"]["image-digest"].ljust(len("sha256:") + 64, "0")
    return event


def create_items_table(name: str = "t") -> None:
    """The stack's single table (pk/sk, on demand), in the active moto mock."""
    import boto3

    boto3.client("dynamodb").create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
    )


def shellcheck(script: str) -> subprocess.CompletedProcess[str]:
    """shellcheck (the PyPI wheel in the venv) over a bash script, every severity down to style."""
    binary = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin" / "shellcheck"
    if not binary.exists():
        binary = ROOT / ".venv" / "bin" / "shellcheck"
    return subprocess.run(
        [str(binary), "--shell=bash", "--severity=style", "-"],
        input=script,
        capture_output=True,
        text=True,
        check=False,
    )


def wait_for(condition: Callable[[], object], timeout: float = 30.0, what: str = "the condition") -> None:
    """Wait until `condition()` holds, failing after `timeout` seconds: a condition with a
    deadline, never a fixed sleep."""
    deadline = time.monotonic() + timeout
    idle = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout:g}s")
        idle.wait(0.01)
