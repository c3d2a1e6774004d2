"""Every bench, one after the other on this machine: writes bench/results.json (each figure with the
commit it was measured at) and regenerates the README's measured figures from it.

Run: make bench-all   (needs `sam build` for the layer's size; takes about 10 minutes)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import cold_start
import deploy
import ecs_deploy
import figures
import rollback
import scheduler
import slack

SIZES = [4, 16, 64]
SCALE = 1000
ROLLBACK_RUNS = 5
SLACK_BURST = 200


def main() -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, check=True
    )
    results: dict[str, Any] = {
        "commit": commit.stdout.strip() + ("+uncommitted" if dirty.stdout.strip() else ""),
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores, python {sys.version.split()[0]}",
    }
    print("cold start ...", flush=True)
    results["cold_start"] = cold_start.measure()
    print("EC2 deploys ...", flush=True)
    results["deploy"] = [_deploy(deploy.measure(size, alb)) for alb in deploy.TARGET_GROUPS for size in SIZES]
    results["scale"] = _deploy(deploy.measure(SCALE, "AWS default (300 s, 5x30 s)"))
    print("ECS deploys ...", flush=True)
    results["ecs"] = [
        *(_ecs(ecs_deploy.measure(minutes)) for minutes in ecs_deploy.DURATIONS),
        _ecs(ecs_deploy.measure(ecs_deploy.DURATIONS[-1], events_lost=True)),
        _ecs(ecs_deploy.measure(1, failing=True)),
    ]
    print("rollbacks ...", flush=True)
    results["rollback"] = {"runs": ROLLBACK_RUNS, "rows": _rollbacks()}
    print("Slack ...", flush=True)
    results["slack"] = _slack()
    print("scheduler ...", flush=True)
    results["scheduler"] = [
        {key: value for key, value in scheduler.measure(size).items() if not key.endswith("_calls")}
        for size in scheduler.SIZES
    ]
    results["scheduler_organization"] = scheduler.measure_organization()
    figures.RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    figures.write_readme(results)
    print(figures.render(results))


def _deploy(measured: dict[str, Any]) -> dict[str, Any]:
    kept = ("size", "alb", "virtual", "transitions", "events", "invocations", "api_calls", "batches")
    return {**{key: measured[key] for key in kept}, "wall": round(measured["wall"], 2)}


def _ecs(measured: dict[str, Any]) -> dict[str, Any]:
    return {key: measured[key] for key in ("case", "minutes", "transitions", "invocations", "api_calls")}


def _rollbacks() -> list[dict[str, Any]]:
    rows = []
    for alb, timing in rollback.TARGET_GROUPS.items():
        for during in (False, True):
            first, wall, virtual = rollback.run(ROLLBACK_RUNS, timing, during_deploy=during)
            rows.append(
                {
                    "alb": alb,
                    "first_action": "StopExecution (deploy running)" if during else "StartExecution (after it)",
                    "first_ms": round(statistics.median(first), 1),
                    "wall_s": round(statistics.median(wall), 2),
                    "virtual_min": round(statistics.median(virtual), 1),
                }
            )
    return rows


def _slack() -> dict[str, Any]:
    render_us = {
        kind: round(statistics.median(times), 1)
        for kind, times in sorted(slack.render_times().items(), key=lambda item: statistics.median(item[1]))
    }
    seconds, delivered, requests = slack.burst(SLACK_BURST)
    return {
        "render_us": render_us,
        "burst": SLACK_BURST,
        "rate": slack.RATE,
        "seconds": round(seconds, 1),
        "delivered": delivered,
        "requests": requests,
    }


if __name__ == "__main__":
    main()
