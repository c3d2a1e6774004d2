"""Shared test set-up: never reach a real AWS account; paths of the project and the samples."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Copies of ../shared/events (AWS documentation and open-source samples; origins in their SOURCES/README).
SAMPLES = ROOT / "tests" / "fixtures" / "shared-events"
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


@pytest.fixture
def root() -> Path:
    return ROOT
