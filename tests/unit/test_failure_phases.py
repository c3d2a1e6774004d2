"""Which phase a Step Functions error is blamed on (Finalize's reason and the deploy.failed event)."""

from __future__ import annotations

import pytest

from harbormaster.deploy.failure import describe_failure


@pytest.mark.parametrize(
    ("error", "phase"),
    [
        ("ApprovalTimedOut", "approval"),  # only the gate's own timeout is a rejection
        ("ApprovalRejected", "approval"),
        ("States.Timeout", "timeout"),  # any other task past its TimeoutSeconds is a failure
        ("InstanceFailed", "rollout"),
        ("GuardAlarmDuringBake", "bake"),
        ("States.TaskFailed", "States.TaskFailed"),
    ],
)
def test_each_error_is_blamed_on_its_phase(error: str, phase: str) -> None:
    assert describe_failure({"Error": error, "Cause": '{"errorMessage": "why"}'}) == (phase, f"{error}: why")
