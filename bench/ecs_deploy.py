"""What one ECS deploy costs: Step Functions state transitions, Lambda invocations and AWS API
calls, by how long the deployment takes to end (on the engine's virtual clock), when its end is
announced by ECS's event and when the event is lost (then the fallback looks every 5 minutes find
it), and for a deployment the circuit breaker fails and rolls back.

The execution parks on a task token while the deployment runs (no polling), so an announced end
costs the same transitions whatever the duration. Counting as in bench/deploy.py.

Run: make bench-ecs   (or: .venv/bin/python bench/ecs_deploy.py [minutes...])
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from measure import PRICE_PER_TRANSITION, handler_api_calls, transitions

from harbormaster.local import LocalEngine

CONFIG = """
environments:
  web:
    repository: web
    tags: ["main-*"]
    target: {type: ecs, cluster: shop, service: web, container: web, deployment_timeout_seconds: 7200}
    rollout: {poll_seconds: 0}
slack:
  routes: {deployments: {webhook_secret: bench/slack}}
  default_route: deployments
"""
BAD = "sha256:" + "b" * 64
DURATIONS = (1, 10, 60)  # minutes


def measure(minutes: int, failing: bool = False, events_lost: bool = False) -> dict[str, Any]:
    config = Path(tempfile.mkdtemp()) / "harbormaster.yaml"
    config.write_text(CONFIG)
    with LocalEngine(config=config, slack_messages_per_second=1000) as engine:
        engine.fleet.ecs.service("shop", "web", "web:bootstrap", desired=4, environment="web")
        engine.fleet.ecs.rollout_seconds = minutes * 60
        engine.fleet.ecs.lose_events = events_lost
        if failing:
            engine.fleet.bad_image(f"123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/web@{BAD}")
        first = len(engine.runtime.invocations)
        with handler_api_calls(engine) as calls:
            started = time.perf_counter()
            _, report = engine.push_image("web", "main-1", digest=BAD if failing else None)
            wall = time.perf_counter() - started
        [execution] = report.executions
        assert execution.status == ("FAILED" if failing else "SUCCEEDED"), execution
        case = "circuit breaker fails" if failing else "completes, event lost" if events_lost else "completes"
        return {
            "case": case,
            "minutes": minutes,
            "transitions": transitions(execution.arn),
            "invocations": len(engine.runtime.invocations) - first,
            "api_calls": sum(calls.values()),
            "by_operation": dict(calls),
            "wall": wall,
        }


def main() -> None:
    durations = [int(a) for a in sys.argv[1:]] or list(DURATIONS)
    results = [
        *(measure(m) for m in durations),
        measure(durations[-1], events_lost=True),
        measure(durations[0], failing=True),
    ]
    print("one ECS deploy (service of 4 tasks); minutes = the deployment's duration on the virtual clock\n")
    print(f"{'case':<24}{'minutes':>8}{'transitions':>12}{'λ calls':>9}{'API calls':>10}{'wall s':>8}{'cost $':>10}")
    for r in results:
        print(
            f"{r['case']:<24}{r['minutes']:>8}{r['transitions']:>12}{r['invocations']:>9}{r['api_calls']:>10}"
            f"{r['wall']:>8.2f}{r['transitions'] * PRICE_PER_TRANSITION:>10.5f}"
        )
    print(f"\nAPI calls by operation made by the handlers ({durations[0]} minute, completes):")
    for operation, count in sorted(results[0]["by_operation"].items(), key=lambda item: -item[1]):
        print(f"  {operation:<48}{count:>6}")


if __name__ == "__main__":
    main()
