"""Slack alerts: render time per formatter (every shared sample, grouped by the formatter that
handled it), end-to-end delivery of a burst through the local engine with Slack failing 30% of
requests (the forwarder's cold start is in bench/cold_start.py).

Run: make bench-slack   (or: .venv/bin/python bench/slack.py [burst size])
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import boto3

from harbormaster.local import LocalEngine
from harbormaster.slack import render
from harbormaster.slack.inputs import notifications

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT.parent / "shared" / "events"
if not SAMPLES.exists():
    SAMPLES = ROOT / "tests" / "fixtures" / "shared-events"
RATE = 100.0
CONFIG = f"""
environments: {{}}
slack:
  routes: {{critical: {{webhook_secret: b/critical}}, monitoring: {{webhook_secret: b/monitoring}}}}
  default_route: monitoring
  messages_per_second: {RATE}
  retry_backoff_seconds: 0.01
"""


def render_times() -> dict[str, list[float]]:
    """Microseconds per render, by the first word of the message's title (the formatter's mark)."""
    by_kind: dict[str, list[float]] = defaultdict(list)
    for path in sorted(SAMPLES.rglob("*.json")):
        for notification in notifications(json.loads(path.read_text())):
            started = time.perf_counter()
            for _ in range(200):
                message, _ = render(notification.subject, notification.message)
            elapsed = (time.perf_counter() - started) / 200 * 1e6
            by_kind[_kind(message.text)].append(elapsed)
    return by_kind


def _kind(title: str) -> str:
    for mark, name in (
        ("🔴", "CloudWatch alarm"),
        ("✅", "CloudWatch alarm"),
        ("⚪", "CloudWatch alarm"),
        ("🛡️ GuardDuty", "GuardDuty"),
        ("🛡️ Security Hub", "Security Hub"),
        ("🔍", "Inspector"),
        ("🩺", "AWS Health"),
        ("📦", "ECS"),
        ("🏗️", "CodeBuild"),
        ("🔀", "CodePipeline"),
        ("🚚", "CodeDeploy"),
        ("✋", "CodePipeline approval"),
        ("💾", "Backup"),
        ("🧱", "CloudFormation"),
        ("📣", "EventBridge (any)"),
    ):
        if title.startswith(mark):
            return name
    return "generic fallback"


def burst(size: int) -> tuple[float, int, int]:
    config = Path(tempfile.mkdtemp()) / "harbormaster.yaml"
    config.write_text(CONFIG)
    with LocalEngine(config=config, slack_messages_per_second=RATE) as engine:
        engine.slack.failure_rate = 0.3
        engine.slack.failure_statuses = (429, 500, 503)
        engine.slack.injected_retry_after = "0"
        sns = boto3.client("sns")
        started = time.perf_counter()
        for i in range(size):
            sns.publish(
                TopicArn=engine.stack.outputs["AlertTopicArn"],
                Message=json.dumps({"AlarmName": f"a{i}", "NewStateValue": "ALARM", "NewStateReason": "bench"}),
            )
        engine.settle(timeout=600)
        return time.perf_counter() - started, len(engine.slack.delivered()), len(engine.slack.requests)


def main() -> None:
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    print("render time per message, by formatter (median over the shared samples, 200 renders each)\n")
    print(f"{'formatter':<24}{'samples':>8}{'µs/message':>12}")
    for kind, times in sorted(render_times().items(), key=lambda item: statistics.median(item[1])):
        print(f"{kind:<24}{len(times):>8}{statistics.median(times):>12.0f}")
    seconds, delivered, requests = burst(size)
    floor = requests / RATE
    print(f"\nburst of {size} alerts, Slack failing 30% of requests, {RATE:g} messages/s allowed per webhook:")
    print(f"  delivered {delivered} in {seconds:.1f} s ({requests} requests; the rate alone needs ≥ {floor:.1f} s)")


if __name__ == "__main__":
    main()
