"""The one event per schedule and run that changed something: `schedule.stopped | started`.

A run that covers several accounts and regions is made of parts (schedule/parts.py); each part
summarizes what it did per schedule (`ScheduleSummary`, small whatever the resources: ids are
listed up to SHOWN per kind and counted), the summaries of all parts are merged, and the event is
built from the merge, so a schedule is told once per run however many parts it spans.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import Field

from harbormaster.config import HarbormasterConfig
from harbormaster.model import Model
from harbormaster.notify import HarbormasterEvent
from harbormaster.schedule.evaluate import next_change
from harbormaster.schedule.models import Resource, RunReport

SHOWN = 100  # ids listed per kind, failures listed per schedule: an SNS message holds 256 KB


class ScheduleSummary(Model):
    """What one run (or part of one) changed for one schedule and desired state."""

    schedule: str
    desired: str
    resources: dict[str, list[str]] = Field(default_factory=dict, description="kind → ids, at most SHOWN")
    counts: dict[str, int] = Field(default_factory=dict, description="kind → how many changed")
    failures: list[dict[str, str]] = Field(default_factory=list, description="at most SHOWN")
    failed: int = 0
    units: int = Field(default=0, description="instances (or tasks) the stopped resources stand for")


def summarize(report: RunReport, found: dict[str, Resource]) -> list[ScheduleSummary]:
    """Per schedule and desired state, what the run stopped, started or failed to. `found` maps
    resource ids to what discovery saw (their capacities give the units)."""
    grouped: dict[tuple[str, str], ScheduleSummary] = {}
    for outcome in report.outcomes:
        # An account or region that cannot be reached belongs to no schedule: the ScheduleFailures
        # metric counts it, and its alarm says it once (not at every run until it is fixed).
        if outcome.action not in {"stop", "start", "failed"} or outcome.dry_run or outcome.kind == "scope":
            continue
        summary = grouped.setdefault(
            (outcome.schedule, outcome.desired), ScheduleSummary(schedule=outcome.schedule, desired=outcome.desired)
        )
        if outcome.action == "failed":
            summary.failed += 1
            if len(summary.failures) < SHOWN:
                summary.failures.append({"kind": outcome.kind, "id": outcome.id, "reason": outcome.reason})
            continue
        summary.counts[outcome.kind] = summary.counts.get(outcome.kind, 0) + 1
        shown = summary.resources.setdefault(outcome.kind, [])
        if len(shown) < SHOWN:
            shown.append(outcome.id)
        summary.units += _units(found.get(outcome.id))
    return [grouped[key] for key in sorted(grouped)]


def merge(summaries: Iterable[ScheduleSummary]) -> list[ScheduleSummary]:
    """The summaries of a run's parts, one per schedule and desired state."""
    merged: dict[tuple[str, str], ScheduleSummary] = {}
    for part in summaries:
        into = merged.setdefault(
            (part.schedule, part.desired), ScheduleSummary(schedule=part.schedule, desired=part.desired)
        )
        for kind, ids in part.resources.items():
            into.resources[kind] = (into.resources.get(kind, []) + ids)[:SHOWN]
        for kind, count in part.counts.items():
            into.counts[kind] = into.counts.get(kind, 0) + count
        into.failures = (into.failures + part.failures)[:SHOWN]
        into.failed += part.failed
        into.units += part.units
    return [merged[key] for key in sorted(merged)]


def events(summaries: Iterable[ScheduleSummary], config: HarbormasterConfig, at: datetime) -> list[HarbormasterEvent]:
    """One `schedule.stopped | started` per summary."""
    built = []
    for summary in summaries:
        details: dict[str, object] = {
            "schedule": summary.schedule,
            "resources": {kind: sorted(ids) for kind, ids in sorted(summary.resources.items())},
            "counts": dict(sorted(summary.counts.items())),
            "failures": summary.failures,
            "failed": summary.failed,
        }
        if summary.desired == "stopped" and summary.schedule in config.schedules:
            schedule = config.schedules[summary.schedule]
            change = next_change(schedule, at)
            hours = (change[0] - at).total_seconds() / 3600 if change else 0.0
            details["next_start"] = change[0].astimezone(ZoneInfo(schedule.timezone)).isoformat() if change else None
            details["estimated_instance_hours_saved"] = round(summary.units * hours, 1)
        built.append(
            HarbormasterEvent(
                type="schedule.stopped" if summary.desired == "stopped" else "schedule.started",
                severity="warning" if summary.failed else "info",
                route="monitoring",
                reason=f"{summary.failed} resource(s) failed" if summary.failed else None,
                details=details,
            )
        )
    return built


def summary_events(
    report: RunReport, config: HarbormasterConfig, found: dict[str, Resource]
) -> list[HarbormasterEvent]:
    """The events of a run done in one piece."""
    return events(summarize(report, found), config, report.at)


def _units(resource: Resource | None) -> int:
    """Instances (or tasks) a stopped resource stands for: ASG desired, ECS desired tasks, else 1."""
    if resource is None:
        return 1
    return int(resource.capacity.get("desired", 1)) if resource.kind in {"asg", "ecs"} else 1
