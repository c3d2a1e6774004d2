"""`harbormaster schedule check | explain | status | run`."""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import ValidationError

from harbormaster.config import HarbormasterConfig
from harbormaster.config.models import Schedule
from harbormaster.schedule import RunInput, ScheduleError, next_change, run, summary_events
from harbormaster.schedule.evaluate import evaluate


class ScheduleFileError(Exception):
    """The schedule file is missing, unreadable, or not a valid schedule (exit 2)."""


def load_schedule_file(path: Path) -> Schedule:
    """One schedule (the fields of a `schedules:` entry) from a YAML or JSON file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScheduleFileError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)  # JSON is YAML
    except yaml.YAMLError as exc:
        raise ScheduleFileError(f"{path} is neither YAML nor JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ScheduleFileError(f"{path}: expected the fields of one schedule (timezone, periods, ...)")
    try:
        return Schedule.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'schedule'}: {e['msg']}" for e in exc.errors())
        raise ScheduleFileError(f"{path}: invalid schedule: {problems}") from None
    except ScheduleError as exc:
        raise ScheduleFileError(f"{path}: invalid schedule: {exc}") from None


def parse_instant(text: str | None) -> datetime:
    """ISO 8601; without an offset it is UTC. None means now."""
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ScheduleFileError(f"--at {text!r} is not an ISO 8601 date and time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def check(args: argparse.Namespace) -> str:
    return evaluate(load_schedule_file(args.file), parse_instant(args.at)).state


def explain(args: argparse.Namespace) -> str:
    schedule = load_schedule_file(args.file)
    moment = parse_instant(args.at)
    zone = ZoneInfo(schedule.timezone)
    decision = evaluate(schedule, moment)
    lines = [
        f"at {moment.astimezone(zone).isoformat()} ({schedule.timezone}): {decision.state}",
        f"decided by: {decision.reason}",
    ]
    change = next_change(schedule, moment)
    if change is None:
        lines.append("next change: none within a year")
    else:
        when, after = change
        lines.append(f"next change: {when.astimezone(zone).isoformat()} → {after.state} ({after.reason})")
    return "\n".join(lines)


def status_rows(config: HarbormasterConfig, now: datetime) -> list[dict[str, Any]]:
    from botocore.exceptions import BotoCoreError, ClientError

    from harbormaster.schedule import resources
    from harbormaster.schedule.reconcile import configured_scopes
    from harbormaster.state import resources as records
    from harbormaster.state.overrides import Overrides

    overrides = Overrides()
    rows: list[dict[str, Any]] = []
    found: list[Any] = []
    skipped: list[tuple[str, str, str]] = []
    for scope in configured_scopes(config):  # every account and region a schedule names
        try:
            here, left = resources.discover(scope)
        except (ClientError, BotoCoreError) as exc:
            rows.append({"resource": str(scope), "kind": "scope", "schedule": "-", "desired": f"cannot reach: {exc}"})
            continue
        found += here
        skipped += [(kind, scope.qualify(identifier), why) for kind, identifier, why in left]
    for resource in sorted(found, key=lambda r: (r.schedule, r.kind, r.where)):
        schedule = config.schedules.get(resource.schedule)
        row: dict[str, Any] = {
            "resource": resource.where,
            "kind": resource.kind,
            "schedule": resource.schedule,
            "actual": resource.actual,
            "last_desired": records.get(resource.key).get("last_desired"),
        }
        if schedule is None:
            row.update(desired="unknown schedule", next_change=None)
        elif kept := overrides.active(resource.schedule, now):
            zone = ZoneInfo(schedule.timezone)
            row["desired"] = kept.state
            row["next_change"] = f"override by {kept.by} ends {kept.until.astimezone(zone):%a %Y-%m-%d %H:%M %Z}"
        else:
            row["desired"] = evaluate(schedule, now).state
            change = next_change(schedule, now)
            zone = ZoneInfo(schedule.timezone)
            row["next_change"] = (
                f"{change[0].astimezone(zone):%a %Y-%m-%d %H:%M %Z} → {change[1].state}" if change else None
            )
        rows.append(row)
    rows += [{"resource": i, "kind": k, "schedule": "-", "desired": f"skipped: {why}"} for k, i, why in skipped]
    return rows


def run_now(config: HarbormasterConfig, request: RunInput) -> list[dict[str, Any]]:
    """Reconcile now with the operator's credentials; publish the summaries like the Lambda does."""
    from harbormaster.notify import publish

    report, found = run(config, request, request.scheduled_time or datetime.now(UTC))
    if os.environ.get("ALERT_TOPIC_ARN"):
        for event in summary_events(report, config, found):
            publish(event)
    return [o.model_dump(mode="json") for o in report.outcomes]


def as_json(rows: Any) -> str:
    return json.dumps(rows, indent=2, default=str)
