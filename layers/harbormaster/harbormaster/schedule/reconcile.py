"""One reconciler run: evaluate every tagged resource's schedule and act on transitions only.

    desired `any`                              → nothing
    resource starting/stopping                 → nothing this run (looked at again next run)
    already as desired                         → nothing; the desired state is remembered
    desired changed since the last run         → act (or always, when the schedule is `enforced`
      (or never seen), or a one-shot action      or the run is a one-shot stop/start)
    otherwise                                  → nothing: someone changed it by hand since the last
                                                 boundary, and that is respected until the next one
    a database we stopped, running again        → stop it again (AWS restarts a stopped RDS
      7 days later while still desired stopped    instance or Aurora cluster after 7 days)
    an instance we started, found stopped with  → the start failed (e.g. an encrypted volume whose
      a launch error (not a user's stop)          KMS key the role cannot use): reported with
                                                  EC2's reason, and started again

A run's cost does not grow with the resources when nothing changes: a schedule whose inputs are
those of its last idle run (state/idle_marks.py) is decided without reading a record. Otherwise the
records are read in bulk, and only what changed is written.

A schedule's override (`schedule keep`, state/overrides.py) replaces what its periods say until
it ends; a closed SSM Change Calendar it names stops it as a holiday. Stops go ECS, ASG, EC2, then
databases; starts go databases first, and the rest waits (deferred to the next run) until every
database of the schedule in that account and region is available.

A schedule that names other accounts and regions is decided per account and region (its idle mark,
its order of starts); a scheduled run over several is split into parts (schedule/parts.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from botocore.exceptions import BotoCoreError, ClientError

from harbormaster.accounts import HOME, Scope, local
from harbormaster.config import HarbormasterConfig
from harbormaster.config.models import Schedule
from harbormaster.observability import logger
from harbormaster.schedule import resources
from harbormaster.schedule.evaluate import evaluate
from harbormaster.schedule.exceptions import UnknownSchedule
from harbormaster.schedule.models import DATABASES, START_ORDER, STOP_ORDER, Outcome, Resource, RunInput, RunReport
from harbormaster.state import resources as records
from harbormaster.state.idle_marks import IdleMarks, fingerprint
from harbormaster.state.overrides import Overrides

RDS_MAX_STOPPED = timedelta(days=7)


def run(config: HarbormasterConfig, request: RunInput, now: datetime) -> tuple[RunReport, dict[str, Resource]]:
    """The run's report, and the resources found (by id) as discovery saw them. Each schedule is
    decided per account and region it covers (its idle mark, its database-first start); a part
    (`request.part`) looks at one account and region only."""
    report = RunReport(at=now, dry_run=request.dry_run)
    if request.schedule is not None and request.schedule not in config.schedules:
        raise UnknownSchedule(f"schedule {request.schedule!r} is not in the configuration")
    found = _discover(config, report, request.part.scope if request.part else None)
    covered = {name: _scopes_of(schedule, config) for name, schedule in config.schedules.items()}
    members: dict[tuple[str, Scope], list[Resource]] = defaultdict(list)
    for resource in found:
        if resource.schedule in covered and resource.scope not in covered[resource.schedule]:
            why = f"schedule {resource.schedule!r} does not name {resource.scope}"
            report.outcomes.append(_outcome(resource, "-", "skipped", why, request))
            continue
        members[(resource.schedule, resource.scope)].append(resource)
    # A dry run or a one-shot action always decides in full; a dry run writes nothing at all.
    marks = IdleMarks() if not request.dry_run else None
    seen = marks.all() if marks else {}
    closed = _ChangeCalendars(now, report)
    for name, scope in sorted(members, key=lambda group: (group[0], str(group[1]))):
        group = members[(name, scope)]
        if request.schedule is not None and name != request.schedule:
            continue
        schedule = config.schedules.get(name)
        if schedule is None:
            for resource in group:
                report.outcomes.append(_outcome(resource, "-", "skipped", f"unknown schedule {name!r}", request))
            logger.warning("unknown schedule", extra={"schedule": name, "resources": [r.id for r in group]})
            continue
        desired, why = _desired(name, schedule, request, now, closed)
        digest = fingerprint(desired, schedule.enforced, (_observed(r) for r in group))
        mark_key = scope.qualify(name)  # the hub's own: the schedule's name, as it always was
        mark = seen.get(mark_key)
        if request.action is None and mark is not None and mark.fingerprint == digest:
            # As at the last run, which changed nothing: it would decide the same.
            report.outcomes += [_outcome(r, desired, "none", _why_not(r, desired), request) for r in group]
            continue
        outcomes, wrote = _schedule_run(name, schedule, group, request, now, desired, why)
        report.outcomes += outcomes
        if marks is None:
            continue
        if request.action is None and all(o.action == "none" for o in outcomes):
            marks.keep(mark_key, digest, mark, now)  # refused if another run changed the records meanwhile
        elif wrote or mark is not None:
            marks.invalidate(mark_key)
    return report, {resource.where: resource for resource in found}


def configured_scopes(config: HarbormasterConfig) -> list[Scope]:
    """Every account and region some schedule covers (the hub's own always), in a stable order."""
    scopes = {HOME} | {scope for schedule in config.schedules.values() for scope in _scopes_of(schedule, config)}
    return sorted(scopes, key=str)


def _scopes_of(schedule: Schedule, config: HarbormasterConfig) -> set[Scope]:
    """The accounts and regions a schedule covers, as discovery names them (this account and region: None)."""
    accounts: list[str | None] = list(schedule.accounts) or [None]
    regions: list[str | None] = list(schedule.regions) or [None]
    return {
        local(Scope(account=account, region=region, spokes=config.spokes)) for account in accounts for region in regions
    }


def _discover(config: HarbormasterConfig, report: RunReport, only: Scope | None) -> list[Resource]:
    """The tagged resources of every account and region a schedule names (or of `only`). One that
    cannot be reached (no spoke role, a wrong external id, a region not enabled) is reported as
    failed and the others go on; its resources are left as they are."""
    found: list[Resource] = []
    for scope in [only] if only is not None else configured_scopes(config):
        try:
            resources_here, skipped = resources.discover(scope)
        except (ClientError, BotoCoreError) as exc:
            logger.exception("cannot reach an account or region", extra={"scope": str(scope)})
            report.outcomes.append(_unscheduled("scope", str(scope), "failed", f"cannot reach {scope}: {exc}"))
            continue
        found += resources_here
        for kind, identifier, why in skipped:
            report.outcomes.append(_unscheduled(kind, scope.qualify(identifier), "skipped", why))
    return found


def _unscheduled(kind: str, identifier: str, action: str, why: str) -> Outcome:
    """An outcome of no schedule: an account, region or calendar that failed, a resource skipped."""
    return Outcome(kind=kind, id=identifier, schedule="-", desired="-", action=action, reason=why)


def _observed(resource: Resource) -> dict[str, Any]:
    """What a run decides from, of one member."""
    return {
        "kind": resource.kind,
        "id": resource.key,
        "actual": resource.actual,
        "reason": resource.state_reason,
        "capacity": resource.capacity,
    }


def _desired(
    name: str, schedule: Schedule, request: RunInput, now: datetime, closed: _ChangeCalendars
) -> tuple[str, str]:
    """The schedule's desired state now, and why: a one-shot action, an override, a closed Change
    Calendar (as a holiday, unless `override_status` says otherwise), or its periods."""
    if request.action is not None:
        return ("stopped" if request.action == "stop" else "running"), f"one-shot {request.action}"
    if kept := Overrides().active(name, now):
        until = kept.until.astimezone(ZoneInfo(schedule.timezone))
        return kept.state, f"kept {'on' if kept.state == 'running' else 'off'} by {kept.by} until {until:%a %H:%M %Z}"
    if schedule.change_calendars and schedule.override_status is None:
        state = closed.state(schedule.change_calendars)
        if state is not None:
            return state
    decision = evaluate(schedule, now)
    return decision.state, decision.reason


class _ChangeCalendars:
    """The run's reads of SSM Change Calendars: one GetCalendarState per set of calendars. A
    calendar that cannot be read leaves its schedules as they are (`any`) and is reported."""

    def __init__(self, now: datetime, report: RunReport) -> None:
        self.now, self.report = now, report
        self.seen: dict[tuple[str, ...], tuple[str, str] | None] = {}

    def state(self, names: list[str]) -> tuple[str, str] | None:
        """(desired, why) while a calendar is CLOSED or unreadable; None while all are OPEN."""
        key = tuple(names)
        if key not in self.seen:
            self.seen[key] = self._read(names)
        return self.seen[key]

    def _read(self, names: list[str]) -> tuple[str, str] | None:
        try:
            until = resources.calendar_closed(names, self.now)
        except (ClientError, BotoCoreError) as exc:
            logger.exception("cannot read a change calendar", extra={"calendars": names})
            why = f"change calendar {', '.join(names)} cannot be read: {exc}"
            self.report.outcomes.append(_unscheduled("scope", f"calendar:{','.join(names)}", "failed", why))
            return "any", f"{why}; left as it is"
        if until is None:
            return None
        return "stopped", f"change calendar {', '.join(names)} is CLOSED until {until}"


def _schedule_run(
    name: str, schedule: Schedule, members: list[Resource], request: RunInput, now: datetime, desired: str, why: str
) -> tuple[list[Outcome], bool]:
    """The schedule's outcomes, and whether it wrote any record (or acted on any resource)."""
    outcomes: list[Outcome] = []
    act: list[Resource] = []
    stored = records.get_many([resource.key for resource in members])
    memory = _Memory(stored)
    for resource in members:
        record = stored[resource.key]
        if failed := _start_did_not_hold(resource, record, desired):
            act.append(resource)
            outcomes.append(_outcome(resource, desired, "failed", f"{failed}; starting it again", request))
            continue
        reason = _needs_action(resource, record, desired, schedule.enforced or request.action is not None, now)
        if reason is None:
            outcomes.append(_outcome(resource, desired, "none", _why_not(resource, desired), request))
            settled = desired != "any" and resource.actual == desired
            if (
                settled
                and not request.dry_run
                and (record.get("last_desired"), record.get("schedule")) != (desired, name)
            ):
                memory.remember(resource, schedule=name, last_desired=desired)
            continue
        act.append(resource)
        why_this = f"{why}; {reason}"
        outcomes.append(_outcome(resource, desired, "stop" if desired == "stopped" else "start", why_this, request))
    if request.dry_run or not act:
        return outcomes, memory.flush()
    # Only failures and deferrals replace the planned outcome; a success keeps its reason.
    changed = _stop(act, schedule, now, memory) if desired == "stopped" else _start(act, members, now, memory)
    memory.flush()
    return [changed.get((o.kind, o.id)) or o for o in outcomes], True


class _Memory:
    """What a schedule's run remembers: EC2 records in bulk at the end (BatchWriteItem, each the
    record read this run with its new fields), the others at once, attribute by attribute
    (UpdateItem: a saved capacity is never written back from a stale copy)."""

    def __init__(self, stored: dict[str, dict[str, Any]]) -> None:
        self.stored = stored
        self.ec2: dict[str, dict[str, Any]] = {}
        self.wrote = False

    def remember(self, resource: Resource, **fields: Any) -> None:
        if resource.kind == "ec2":
            self.ec2[resource.key] = {**self.stored.get(resource.key, {}), **self.ec2.get(resource.key, {}), **fields}
        else:
            records.remember(resource.key, **fields)
            self.wrote = True

    def flush(self) -> bool:
        """Write what is pending; whether anything was written by this run so far."""
        if self.ec2:
            records.put_many(self.ec2)
            self.ec2, self.wrote = {}, True
        return self.wrote


def _needs_action(resource: Resource, record: dict[str, Any], desired: str, always: bool, now: datetime) -> str | None:
    """Why to act on this resource now, or None to leave it."""
    if desired == "any" or resource.actual in {"transitioning", desired}:
        return None
    if always:
        return "enforced"
    if record.get("last_desired") != desired:
        return "the desired state changed" if record else "first run for this resource"
    stopped_at = record.get("stopped_at")
    restarted = stopped_at and now - datetime.fromisoformat(stopped_at) >= RDS_MAX_STOPPED
    if resource.kind in DATABASES and desired == "stopped" and restarted:
        return "AWS restarted it after 7 days stopped; stopping it again"
    return None


def _start_did_not_hold(resource: Resource, record: dict[str, Any], desired: str) -> str | None:
    """An EC2 start that AWS accepted but that fell back to stopped: EC2's reason, else None. A
    stop by a user or from the OS (`Client.UserInitiated…`, `Client.InstanceInitiatedShutdown`)
    is someone's choice and is left until the next boundary."""
    if resource.kind != "ec2" or desired != "running" or resource.actual != "stopped":
        return None
    if record.get("last_desired") != "running" or not record.get("started_at"):
        return None
    why = resource.state_reason or ""
    if not why or why.startswith(_CHOSEN_STOPS):
        return None
    return f"the start at {record['started_at']} did not hold: {why}"


_CHOSEN_STOPS = ("Client.UserInitiated", "Client.InstanceInitiatedShutdown")


def _why_not(resource: Resource, desired: str) -> str:
    if desired == "any":
        return "the schedule says any: left as it is"
    if resource.actual == "transitioning":
        return "changing state right now: looked at again next run"
    if resource.actual == desired:
        return f"already {desired}"
    return f"{resource.actual} by hand since the last boundary: left until the next one"


Changed = dict[tuple[str, str], Outcome | None]


def _stop(act: list[Resource], schedule: Schedule, now: datetime, memory: _Memory) -> Changed:
    results: Changed = {}
    for kind in STOP_ORDER:
        if kind == "ec2":
            for scope, ec2 in _by_scope(r for r in act if r.kind == "ec2").items():
                failures = resources.stop_ec2([r.id for r in ec2], hibernate=schedule.hibernate, scope=scope)
                for resource in ec2:
                    failure = failures.get(resource.id)
                    results[("ec2", resource.where)] = _finished(resource, "stopped", now, failure, memory)
            continue
        for resource in (r for r in act if r.kind == kind):
            failure = _attempt(_stop_one, resource)
            results[(kind, resource.where)] = _finished(resource, "stopped", now, failure, memory)
    return results


def _by_scope(members: Iterable[Resource]) -> dict[Scope, list[Resource]]:
    """EC2 instances are stopped and started many per call: one call per account and region."""
    grouped: dict[Scope, list[Resource]] = defaultdict(list)
    for resource in members:
        grouped[resource.scope].append(resource)
    return grouped


def _start(act: list[Resource], members: list[Resource], now: datetime, memory: _Memory) -> Changed:
    results: Changed = {}
    databases = [r for r in act if r.kind in DATABASES]
    for resource in sorted(databases, key=lambda r: START_ORDER.index(r.kind)):
        failure = _attempt(_start_one, resource)
        results[(resource.kind, resource.where)] = _finished(resource, "running", now, failure, memory)
    waiting = [r.where for r in members if r.kind in DATABASES and not resources.database_available(r)]
    others = [r for r in act if r.kind not in DATABASES]
    if waiting:
        for resource in others:
            note = f"waiting for database(s) {', '.join(waiting)} to be available; next run"
            results[(resource.kind, resource.where)] = Outcome(
                kind=resource.kind,
                id=resource.where,
                schedule=resource.schedule,
                desired="running",
                actual=resource.actual,
                action="deferred",
                reason=note,
            )
        return results
    for scope, ec2 in _by_scope(r for r in others if r.kind == "ec2").items():
        failures = resources.start_ec2([r.id for r in ec2], scope=scope)
        for resource in ec2:
            results[("ec2", resource.where)] = _finished(resource, "running", now, failures.get(resource.id), memory)
    for kind in START_ORDER:
        for resource in (r for r in others if r.kind == kind and kind != "ec2"):
            failure = _attempt(_start_one, resource)
            results[(kind, resource.where)] = _finished(resource, "running", now, failure, memory)
    return results


def _stop_one(resource: Resource) -> None:
    if resource.kind in {"asg", "ecs"}:
        # Save before changing anything, so a crash in between still restores exactly; a capacity
        # saved by an earlier stop is kept (what this run sees may be that stop's zeros).
        records.save_capacity(resource.key, resource.capacity)
    if resource.kind == "asg":
        resources.set_asg(resource.id, {"min": 0, "max": 0, "desired": 0}, resource.scope)
    elif resource.kind == "ecs":
        scaled = {"min": 0, "max": 0} if "min" in resource.capacity else {}
        resources.set_ecs(resource.id, {"desired": 0, **scaled}, resource.scope)
    elif resource.kind == "rds":
        resources.stop_rds(resource.id, resource.scope)
    elif resource.kind == "aurora":
        resources.stop_aurora(resource.id, resource.scope)


def _start_one(resource: Resource) -> None:
    saved: dict[str, int] = records.get(resource.key).get("saved") or {}
    if resource.kind in {"asg", "ecs"} and not saved:
        raise RestoreError(f"no saved capacity for {resource.id}: it was not stopped by Harbormaster")
    if resource.kind == "asg":
        resources.set_asg(resource.id, saved, resource.scope)
        records.forget_capacity(resource.key, saved)
    elif resource.kind == "ecs":
        resources.set_ecs(resource.id, {k: int(v) for k, v in saved.items()}, resource.scope)
        records.forget_capacity(resource.key, saved)
    elif resource.kind == "rds":
        resources.start_rds(resource.id, resource.scope)
    elif resource.kind == "aurora":
        resources.start_aurora(resource.id, resource.scope)


class RestoreError(Exception):
    """A capacity cannot be restored exactly (nothing was saved)."""


def _attempt(action: Any, resource: Resource) -> str | None:
    """Run one resource's action; its error (never raised further) as text."""
    try:
        action(resource)
    except Exception as exc:  # one resource's error never stops the run
        logger.exception("schedule action failed", extra={"resource": resource.id, "kind": resource.kind})
        code = getattr(exc, "response", {}).get("Error", {}).get("Code")
        return f"{code}: {exc}" if code else str(exc)
    return None


def _finished(resource: Resource, desired: str, now: datetime, failure: str | None, memory: _Memory) -> Outcome | None:
    """Remember a success (None: the planned outcome stands); a failure becomes the outcome and is
    not remembered, so the next run tries again."""
    if failure:
        return Outcome(
            kind=resource.kind,
            id=resource.where,
            schedule=resource.schedule,
            desired=desired,
            actual=resource.actual,
            action="failed",
            reason=f"{'stop' if desired == 'stopped' else 'start'} failed: {failure}",
        )
    update: dict[str, Any] = {"schedule": resource.schedule, "last_desired": desired}
    update["stopped_at" if desired == "stopped" else "started_at"] = now.isoformat()
    memory.remember(resource, **update)
    return None


def _outcome(resource: Resource, desired: str, action: Any, reason: str, request: RunInput) -> Outcome:
    return Outcome(
        kind=resource.kind,
        id=resource.where,
        schedule=resource.schedule,
        desired=desired,
        actual=resource.actual,
        action=action,
        reason=reason,
        dry_run=request.dry_run,
    )
