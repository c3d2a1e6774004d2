"""`harbormaster` — validate configuration and run the stack locally."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harbormaster import clock
from harbormaster.config import CONFIG_ENV, ConfigError, config_path, load_config

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class BadInput(Exception):
    """A file the user named cannot be used (missing, not JSON)."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return int(args.run(args))
    except BadInput as exc:
        print(f"harbormaster: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ConfigError as exc:
        print(f"harbormaster: invalid configuration\n{exc}", file=sys.stderr)
        return EXIT_FAILED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harbormaster", description=__doc__)
    commands = parser.add_subparsers(title="commands")

    config = commands.add_parser("config", help="configuration file").add_subparsers(title="config commands")
    validate = config.add_parser("validate", help="check configuration files; print OK or every error of each")
    validate.add_argument(
        "files", nargs="*", type=Path, metavar="FILE", help="default: $HARBORMASTER_CONFIG or ./harbormaster.yaml"
    )
    validate.set_defaults(run=_config_validate)

    deploy = commands.add_parser("deploy", help="deploy a tag or digest to an environment now")
    deploy.add_argument("environment")
    deploy.add_argument("image", help="a tag (v1.2.3) or a digest (sha256:...)")
    deploy.add_argument("--force", action="store_true", help="deploy even a quarantined (rolled-back) digest")
    _stack_options(deploy)
    deploy.set_defaults(run=_deploy)
    rollback = commands.add_parser("rollback", help="roll an environment back now (quarantines the current image)")
    rollback.add_argument("environment")
    rollback.add_argument("--to", help="a release id or tag (default: the release before the current one)")
    _stack_options(rollback)
    rollback.set_defaults(run=_rollback)
    _approval_parser(commands)
    _doctor_parser(commands)
    status = commands.add_parser("status", help="current release and running deploy, per environment")
    status.add_argument("environment", nargs="?")
    _stack_options(status)
    status.set_defaults(run=_status)
    history = commands.add_parser("history", help="the release ledger of an environment, newest first")
    history.add_argument("environment")
    history.add_argument("--limit", type=int, default=20)
    _stack_options(history)
    history.set_defaults(run=_history)

    _schedule_parser(commands)
    slack = commands.add_parser("slack", help="Slack alerts").add_subparsers(title="slack commands")
    render = slack.add_parser("render", help="print the exact JSON body(ies) that would be POSTed to Slack")
    render.add_argument("file", type=Path, help="an SNS Lambda event, SQS-wrapped SNS, a bare SNS message or event")
    render.set_defaults(run=_slack_render)
    redrive = slack.add_parser("redrive", help="move the alert DLQ's messages back to the alert queue")
    _stack_options(redrive)
    redrive.set_defaults(run=_slack_redrive)

    local = commands.add_parser("local", help="run the real template offline (moto, in-process)")
    local_commands = local.add_subparsers(title="local commands")
    invoke = local_commands.add_parser("invoke", help="invoke one function like `sam local invoke`")
    invoke.add_argument("function", help="logical id in template.yaml, e.g. RouterFunction")
    invoke.add_argument("-e", "--event", type=Path, required=True, help="event JSON file")
    _engine_options(invoke)
    invoke.set_defaults(run=_local_invoke)
    send = local_commands.add_parser("send-event", help="put an event on the bus and follow everything it triggers")
    send.add_argument("file", type=Path, help="EventBridge event JSON file")
    _engine_options(send)
    send.set_defaults(run=_local_send_event)
    demo = local_commands.add_parser("demo", help="a narrated scenario on the embedded engine")
    _engine_options(demo)
    demo.set_defaults(run=_local_demo)
    return parser


def _schedule_parser(commands: Any) -> None:
    schedule = commands.add_parser("schedule", help="cost-saving schedules").add_subparsers(title="schedule commands")
    check = schedule.add_parser("check", help="print running, stopped or any for a schedule file at an instant")
    check.add_argument("file", type=Path, help="YAML or JSON: the fields of one schedule")
    check.add_argument("--at", help="ISO 8601 (default: now; no offset means UTC)")
    check.set_defaults(run=_schedule_check)
    explain = schedule.add_parser("explain", help="which period decided, and when the state changes next")
    explain.add_argument("file", type=Path, help="YAML or JSON: the fields of one schedule")
    explain.add_argument("--at", help="ISO 8601 (default: now; no offset means UTC)")
    explain.set_defaults(run=_schedule_explain)
    schedule_status = schedule.add_parser("status", help="each tagged resource: schedule, desired, actual, next change")
    _stack_options(schedule_status)
    schedule_status.set_defaults(run=_schedule_status)
    schedule_run = schedule.add_parser("run", help="reconcile now (what the scheduled run does)")
    schedule_run.add_argument("--dry-run", action="store_true", help="report what would change; change nothing")
    schedule_run.add_argument("--action", choices=["stop", "start"], help="one-shot: stop or start a schedule now")
    schedule_run.add_argument("--schedule", help="with --action: the schedule's name")
    _stack_options(schedule_run)
    schedule_run.set_defaults(run=_schedule_run)
    keep = schedule.add_parser("keep", help="keep a schedule's resources on (or off) until a time; --clear ends it")
    keep.add_argument("schedule", help="the schedule's name")
    keep.add_argument("state", nargs="?", choices=["on", "off"], help="on: keep running; off: stop now")
    keep.add_argument("--until", help="HH:MM in the schedule's zone (the next one), or an ISO date and time")
    keep.add_argument("--by", default=os.environ.get("USER", "operator"), help="who asks (default: $USER)")
    keep.add_argument("--clear", action="store_true", help="end the override in force now")
    _stack_options(keep)
    keep.set_defaults(run=_schedule_keep)


def _approval_parser(commands: Any) -> None:
    approve = commands.add_parser("approve", help="approve the deploy waiting at an environment's approval gate")
    approve.add_argument("environment")
    approve.add_argument("--release", help="the waiting release id (default: the newest waiting)")
    _stack_options(approve)
    approve.set_defaults(run=_approve)
    reject = commands.add_parser("reject", help="reject the deploy waiting at an environment's approval gate")
    reject.add_argument("environment")
    reject.add_argument("--reason", required=True)
    reject.add_argument("--release", help="the waiting release id (default: the newest waiting)")
    _stack_options(reject)
    reject.set_defaults(run=_reject)


def _doctor_parser(commands: Any) -> None:
    doctor = commands.add_parser("doctor", help="what is missing before a deploy, checked against the account")
    doctor.add_argument("environment", nargs="?", help="default: every environment")
    doctor.add_argument(
        "--no-probe", action="store_true", help="do not run the read-only check command on the instances"
    )
    _stack_options(doctor)
    doctor.set_defaults(run=_doctor)


def _stack_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", help="CloudFormation stack name (default: $HARBORMASTER_STACK or harbormaster)")
    parser.add_argument(
        "--config", type=Path, default=None, help="default: $HARBORMASTER_CONFIG or ./harbormaster.yaml"
    )
    parser.add_argument("--output", choices=["table", "json"], default="table")


def _operator_config(args: argparse.Namespace) -> Any:
    file = args.config or (config_path() if os.environ.get(CONFIG_ENV) else Path("harbormaster.yaml"))
    return load_config(str(file))


def _deploy(args: argparse.Namespace) -> int:
    from harbormaster.cli import ops

    try:
        stack = ops.Stack.find(args.stack)
        arn = ops.start_deploy(_operator_config(args), stack, args.environment, args.image, force=args.force)
    except ops.OperatorError as exc:
        raise BadInput(str(exc)) from None
    print(json.dumps({"execution_arn": arn}) if args.output == "json" else f"started {arn}")
    return EXIT_OK


def _rollback(args: argparse.Namespace) -> int:
    from harbormaster.cli import ops

    try:
        stack = ops.Stack.find(args.stack)
        arn = ops.start_manual_rollback(_operator_config(args), stack, args.environment, args.to)
    except ops.OperatorError as exc:
        raise BadInput(str(exc)) from None
    print(json.dumps({"execution_arn": arn}) if args.output == "json" else f"rolling back: {arn}")
    return EXIT_OK


def _approve(args: argparse.Namespace) -> int:
    return _decide(args, approve=True)


def _reject(args: argparse.Namespace) -> int:
    return _decide(args, approve=False)


def _decide(args: argparse.Namespace, approve: bool) -> int:
    """The CLI path to the approval gate: IAM decides who may use it (SendTaskSuccess/Failure), not
    the Slack approver list."""
    from harbormaster.approval import service as approval
    from harbormaster.cli import ops

    try:
        ops.Stack.find(args.stack)
    except ops.OperatorError as exc:
        raise BadInput(str(exc)) from None
    config, who = _operator_config(args), ops.operator_name()
    if approve:
        answer = approval.approve(config, args.environment, args.release, who, "cli")
    else:
        answer = approval.reject(config, args.environment, args.release, who, args.reason, "cli")
    print(json.dumps({"status": answer.status, "text": answer.text}) if args.output == "json" else answer.text)
    return EXIT_OK if answer.status < 400 else EXIT_FAILED


def _doctor(args: argparse.Namespace) -> int:
    """One line per check; exit 1 when something would make a deploy fail."""
    from harbormaster import doctor
    from harbormaster.cli import ops

    config = _operator_config(args)
    if args.environment and args.environment not in config.environments:
        raise BadInput(f"environment {args.environment!r} is not in the configuration")
    try:
        outputs: dict[str, str] | None = ops.Stack.find(args.stack).outputs
    except ops.OperatorError:
        outputs = None
    findings = doctor.diagnose(config, args.environment, outputs, probe_instances=not args.no_probe)
    if args.output == "json":
        print(json.dumps([finding.model_dump(mode="json") for finding in findings], indent=2))
    else:
        print(doctor.report(findings))
    return EXIT_FAILED if doctor.blocking(findings) else EXIT_OK


def _status(args: argparse.Namespace) -> int:
    from harbormaster.cli import ops

    try:
        ops.Stack.find(args.stack)
        config = _operator_config(args)
        rows = ops.status_rows(config, args.environment)
        if args.environment:  # one environment: each instance too, to see convergence
            rows[0]["instances"] = ops.instance_rows(config, args.environment)
    except ops.OperatorError as exc:
        raise BadInput(str(exc)) from None
    if args.output == "json":
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    print(ops.table(rows, ["environment", "current_release", "current_image", "deploying", "progress"]))
    if rows and rows[0].get("instances"):
        print()
        print(ops.table(rows[0]["instances"], ["instance", "image", "release", "target", "converged"]))
    return EXIT_OK


def _history(args: argparse.Namespace) -> int:
    from harbormaster.cli import ops

    try:
        ops.Stack.find(args.stack)
    except ops.OperatorError as exc:
        raise BadInput(str(exc)) from None
    rows = ops.history_rows(args.environment, args.limit)
    columns = ["release_id", "status", "tag", "trigger", "actor", "phase", "duration_seconds", "reason"]
    print(json.dumps(rows, indent=2, default=str) if args.output == "json" else ops.table(rows, columns))
    return EXIT_OK


def _schedule_check(args: argparse.Namespace) -> int:
    from harbormaster.cli import schedule

    try:
        print(schedule.check(args))
    except schedule.ScheduleFileError as exc:
        raise BadInput(str(exc)) from None
    return EXIT_OK


def _schedule_explain(args: argparse.Namespace) -> int:
    from harbormaster.cli import schedule

    try:
        print(schedule.explain(args))
    except schedule.ScheduleFileError as exc:
        raise BadInput(str(exc)) from None
    return EXIT_OK


def _schedule_status(args: argparse.Namespace) -> int:
    from harbormaster.cli import ops, schedule

    try:
        ops.Stack.find(args.stack)
    except ops.OperatorError as exc:
        raise BadInput(str(exc)) from None
    rows = schedule.status_rows(_operator_config(args), clock.now())
    columns = ["resource", "kind", "schedule", "desired", "actual", "next_change"]
    print(schedule.as_json(rows) if args.output == "json" else ops.table(rows, columns))
    return EXIT_OK


def _schedule_run(args: argparse.Namespace) -> int:
    from harbormaster.cli import ops, schedule
    from harbormaster.schedule import RunInput

    try:
        ops.Stack.find(args.stack)
        request = RunInput(dry_run=args.dry_run, action=args.action, schedule=args.schedule)
        rows = schedule.run_now(_operator_config(args), request)
    except (ops.OperatorError, ValueError) as exc:
        raise BadInput(str(exc)) from None
    columns = ["id", "kind", "schedule", "desired", "actual", "action", "reason"]
    print(schedule.as_json(rows) if args.output == "json" else ops.table(rows, columns))
    return EXIT_OK


def _schedule_keep(args: argparse.Namespace) -> int:
    from harbormaster.cli import ops
    from harbormaster.schedule.override import OverrideError, apply_override

    if args.clear == (args.state is not None):
        raise BadInput("give on or off (with --until), or --clear")
    state = None if args.clear else {"on": "running", "off": "stopped"}[args.state]
    try:
        ops.Stack.find(args.stack)
        print(apply_override(_operator_config(args), args.schedule, state, args.until, args.by, clock.now()))
    except (ops.OperatorError, OverrideError) as exc:
        raise BadInput(str(exc)) from None
    return EXIT_OK


def _slack_render(args: argparse.Namespace) -> int:
    from harbormaster.slack import render
    from harbormaster.slack.inputs import notifications

    for notification in notifications(_read_json(args.file)):
        message, _ = render(notification.subject, notification.message, notification.topic_arn)
        print(json.dumps(message.body(), ensure_ascii=False))
    return EXIT_OK


def _slack_redrive(args: argparse.Namespace) -> int:
    from harbormaster.cli import ops

    try:
        moved = ops.redrive_alerts(ops.Stack.find(args.stack))
    except ops.OperatorError as exc:
        raise BadInput(str(exc)) from None
    print(
        json.dumps({"moved": moved}) if args.output == "json" else f"moved {moved} message(s) back to the alert queue"
    )
    return EXIT_OK


def _engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--template", type=Path, default=None, help="default: the project's template.yaml")
    parser.add_argument("--config", type=Path, default=None, help="default: the project's harbormaster.yaml")
    parser.add_argument("--logs", action="store_true", help="echo the functions' logs to stderr")


def _config_validate(args: argparse.Namespace) -> int:
    files = args.files or [config_path() if os.environ.get(CONFIG_ENV) else Path("harbormaster.yaml")]
    failed = False
    for file in files:
        load_config.cache_clear()
        try:
            config = load_config(str(file))
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            failed = True
            continue
        print(
            f"OK: {file} ({len(config.environments)} environments, {len(config.schedules)} schedules, "
            f"{len(config.slack.routes)} Slack routes)"
        )
    return EXIT_FAILED if failed else EXIT_OK


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise BadInput(f"{path} is not JSON: {exc}") from None


def _engine(args: argparse.Namespace, **options: Any) -> Any:
    from harbormaster.local import DEFAULT_CONFIG, DEFAULT_TEMPLATE, LocalEngine

    return LocalEngine(
        template=args.template or DEFAULT_TEMPLATE,
        config=args.config or DEFAULT_CONFIG,
        echo_logs=args.logs,
        seed=True,
        **options,
    )


def _local_invoke(args: argparse.Namespace) -> int:
    event = _read_json(args.event)
    with _engine(args) as engine:
        try:
            invocation = engine.invoke(args.function, event)
        except KeyError as exc:
            raise BadInput(str(exc.args[0])) from None
    print(json.dumps(invocation.error if invocation.failed else invocation.response, indent=2, ensure_ascii=False))
    return EXIT_FAILED if invocation.failed else EXIT_OK


def _local_send_event(args: argparse.Namespace) -> int:
    from harbormaster.local import EventError

    event = _read_json(args.file)
    with _engine(args) as engine:
        try:
            report = engine.send_event(event)
        except EventError as exc:
            raise BadInput(f"{args.file}: {exc}") from None
    print(report.summary())
    return EXIT_OK


def _local_demo(args: argparse.Namespace) -> int:
    from harbormaster.local.demo import demo_start, run_demo

    # A night of schedule runs every 15 minutes (the production default is 5) keeps the demo short.
    with _engine(args, start_time=demo_start(), parameters={"ScheduleRate": "rate(15 minutes)"}) as engine:
        run_demo(engine, out=sys.stdout)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
