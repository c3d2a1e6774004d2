"""How fast an alarm becomes a rollback: from the alarm event reaching the bus to the first rollback API
call (StopExecution or the rollback's StartExecution), median of repeated runs; and the total rollback
duration until the fleet is back on the known-good image: the wall time (orchestration only: Waits run on
the engine's virtual clock) and the virtual time a real ALB would take, for a target group with AWS's
defaults and for the quickest one, side by side.

Run: make bench-rollback   (or: .venv/bin/python bench/rollback.py [runs])
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import botocore.client

from harbormaster.local import LocalEngine

CONFIG = """
environments:
  api:
    repository: api
    tags: ["v*"]
    target: {type: ec2, target_group_name: api-tg}
    rollout: {batch: 1, min_healthy: 50%, drain_seconds: 0, poll_seconds: 0, health_timeout_seconds: 30}
    guard_alarms: [api-5xx]
    rollback: {window: 30m, batch: 50%, drain_seconds: 0, health_timeout_seconds: 30}
slack:
  routes: {deployments: {webhook_secret: bench/slack}}
  default_route: deployments
"""


def alarm() -> dict[str, Any]:
    return {
        "source": "aws.cloudwatch",
        "detail-type": "CloudWatch Alarm State Change",
        "resources": ["arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:api-5xx"],
        "detail": {
            "alarmName": "api-5xx",
            "state": {
                "value": "ALARM",
                "reason": "bench",
                "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000",
            },
        },
    }


TARGET_GROUPS = {
    "AWS default (300 s, 5x30 s)": {},
    "quickest (0 s, 2x5 s)": {"deregistration_delay": 0, "health_check_interval": 5, "healthy_threshold": 2},
}


def run(
    runs: int, timing: dict[str, int], fleet: int = 4, during_deploy: bool = False
) -> tuple[list[float], list[float], list[float]]:
    """`during_deploy`: the alarm comes while the bad release is still rolling (held at its first
    SendCommand), so the first action is StopExecution; otherwise inside the rollback window after
    it finished, and the first action is the rollback's StartExecution."""
    config = Path(tempfile.mkdtemp()) / "harbormaster.yaml"
    config.write_text(CONFIG)
    first_action: list[float] = []
    durations: list[float] = []
    virtual: list[float] = []
    with LocalEngine(config=config, slack_messages_per_second=1000) as engine:
        group = engine.fleet.target_group("api-tg", environment="api", **timing)
        engine.fleet.launch(fleet, "v0", tags={"harbormaster:environment": "api"}, target_group=group)
        engine.push_image("api", "v1")
        original = botocore.client.BaseClient._make_api_call
        for n in range(runs):
            good, _ = engine.push_image("api", f"v{n + 2}")  # the known-good the next rollback returns to
            held = engine.pause("ssm", "SendCommand", when=lambda _: True) if during_deploy else None
            engine.push_image("api", f"v{n + 2}-bad", wait=not during_deploy)
            if held is not None:
                held.wait_until_reached()
            seen: dict[str, float] = {}

            def timed(client: Any, operation: str, params: Any, seen: dict[str, float] = seen) -> Any:
                if operation in {"StopExecution", "StartExecution"} and "rollback" in str(params):
                    seen.setdefault("first", time.perf_counter())
                return original(client, operation, params)

            with mock.patch.object(botocore.client.BaseClient, "_make_api_call", timed):
                started, virtual_start = time.perf_counter(), engine.clock.now
                report = engine.send_event(alarm(), wait=held is None)
                if held is not None:
                    held.resume()
                    engine.settle()
                ended = time.perf_counter()
                del report
                virtual.append((engine.clock.now - virtual_start).total_seconds() / 60)
            assert set(engine.fleet.images[i] for i in engine.fleet.images if i in _members(group)) == {
                f"123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/api@{good}"
            }
            first_action.append((seen["first"] - started) * 1000)
            durations.append(ended - started)
    return first_action, durations, virtual


def _members(group: str) -> set[str]:
    health = boto3.client("elbv2").describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
    return {d["Target"]["Id"] for d in health}


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    print(f"alarm-driven rollback of a 4-instance fleet (rollback batch 50%), {runs} runs each, side by side\n")
    print(
        f"{'target group, first action':<45}{'ms':>10}{'rollback wall s':>17}{'rollback virtual min':>22}   (medians)"
    )
    for label, timing in TARGET_GROUPS.items():
        for during in (False, True):
            first, total, virtual = run(runs, timing, during_deploy=during)
            path = "StopExecution" if during else "StartExecution"
            print(
                f"{label + ', ' + path:<45}{statistics.median(first):>10.0f}{statistics.median(total):>17.2f}"
                f"{statistics.median(virtual):>22.1f}"
            )


if __name__ == "__main__":
    main()
