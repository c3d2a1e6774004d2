from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from harbormaster.local import LocalEngine

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def engine() -> Iterator[LocalEngine]:
    with LocalEngine(seed=True, slack_messages_per_second=1000) as running:
        yield running


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A copy of the template, state machines and functions that a test may break."""
    for name in ("template.yaml", "harbormaster.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    for folder in ("statemachines", "functions"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "layers").symlink_to(ROOT / "layers")
    return tmp_path
