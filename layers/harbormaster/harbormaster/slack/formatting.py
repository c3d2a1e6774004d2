"""Format what arrives on the alert topic as Slack Block Kit; unknown input is shown, never dropped."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from harbormaster.notify.events import HarbormasterEvent
from harbormaster.observability import logger
from harbormaster.slack.aws_formatters import EVENT_FORMATTERS, MESSAGE_FORMATTERS, region_of, text_notification
from harbormaster.slack.message import (
    SlackMessage,
    code_block,
    context,
    cut,
    escape,
    fields,
    header,
    section,
)

_TITLES = {
    "deploy.started": "🚀 Deploy started",
    "deploy.progress": "🚀 Deploying",
    "rollback.progress": "⏪ Rolling back",
    "deploy.succeeded": "✅ Deploy succeeded",
    "deploy.failed": "❌ Deploy failed",
    "deploy.skipped": "⏭️ Deploy skipped",
    "deploy.queued": "⏳ Deploy queued",
    "deploy.rejected": "🚫 Deploy rejected",
    "approval.requested": "✋ Approval needed",
    "rollback.started": "⏪ Rollback started",
    "rollback.succeeded": "✅ Rollback succeeded",
    "rollback.failed": "🚨 Rollback failed",
    "deploy.diverged": "⚠️ Deploy finished, fleet not converged",
    "rollback.diverged": "🚨 Rollback finished, fleet not converged",
    "alarm.outside_window": "🔔 Guard alarm, no rollback",
    "schedule.stopped": "🌙 Schedule stopped resources",
    "schedule.started": "☀️ Schedule started resources",
    "override.kept": "🕘 Schedule override",
    "override.cleared": "🕘 Schedule override cleared",
}
_KINDS = {"ecs": "ECS services", "asg": "Auto Scaling groups", "ec2": "EC2 instances", "rds": "RDS", "aurora": "Aurora"}


def render(subject: str | None, message: str, topic_arn: str | None = None) -> tuple[SlackMessage, str | None]:
    """The Slack message for an SNS message, and the route it asks for (None: default route).
    `topic_arn` (the SNS topic it came through) gives the region when the message names none.
    Never raises: a payload a specific formatter cannot handle falls back to the generic one."""
    try:
        payload: Any = json.loads(message)
    except ValueError:
        payload = None
    if isinstance(payload, dict) and payload.get("source") == "harbormaster":
        try:
            event = HarbormasterEvent.model_validate(payload)
        except ValidationError:
            pass
        else:
            routed = f"{event.route}.{event.environment}" if event.environment else event.route
            return harbormaster_event(event), routed
    formatted = _aws(subject, message, payload, region_of(topic_arn or ""))
    if formatted is not None:
        return formatted, "critical" if formatted.severity == "critical" else "monitoring"
    return generic(subject, message, payload), None


def _aws(subject: str | None, message: str, payload: Any, region: str | None) -> SlackMessage | None:
    try:
        if isinstance(payload, dict):
            for message_formatter in MESSAGE_FORMATTERS:
                if (formatted := message_formatter(payload, region)) is not None:
                    return formatted
            for formatter in EVENT_FORMATTERS:
                if (formatted := formatter(payload)) is not None:
                    return formatted
        elif payload is None:
            return text_notification(subject, message, region)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        logger.warning("formatter failed; using the generic one", exc_info=True)
    return None


def harbormaster_event(event: HarbormasterEvent) -> SlackMessage:
    if event.type.startswith("schedule."):
        return schedule_summary(event)
    title = _TITLES.get(event.type, event.type)
    where = f" — {event.environment}" if event.environment else ""
    facts: list[tuple[str, str]] = []
    if event.image:
        facts.append(("Image", f"`{escape(event.image.short)}`"))
    if event.release_id:
        facts.append(("Release", f"`{escape(event.release_id)}`"))
    if event.trigger:
        who = f" by {escape(event.actor)}" if event.actor else ""
        facts.append(("Trigger", f"{escape(event.trigger)}{who}"))
    if event.phase:
        facts.append(("Phase", escape(event.phase)))
    if event.details.get("where"):  # an environment in another account: which one
        facts.append(("Account/region", escape(str(event.details["where"]))))
    blocks = [header(f"{title}{where}")]
    if facts:
        blocks.append(fields(facts))
    if event.type.endswith(".progress"):
        blocks.append(section(progress_line(event.details)))
    if event.reason:
        blocks.append(section(f"*Reason*\n{escape(event.reason)}"))
    if event.type == "approval.requested":
        blocks.append(fields(_approval_facts(event.details)))
    if warnings := event.details.get("warnings"):
        blocks.append(section("*Warnings*\n" + "\n".join(f":warning: {escape(str(w))}" for w in warnings)))
    if event.execution_arn:
        blocks.append(context(f"Execution `{escape(event.execution_arn.rsplit(':', 1)[-1])}`"))
    if buttons := _buttons(event):
        blocks.append({"type": "actions", "elements": buttons})
    text = f"{title}{where}" + (f": {event.image.short}" if event.image else "")
    return SlackMessage.build(text, event.severity, blocks)


def progress_line(details: dict[str, Any], width: int = 20) -> str:
    """`▰▰▰▰▰▰▱▱▱▱ 60%` and `batch 3/5 · 6/10 instances`, for a rollout's progress."""
    done, total = int(details.get("instances_done") or 0), max(int(details.get("instances_total") or 1), 1)
    filled = min(width, round(width * done / total))
    bar = "▰" * filled + "▱" * (width - filled)
    batches = f"batch {int(details.get('batch') or 0)}/{int(details.get('batches') or 0)}"
    return f"`{bar}` {100 * done // total}%\n{batches} · {done}/{total} instances"


def _approval_facts(details: dict[str, Any]) -> list[tuple[str, str]]:
    approvers = ", ".join(f"<@{escape(str(u))}>" for u in details.get("approvers") or [])
    return [
        ("Replaces", escape(str(details.get("replaces") or "nothing yet"))),
        ("Pushed", escape(str(details.get("pushed_at", "?")))),
        ("Approvers", f"{approvers or '-'} (need {details.get('min_approvals', 1)})"),
        ("Times out in", f"{int(details.get('timeout_seconds', 0)) // 60} min"),
    ]


def _buttons(event: HarbormasterEvent) -> list[dict[str, Any]]:
    """Approve/Reject on an approval request; Rollback on a release that went live; a link to the execution."""
    value = json.dumps({"environment": event.environment, "release_id": event.release_id})
    buttons: list[dict[str, Any]] = []
    if event.type == "approval.requested" and event.environment and event.release_id:
        buttons += [
            {"type": "button", "action_id": "approve", "style": "primary", "value": value, "text": _plain("Approve")},
            {"type": "button", "action_id": "reject", "style": "danger", "value": value, "text": _plain("Reject")},
        ]
    if event.type in {"deploy.succeeded", "alarm.outside_window"} and event.environment and event.release_id:
        confirm = {
            "title": _plain("Roll back?"),
            "text": _plain(f"Roll {event.environment} back to the release before {event.release_id}?"),
            "confirm": _plain("Roll back"),
            "deny": _plain("Cancel"),
        }
        buttons.append(
            {
                "type": "button",
                "action_id": "rollback",
                "style": "danger",
                "value": value,
                "text": _plain("Rollback"),
                "confirm": confirm,
            }
        )
    if event.execution_arn and ":execution:" in event.execution_arn:
        region = event.execution_arn.split(":")[3]
        url = f"https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{event.execution_arn}"
        buttons.append({"type": "button", "action_id": "view_execution", "url": url, "text": _plain("View execution")})
    return buttons


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:75]}


def schedule_summary(event: HarbormasterEvent) -> SlackMessage:
    """What one scheduler run stopped or started, what failed, and the instance-hours saved."""
    details = event.details
    title = f"{_TITLES.get(event.type, event.type)} — {details.get('schedule', '?')}"
    resources: dict[str, list[str]] = details.get("resources") or {}
    counts: dict[str, int] = details.get("counts") or {kind: len(ids) for kind, ids in resources.items()}
    facts = [
        (_KINDS.get(kind, kind), _listed(counts.get(kind, 0), len(ids)) + ", ".join(f"`{escape(i)}`" for i in ids))
        for kind, ids in resources.items()
    ]
    if "estimated_instance_hours_saved" in details:
        facts.append(("Instance-hours saved (est.)", f"{details['estimated_instance_hours_saved']:g}"))
    if details.get("next_start"):
        facts.append(("Next start", escape(str(details["next_start"]))))
    blocks = [header(title)]
    if facts:
        blocks.append(fields(facts))
    failures = details.get("failures") or []
    if failures:
        lines = "\n".join(f"• `{escape(f['id'])}` ({escape(f['kind'])}): {escape(f['reason'])}" for f in failures)
        listed = _listed(int(details.get("failed") or len(failures)), len(failures))
        blocks.append(section(f"*Failed*\n{listed}{lines}"))
    count = sum(counts.values())
    return SlackMessage.build(f"{title}: {count} resource(s)", event.severity, blocks)


def _listed(total: int, shown: int) -> str:
    """First, so a cut at Slack's limits never hides it: `250 (100 listed): `."""
    return f"{total} ({shown} listed): " if total > shown else ""


def generic(subject: str | None, message: str, payload: Any) -> SlackMessage:
    """Anything else: a title (the subject, else one read from the content), and the message as
    pretty JSON or as text, in a code block cut cleanly."""
    title = subject or _title_of(message, payload)
    shown = json.dumps(payload, indent=2, ensure_ascii=False) if payload is not None else message
    blocks = [header(str(title)), section(code_block(shown))]
    return SlackMessage.build(cut(str(title), 150), "info", blocks)


def _title_of(message: str, payload: Any) -> str:
    """A header for a message without a subject: its detail-type, else what the JSON says it is
    (its source, event name or type, else its first keys), else the text's first line."""
    if isinstance(payload, dict):
        for key in ("detail-type", "eventName", "EventName", "eventType", "Type", "source", "eventSource"):
            if isinstance(payload.get(key), str) and payload[key].strip():
                return str(payload[key]).strip()
        keys = ", ".join(list(payload)[:3])
        return f"JSON message ({keys})" if keys else "Empty JSON message"
    if isinstance(payload, list):
        return f"JSON list of {len(payload)}"
    first = next((line.strip() for line in message.splitlines() if line.strip()), "")
    return cut(first, 80) if first else "Notification"
