"""The one event per schedule and run that changed something: `schedule.stopped | started`."""

from __future__ import annotations

from collections import defaultdict
from zoneinfo import ZoneInfo

from harbormaster.config import HarbormasterConfig
from harbormaster.notify import HarbormasterEvent
from harbormaster.schedule.evaluate import next_change
from harbormaster.schedule.models import Outcome, Resource, RunReport


def summary_events(
    report: RunReport, config: HarbormasterConfig, found: dict[str, Resource]
) -> list[HarbormasterEvent]:
    """`found` maps resource ids to what discovery saw (for capacities in the hours-saved estimate)."""
    events = []
    by_schedule: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
    for outcome in report.outcomes:
        # An account or region that cannot be reached belongs to no schedule: the ScheduleFailures
        # metric counts it, and its alarm says it once (not at every run until it is fixed).
        if outcome.action in {"stop", "start", "failed"} and not outcome.dry_run and outcome.kind != "scope":
            by_schedule[(outcome.schedule, outcome.desired)].append(outcome)
    for (name, desired), outcomes in sorted(by_schedule.items()):
        done = [o for o in outcomes if o.action != "failed"]
        failed = [o for o in outcomes if o.action == "failed"]
        by_kind: dict[str, list[str]] = defaultdict(list)
        for outcome in done:
            by_kind[outcome.kind].append(outcome.id)
        details: dict[str, object] = {
            "schedule": name,
            "resources": {kind: sorted(ids) for kind, ids in sorted(by_kind.items())},
            "failures": [{"kind": o.kind, "id": o.id, "reason": o.reason} for o in failed],
        }
        if desired == "stopped" and name in config.schedules:
            change = next_change(config.schedules[name], report.at)
            hours = (change[0] - report.at).total_seconds() / 3600 if change else 0.0
            units = sum(_units(found.get(o.id)) for o in done)
            zone = ZoneInfo(config.schedules[name].timezone)
            details["next_start"] = change[0].astimezone(zone).isoformat() if change else None
            details["estimated_instance_hours_saved"] = round(units * hours, 1)
        events.append(
            HarbormasterEvent(
                type="schedule.stopped" if desired == "stopped" else "schedule.started",
                severity="warning" if failed else "info",
                route="monitoring",
                reason=f"{len(failed)} resource(s) failed" if failed else None,
                details=details,
            )
        )
    return events


def _units(resource: Resource | None) -> int:
    """Instances (or tasks) a stopped resource stands for: ASG desired, ECS desired tasks, else 1."""
    if resource is None:
        return 1
    return int(resource.capacity.get("desired", 1)) if resource.kind in {"asg", "ecs"} else 1
