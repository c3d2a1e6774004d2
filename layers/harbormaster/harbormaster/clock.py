"""The time the services see: the wall clock on AWS, the engine's virtual clock locally.

Everything that compares against a deadline or stamps the ledger asks `clock.now()`, so a test
(or the local engine) can drive time without sleeping:

    >>> from harbormaster import clock
    >>> clock.use(lambda: datetime(2026, 12, 3, tzinfo=UTC))
    >>> clock.now().year
    2026
    >>> clock.reset()
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime


def _wall_clock() -> datetime:
    return datetime.now(UTC)


_source: Callable[[], datetime] = _wall_clock


def now() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return _source()


def use(source: Callable[[], datetime]) -> None:
    """Read time from `source` from now on (the local engine's virtual clock, a test's clock)."""
    global _source  # noqa: PLW0603 - one process-wide source, as datetime.now is
    _source = source


def reset() -> None:
    """Back to the wall clock."""
    use(_wall_clock)
