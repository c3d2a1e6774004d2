"""What one ECS deploy costs: Step Functions state transitions, Lambda invocations and AWS API
calls, by how many polls the deployment takes to reach COMPLETED (its duration ÷ poll_seconds),
and for a deployment the circuit breaker fails and rolls back.

The cost is one loop of the ECS step per poll, so it grows with the deployment's duration over
`rollout.poll_seconds`, not with the number of tasks. Waits are 0 s, so the wall time is pure
orchestration. Counting as in bench/deploy.py.

Run: make bench-ecs   (or: .venv/bin/python bench/ecs_deploy.py [polls...])
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
    target: {type: ecs, cluster: shop, service: web, container: web}
    rollout: {poll_seconds: 0}
slack:
  routes: {deployments: {webhook_secret: bench/slack}}
  default_route: deployments
"""
BAD = "sha256:" + "b" * 64


def measure(polls: int, failing: bool = False) -> dict[str, Any]:
    config = Path(tempfile.mkdtemp()) / "harbormaster.yaml"
    config.write_text(CONFIG)
    with LocalEngine(config=config, slack_messages_per_second=1000) as engine:
        engine.fleet.ecs.service("shop", "web", "web:bootstrap", desired=4, environment="web")
        engine.fleet.ecs.polls = polls
        if failing:
            engine.fleet.bad_image(f"123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/web@{BAD}")
        first = len(engine.runtime.invocations)
        with handler_api_calls(engine) as calls:
            started = time.perf_counter()
            _, report = engine.push_image("web", "main-1", digest=BAD if failing else None)
            wall = time.perf_counter() - started
        [execution] = report.executions
        assert execution.status == ("FAILED" if failing else "SUCCEEDED"), execution
        return {
            "case": "circuit breaker fails" if failing else "completes",
            "polls": polls,
            "transitions": transitions(execution.arn),
            "invocations": len(engine.runtime.invocations) - first,
            "api_calls": sum(calls.values()),
            "by_operation": dict(calls),
            "wall": wall,
        }


def main() -> None:
    polls = [int(a) for a in sys.argv[1:]] or [1, 5, 20]
    results = [measure(n) for n in polls] + [measure(polls[0], failing=True)]
    print("one ECS deploy (service of 4 tasks), all waits 0 s; polls = DescribeServices until rolloutState")
    print("is final, i.e. the deployment's duration / rollout.poll_seconds\n")
    print(f"{'case':<24}{'polls':>6}{'transitions':>12}{'λ calls':>9}{'API calls':>10}{'wall s':>8}{'cost $':>10}")
    for r in results:
        print(
            f"{r['case']:<24}{r['polls']:>6}{r['transitions']:>12}{r['invocations']:>9}{r['api_calls']:>10}"
            f"{r['wall']:>8.2f}{r['transitions'] * PRICE_PER_TRANSITION:>10.5f}"
        )
    slope = (results[len(polls) - 1]["transitions"] - results[0]["transitions"]) / max(1, polls[-1] - polls[0])
    print(f"\neach extra poll costs {slope:.1f} transitions")
    print(f"\nAPI calls by operation made by the handlers ({polls[0]} poll, completes):")
    for operation, count in sorted(results[0]["by_operation"].items(), key=lambda item: -item[1]):
        print(f"  {operation:<48}{count:>6}")


if __name__ == "__main__":
    main()
