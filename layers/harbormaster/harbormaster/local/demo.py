"""`harbormaster local demo`: a narrated scenario on the embedded engine."""

from __future__ import annotations

import json
from typing import Any, TextIO

from harbormaster.local.engine import LocalEngine, Report


def slack_as_text(body: Any) -> str:
    """A Slack message body as plain lines, the way a reader would see it in the channel."""
    if not isinstance(body, dict):
        return str(body)
    lines: list[str] = []
    blocks = list(body.get("blocks") or [])
    for attachment in body.get("attachments") or []:
        blocks.extend(attachment.get("blocks") or [])
    for block in blocks:
        if block.get("text"):
            lines.append(block["text"]["text"])
        lines.extend(field["text"].replace("\n", " ") for field in block.get("fields") or [])
        lines.extend(element.get("text", "") for element in block.get("elements") or [])
    return "\n".join(lines) or str(body.get("text", ""))


def run_demo(engine: LocalEngine, out: TextIO) -> None:
    def say(text: str) -> None:
        print(text, file=out, flush=True)

    def show(report: Report) -> None:
        say(report.summary())
        for request in report.slack:
            if request.status == 200:
                say(f"\n  ┌─ Slack #{request.webhook}")
                for line in slack_as_text(request.body).splitlines():
                    say(f"  │ {line}")
                say("  └─")
        say("")

    say("Harbormaster local demo — the real template.yaml, provisioned in moto, run in this process.")
    say(f"  template: {engine.template}\n  config:   {engine.config_path}")
    say(f"  functions: {', '.join(sorted(engine.stack.functions))}")
    say(f"  state machines: {', '.join(sorted(engine.stack.state_machines))}\n")

    say("1. CI pushes tpt-api-dev:dev-42 to ECR. The ECR rule routes it to api-dev and a deploy starts.")
    _, report = engine.push_image("tpt-api-dev", "dev-42", content="demo-dev-42")
    show(report)

    say("2. EventBridge delivers the same push event again (at-least-once). Nothing starts twice.")
    event = report.bus.event if report.bus else {}
    show(engine.send_event(json.loads(json.dumps(event))))

    say("3. A push to a repository no environment watches is ignored, with a log line saying why.")
    show(engine.push_image("some-other-repo", "latest")[1])

    say("4. An event no rule matches (a CloudWatch alarm; the rollback issue adds that rule).")
    show(
        engine.send_event(
            {
                "source": "aws.cloudwatch",
                "detail-type": "CloudWatch Alarm State Change",
                "detail": {"alarmName": "api-prod-5xx", "state": {"value": "ALARM"}},
            }
        )
    )
    sent = engine.slack.delivered()
    say(f"Slack received {len(sent)} message(s); every function ran from the working tree.")
