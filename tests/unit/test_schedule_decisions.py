"""The reconciler's rule: act on transitions only, always when enforced, never on `any`, and stop a
database again after AWS's 7-day restart. Driven with a clock the test controls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from harbormaster.schedule.models import Resource
from harbormaster.schedule.reconcile import _needs_action

NOW = datetime(2026, 11, 27, 11, 5, tzinfo=UTC)


def resource(kind: str = "ec2", actual: str = "running") -> Resource:
    return Resource(kind=kind, id="r-1", arn="r-1", schedule="office", actual=actual)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "actual", "record", "desired", "enforced", "acts"),
    [
        ("ec2", "running", {}, "stopped", False, "first run for this resource"),
        ("ec2", "running", {"last_desired": "running"}, "stopped", False, "the desired state changed"),
        ("ec2", "running", {"last_desired": "stopped"}, "stopped", False, None),  # started by hand: respected
        ("ec2", "running", {"last_desired": "stopped"}, "stopped", True, "enforced"),
        ("ec2", "stopped", {"last_desired": "running"}, "stopped", True, None),  # already as desired
        ("ec2", "running", {"last_desired": "running"}, "any", True, None),  # any: never acts
        ("ec2", "transitioning", {}, "stopped", True, None),  # looked at again next run
        (
            "rds",
            "running",
            {"last_desired": "stopped", "stopped_at": (NOW - timedelta(days=7)).isoformat()},
            "stopped",
            False,
            "AWS restarted it after 7 days stopped; stopping it again",
        ),
        (
            "rds",
            "running",
            {"last_desired": "stopped", "stopped_at": (NOW - timedelta(days=6)).isoformat()},
            "stopped",
            False,
            None,
        ),
        (
            "ec2",
            "running",
            {"last_desired": "stopped", "stopped_at": (NOW - timedelta(days=8)).isoformat()},
            "stopped",
            False,
            None,
        ),
    ],
)
def test_when_the_reconciler_acts(
    kind: str, actual: str, record: dict[str, Any], desired: str, enforced: bool, acts: str | None
) -> None:
    assert _needs_action(resource(kind, actual), record, desired, enforced, NOW) == acts
