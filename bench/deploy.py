"""What one EC2 deploy costs, by fleet size and target group: Step Functions state transitions and
history events, Lambda invocations and AWS API calls per instance, orchestration overhead per
batch, and the price of the transitions.

Waits run on the engine's virtual clock with the target group's own timings (`poll_seconds` 5, the
default) and each deploy command takes COMMAND_SECONDS there (a batch parks until Run Command's
event says its command ended), so the wall time is pure orchestration (moto's interpreter + the handlers in-process).
Transitions and events come from the execution history; API calls from a botocore hook (client
side, so retries count), counting only calls made by the handlers.

Run: make bench-deploy   (or: .venv/bin/python bench/deploy.py [sizes...])
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from measure import PRICE_PER_TRANSITION, handler_api_calls, history

from harbormaster.local import LocalEngine

CONFIG = """
environments:
  api:
    repository: api
    tags: ["v*"]
    target: {type: ec2, target_group_name: api-tg}
    rollout: {batch: 25%, min_healthy: 50%, drain_seconds: 0, poll_seconds: 5, health_timeout_seconds: 30}
slack:
  routes: {deployments: {webhook_secret: bench/slack}}
  default_route: deployments
"""


# Target groups side by side: AWS's defaults, the seeds' (deregistration delay 30 s, a health check
# every 30 s, healthy after 2), and the quickest one can be.
COMMAND_SECONDS = 60  # a docker pull, a container start and its health check, on the virtual clock
TARGET_GROUPS = {
    "AWS default (300 s, 5x30 s)": {"deregistration_delay": 300, "health_check_interval": 30, "healthy_threshold": 5},
    "seeds (30 s, 2x30 s)": {"deregistration_delay": 30, "health_check_interval": 30, "healthy_threshold": 2},
    "quickest (0 s, 2x5 s)": {"deregistration_delay": 0, "health_check_interval": 5, "healthy_threshold": 2},
}


def measure(size: int, alb: str) -> dict[str, Any]:
    config = Path(tempfile.mkdtemp()) / "harbormaster.yaml"
    config.write_text(CONFIG)
    with LocalEngine(config=config, slack_messages_per_second=1000) as engine:
        group = engine.fleet.target_group("api-tg", environment="api", **TARGET_GROUPS[alb])
        engine.fleet.command_seconds = COMMAND_SECONDS
        virtual_start = engine.clock.now
        engine.fleet.launch(size, "v1", tags={"harbormaster:environment": "api"}, target_group=group)
        first = len(engine.runtime.invocations)
        with handler_api_calls(engine) as calls:
            started = time.perf_counter()
            _, report = engine.push_image("api", "v2")
            wall = time.perf_counter() - started
        virtual = (engine.clock.now - virtual_start).total_seconds()
        [execution] = report.executions
        assert execution.status == "SUCCEEDED", execution
        events = history(execution.arn)
        invocations = engine.runtime.invocations[first:]
        handler_calls = dict(calls)
        batches = -(-size // max(1, size // 4))
        return {
            "size": size,
            "alb": alb,
            "virtual": virtual,
            "transitions": sum(1 for e in events if e["type"].endswith("StateEntered")),
            "events": len(events),
            "invocations": len(invocations),
            "api_calls": sum(handler_calls.values()),
            "by_operation": handler_calls,
            "wall": wall,
            "batches": batches,
        }


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [4, 16, 64]
    results = [measure(size, alb) for alb in TARGET_GROUPS for size in sizes]
    print("one EC2 deploy (batch 25%, min_healthy 50%, poll_seconds 5); side by side: a target group with AWS's")
    print("defaults (deregistration delay 300 s, healthy after 5 checks 30 s apart), the seeds' (30 s, 2 checks")
    print("30 s apart) and the quickest (no delay, 2 checks 5 s apart). Waits run on the engine's virtual clock")
    print("('deploy' column); SSM commands finish at once in the engine.\n")
    print(
        f"{'target group':<28}{'fleet':>6}{'batches':>8}{'transitions':>12}{'/instance':>10}{'events':>8}"
        f"{'λ calls':>9}{'/instance':>10}{'API calls':>10}{'/instance':>10}{'s/batch':>9}{'deploy':>9}{'cost $':>10}"
    )
    for r in results:
        n = r["size"]
        print(
            f"{r['alb']:<28}{n:>6}{r['batches']:>8}{r['transitions']:>12}{r['transitions'] / n:>10.2f}{r['events']:>8}"
            f"{r['invocations']:>9}{r['invocations'] / n:>10.1f}{r['api_calls']:>10}{r['api_calls'] / n:>10.1f}"
            f"{r['wall'] / r['batches']:>9.2f}{r['virtual'] / 60:>8.1f}m"
            f"{r['transitions'] * PRICE_PER_TRANSITION:>10.5f}"
        )
    biggest = results[len(sizes) - 1]
    print(f"\nAPI calls by operation made by the handlers, fleet of {biggest['size']} (realistic ALB):")
    for operation, count in sorted(biggest["by_operation"].items(), key=lambda item: -item[1])[:10]:
        print(f"  {operation:<48}{count:>6}  ({count / biggest['size']:.1f} per instance)")


if __name__ == "__main__":
    main()
