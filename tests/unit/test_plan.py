from __future__ import annotations

import math

import pytest
from hypothesis import given, strategies as st

from harbormaster.deploy.plan import PlanError, batch_size, plan_batches


@pytest.mark.parametrize(
    ("total", "batch", "min_healthy", "expected"),
    [
        (4, 1, 50.0, 1),
        (4, "50%", 50.0, 2),
        (4, "100%", 50.0, 2),  # capped: two must stay in service
        (4, "100%", 0.0, 4),
        (10, "25%", 50.0, 3),  # ceil(2.5)
        (3, 5, 0.0, 3),
        (64, "25%", 50.0, 16),
    ],
)
def test_batch_size(total: int, batch: int | str, min_healthy: float, expected: int) -> None:
    assert batch_size(total, batch, min_healthy) == expected


def test_a_fleet_that_cannot_keep_min_healthy_is_refused_with_the_reason() -> None:
    with pytest.raises(PlanError, match="a fleet of 1 cannot keep 50% healthy"):
        batch_size(1, 1, 50.0)


@given(
    total=st.integers(min_value=1, max_value=300),
    batch=st.one_of(
        st.integers(min_value=1, max_value=300), st.integers(min_value=1, max_value=100).map(lambda p: f"{p}%")
    ),
    min_healthy=st.floats(min_value=0, max_value=99),
)
def test_batches_cover_the_fleet_once_and_never_go_below_min_healthy(
    total: int, batch: int | str, min_healthy: float
) -> None:
    instances = [f"i-{n:04d}" for n in range(total)]
    try:
        batches = plan_batches(instances, batch, min_healthy)
    except PlanError:
        assert total - math.ceil(total * min_healthy / 100) < 1
        return
    assert sorted(i for b in batches for i in b) == instances
    assert all(total - len(b) >= math.ceil(total * min_healthy / 100) for b in batches)
