"""Split a fleet into rollout batches that never take it below `min_healthy`."""

from __future__ import annotations

import math


class PlanError(ValueError):
    """The fleet cannot be rolled with these settings."""


def batch_size(total: int, batch: int | str, min_healthy_percent: float) -> int:
    """Instances per batch: `batch` (a count or "25%"), capped so that at least
    ceil(total * min_healthy) stay in service while a batch is out."""
    if total <= 0:
        return 0
    wanted = math.ceil(total * float(batch[:-1]) / 100) if isinstance(batch, str) else int(batch)
    must_stay = math.ceil(total * min_healthy_percent / 100)
    room = total - must_stay
    if room < 1:
        raise PlanError(
            f"a fleet of {total} cannot keep {min_healthy_percent:g}% healthy while one instance is out; "
            "lower rollout.min_healthy or add instances"
        )
    return max(1, min(wanted, room))


def plan_batches(instances: list[str], batch: int | str, min_healthy_percent: float) -> list[list[str]]:
    size = batch_size(len(instances), batch, min_healthy_percent)
    ordered = sorted(instances)
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]
