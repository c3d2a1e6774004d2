"""`/harbormaster …` in Slack, carried out by the click worker after the endpoint acknowledged it
(within Slack's 3 seconds) and queued it; the answer goes to the command's `response_url`:
ephemeral for questions and refusals, in the channel for what changed something.

    status [ENV]                       each environment's current release and running deploy
    history ENV                        its last releases
    deploy ENV TAG                     a manual deploy (the approval gate still applies)    approvers of ENV
    rollback ENV                       to the last known-good release                       approvers of ENV
    approve ENV / reject ENV [why]     the deploy waiting at the gate                       approvers of ENV
    schedule status [NAME]             what each schedule wants now, and any override
    keep NAME on until 23:00           keep a schedule's resources up through its stop      members of NAME
    keep NAME off [now | until T]      stop them at the next run                            members of NAME
    keep NAME clear                    end the override                                     members of NAME

The same approver rules as the buttons (`approval.approvers`); a schedule's `members`, when set,
decides who may keep it on or off.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from harbormaster import clock
from harbormaster.approval.service import Answer, approve, reject, rollback
from harbormaster.config import HarbormasterConfig
from harbormaster.state.ledger import Ledger

USAGE = (
    "Usage: `/harbormaster status [ENV]` · `history ENV` · `deploy ENV TAG` · `rollback ENV` · "
    "`approve ENV` · `reject ENV [why]` · `schedule status [NAME]` · "
    "`keep NAME on until 23:00` · `keep NAME off [now | until 07:00]` · `keep NAME clear`"
)
VERBS = frozenset({"help", "status", "history", "deploy", "rollback", "approve", "reject", "schedule", "keep"})


def known(text: str) -> bool:
    """Is this a command the worker can carry out (checked before it is queued)?"""
    words = text.split()
    return not words or words[0].lower() in VERBS


def run(
    text: str, user: str, config: HarbormasterConfig, state_machine_arn: str, now: datetime | None = None
) -> Answer:
    words = text.split()
    verb, arguments = (words[0].lower(), words[1:]) if words else ("help", [])
    moment = now or clock.now()
    if verb == "status":
        return _status(config, arguments)
    if verb == "history" and len(arguments) == 1:
        return _history(config, arguments[0])
    if verb == "deploy" and len(arguments) == 2:
        return _deploy(config, arguments[0], arguments[1], user, state_machine_arn)
    if verb == "rollback" and len(arguments) == 1:
        return _rollback(config, arguments[0], user, state_machine_arn)
    if verb == "approve" and len(arguments) == 1:
        return approve(config, arguments[0], None, user, "slack")
    if verb == "reject" and arguments:
        return reject(config, arguments[0], None, user, " ".join(arguments[1:]) or "rejected in Slack", "slack")
    if verb == "schedule" and arguments[:1] == ["status"] and len(arguments) <= 2:
        return _schedules(config, arguments[1] if len(arguments) == 2 else None, moment)
    if verb == "keep" and len(arguments) >= 2:
        return _keep(config, arguments, user, moment)
    return Answer(200 if verb == "help" else 400, USAGE)


def _status(config: HarbormasterConfig, arguments: list[str]) -> Answer:
    from harbormaster.reports import status_rows, table

    only = arguments[0] if arguments else None
    if only is not None and only not in config.environments:
        return Answer(404, f"environment {only!r} is not in the configuration")
    rows = status_rows(config, only)
    columns = ["environment", "current_image", "deploying", "progress"]
    return Answer(200, _code(table(rows, columns)))


def _history(config: HarbormasterConfig, environment: str) -> Answer:
    from harbormaster.reports import history_rows, table

    if environment not in config.environments:
        return Answer(404, f"environment {environment!r} is not in the configuration")
    rows = history_rows(environment, 5)
    return Answer(200, _code(table(rows, ["release_id", "status", "tag", "trigger", "actor"])))


def _deploy(config: HarbormasterConfig, environment: str, image: str, user: str, state_machine_arn: str) -> Answer:
    from harbormaster.deploy.exceptions import ImageNotFound
    from harbormaster.deploy.manual import start_manual_deploy

    settings = config.environments.get(environment)
    if settings is None:
        return Answer(404, f"environment {environment!r} is not in the configuration")
    if user not in settings.approval.approvers:
        return Answer(403, f"<@{user}> is not an approver of {environment}: only approvers can deploy it from Slack")
    try:
        execution = start_manual_deploy(config, state_machine_arn, environment, image, f"slack:{user}")
    except ImageNotFound as exc:
        return Answer(404, f"not deployed: {exc}")
    gate = " (it waits for approval first)" if settings.approval.required else ""
    return Answer(
        200, f"🚀 Deploy of {environment} {image} started by <@{user}>{gate} ({execution.rsplit(':', 1)[-1]})", True
    )


def _rollback(config: HarbormasterConfig, environment: str, user: str, state_machine_arn: str) -> Answer:
    if environment not in config.environments:
        return Answer(404, f"environment {environment!r} is not in the configuration")
    current = Ledger().current(environment)
    if current is None:
        return Answer(409, f"{environment} has no current release to roll back")
    return rollback(config, environment, current.release_id, user, state_machine_arn, "slack")


def _schedules(config: HarbormasterConfig, only: str | None, now: datetime) -> Answer:
    from harbormaster.schedule.evaluate import evaluate
    from harbormaster.state.overrides import Overrides

    if only is not None and only not in config.schedules:
        return Answer(404, f"schedule {only!r} is not in the configuration")
    lines = []
    for name, schedule in sorted(config.schedules.items()):
        if only is not None and name != only:
            continue
        decision = evaluate(schedule, now)
        line = f"{name}: {decision.state} ({decision.reason})"
        if (kept := Overrides().active(name, now)) is not None:
            until = kept.until.astimezone(ZoneInfo(schedule.timezone))
            line += f"; kept {'on' if kept.state == 'running' else 'off'} by {kept.by} until {until:%a %H:%M %Z}"
        lines.append(line)
    return Answer(200, _code("\n".join(lines) or "no schedules configured"))


def _keep(config: HarbormasterConfig, arguments: list[str], user: str, now: datetime) -> Answer:
    from harbormaster.schedule.override import OverrideError, apply_override

    name, what, rest = arguments[0], arguments[1].lower(), [a.lower() for a in arguments[2:]]
    schedule = config.schedules.get(name)
    if schedule is None:
        return Answer(404, f"schedule {name!r} is not in the configuration (`/harbormaster schedule status`)")
    if schedule.members and user not in schedule.members:
        return Answer(403, f"<@{user}> is not a member of {name}: only its members can keep it on or off")
    if what == "clear" and not rest:
        state, until = None, None
    elif what in {"on", "off"} and (rest in ([], ["now"]) or (len(rest) == 2 and rest[0] == "until")):
        state = "running" if what == "on" else "stopped"
        until = rest[1] if len(rest) == 2 else None
        if what == "on" and until is None:
            return Answer(400, f"say until when: `/harbormaster keep {name} on until 23:00`")
    else:
        return Answer(400, USAGE)
    try:
        said = apply_override(config, name, state, until, f"<@{user}>", now)
    except OverrideError as exc:
        return Answer(400, f"not kept: {exc}")
    return Answer(200, said, acted=True)


def _code(text: str) -> str:
    from harbormaster.slack.message import code_block

    return code_block(text)
