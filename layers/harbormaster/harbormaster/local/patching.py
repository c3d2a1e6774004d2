"""The engine's rules outside the engine (a bench, or a test on a bare moto world)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def installed(patchers: list[Any]) -> Iterator[None]:
    """Start a rule module's `patches()` for the block, e.g. `with installed(ec2_rules.patches()):`."""
    for patcher in patchers:
        patcher.start()
    try:
        yield
    finally:
        for patcher in reversed(patchers):
            patcher.stop()
