"""The local engine: the real template, provisioned in moto, run in this process, offline.

with LocalEngine() as engine:
    report = engine.send_event(json.load(open("events/ecr-push.json")))
    print(report.summary())
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from unittest import mock

import boto3

from harbormaster import clock
from harbormaster.accounts import forget_sessions
from harbormaster.approval.slack_click import RESPONSE_HOST_ENV
from harbormaster.clients import reset_clients
from harbormaster.config import HarbormasterConfig, load_config
from harbormaster.config.models import EcsTarget
from harbormaster.local import (
    cloudwatch_rules,
    ec2_rules,
    organization,
    sfn_rules,
    ssm_rules,
    sts_rules,
    topic_keys,
    virtual_time,
)
from harbormaster.local.clock import ScheduleSpec, VirtualClock, firings
from harbormaster.local.ecr_scans import EcrScans
from harbormaster.local.eventbus import BusReport, EventBus, normalise
from harbormaster.local.fleet import Fleet
from harbormaster.local.pauses import Pause, Pauses
from harbormaster.local.runtime import Invocation, LambdaRuntime, LogCapture, StdoutRouter
from harbormaster.local.slack_sink import SinkRequest, SlackSink
from harbormaster.local.stack import ProvisionedStack, provision
from harbormaster.local.timers import Timers
from harbormaster.slack.bot import API_ENV as SLACK_API_ENV

PROJECT_ROOT = Path(__file__).resolve().parents[4]
ASYNC_ATTEMPTS = 3  # an asynchronous invocation that fails is retried twice (Lambda's default)
DEFAULT_TEMPLATE = PROJECT_ROOT / "template.yaml"
DEFAULT_CONFIG = PROJECT_ROOT / "harbormaster.yaml"
REGION = "ap-northeast-2"
ACCOUNT = "123456789012"

# What `sam local` sets, plus fake credentials so nothing can reach a real account.
_LOCAL_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_SAM_LOCAL": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "Harbormaster",
    "MOTO_ALLOW_NONEXISTENT_REGION": "false",
}


SQS_POLLERS = 5  # Lambda's SQS event source starts with five pollers


class EngineTimeout(TimeoutError):
    """Executions or queues did not settle in time."""


@dataclass
class Execution:
    arn: str
    name: str
    state_machine: str
    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None


@dataclass
class Report:
    """What one stimulus caused, once everything it triggered has finished."""

    bus: BusReport | None = None
    invocations: list[Invocation] = field(default_factory=list)
    executions: list[Execution] = field(default_factory=list)
    slack: list[SinkRequest] = field(default_factory=list)

    def summary(self) -> str:
        lines = []
        if self.bus is not None:
            event = self.bus.event
            lines.append(f"event {event.get('source')} / {event.get('detail-type')}")
            if not self.bus.matched:
                lines.append("  matched no rule: nothing was triggered")
            for delivery in self.bus.deliveries:
                lines.append(f"  rule {delivery.rule} → {delivery.target_arn.rsplit(':', 1)[-1]}: {delivery.result}")
        for invocation in self.invocations:
            outcome = (
                f"error {invocation.error['errorType']}: {invocation.error['errorMessage']}"
                if invocation.error
                else "ok"
            )
            lines.append(f"  λ {invocation.logical_id} ({invocation.duration_ms:.0f} ms): {outcome}")
        for execution in self.executions:
            extra = f" ({execution.error}: {_error_message(execution.cause)})" if execution.error else ""
            lines.append(f"  ⎔ {execution.name}: {execution.status}{extra}")
        for request in self.slack:
            text = request.body.get("text") if isinstance(request.body, dict) else request.body
            lines.append(f"  ✉ slack #{request.webhook} [{request.status} {request.answer}]: {text}")
        return "\n".join(lines)


class LocalEngine:
    """The whole stack in moto, handlers in-process, Slack on 127.0.0.1, time on a virtual clock."""

    def __init__(
        self,
        template: Path = DEFAULT_TEMPLATE,
        config: Path = DEFAULT_CONFIG,
        slack_messages_per_second: float = 1.0,
        echo_logs: bool = False,
        start_time: datetime | None = None,
        seed: bool = False,
        parameters: dict[str, str] | None = None,
    ) -> None:
        self.template = Path(template)
        self.config_path = Path(config).resolve()
        self.slack = SlackSink(messages_per_second=slack_messages_per_second)
        self.logs = LogCapture(echo=echo_logs)
        self.clock = VirtualClock(start_time)
        self.timers = Timers(self.clock)  # what falls due while every execution waits (local/timers.py)
        self.seed = seed
        self.slack_signing_secret = secrets.token_hex(16)  # the Slack app's, as the engine's Slack knows it
        self.parameters = parameters or {}  # template parameter overrides, e.g. {"ScheduleRate": "rate(1 hour)"}
        self._saved_env: dict[str, str] | None = None
        self._patches: list[Any] = []
        self._real_stdout: Any = sys.stdout
        self._schedules_fired_until: datetime  # set by start()
        self._provisioned_at: datetime  # set by start()
        self.scans = EcrScans()  # scan-on-push: IN_PROGRESS for a while after the push event
        self.pauses = Pauses()  # named points where a test holds a Lambda's AWS call (local/pauses.py)
        self._queued_invocations: list[tuple[str, Any]] = []  # `InvocationType=Event`, run by settle()
        self._queued_lock = threading.Lock()
        self.stack: ProvisionedStack
        self.runtime: LambdaRuntime
        self.bus: EventBus
        self.fleet: Fleet

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> LocalEngine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        from moto import mock_aws

        self._saved_env = dict(os.environ)
        self._clients: dict[str, Any] = {}
        os.environ.update(_LOCAL_ENV)
        config = load_config(str(self.config_path))  # a broken config fails before anything starts
        mocker = mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}})
        mocker.start()
        self._patches.append(mocker)
        self._patches.extend(virtual_time.install(self.clock, self.timers))
        rules = [
            *ssm_rules.patches(),
            *cloudwatch_rules.patches(),
            *sfn_rules.patches(),
            *ec2_rules.patches(),
            *sts_rules.patches(),
            *self.scans.patches(),
        ]
        for patcher in rules:  # where AWS refuses, or behaves unlike, what moto does
            patcher.start()
            self._patches.append(patcher)
        self._schedules_fired_until = self.clock.now
        self.pauses.install()  # before any client exists: every client the Lambdas create carries it
        _forget_warm_state()
        try:
            self._provisioned_at = self.clock.now
            if self.parameters.get("OrganizationId"):  # the organization exists before its hub stack
                organization.create(ACCOUNT, REGION, self.parameters["OrganizationId"])
            self.stack = provision(self.template, REGION, self.parameters)
            self.runtime = LambdaRuntime(
                self.stack, dict(_LOCAL_ENV), {"HARBORMASTER_CONFIG": str(self.config_path)}, self.logs
            )
            self.pauses.while_held = self.runtime.yielding  # a held Lambda lets the others run
            self.runtime.held = self.pauses.holding
            self._route_moto_lambda_invocations()
            self._real_stdout = sys.stdout
            sys.stdout = StdoutRouter(sys.stdout, self.logs, self.runtime.invoking)
            self._capture_powertools_logs()
            self.bus = EventBus(self.runtime, REGION)
            self.fleet = Fleet(REGION).install()
            self.fleet.use_timers(self.timers)
            self._patches.append(self.fleet)
            self.slack.start()
            self._seed_slack_webhooks(config.slack.routes)
            if config.slack.signing_secret:
                boto3.client("secretsmanager", region_name=REGION).create_secret(
                    Name=config.slack.signing_secret, SecretString=self.slack_signing_secret
                )
            if config.slack.bot_token_secret:
                boto3.client("secretsmanager", region_name=REGION).create_secret(
                    Name=config.slack.bot_token_secret, SecretString=self.slack.bot_token
                )
            # response_url updates may go to the sink (in AWS only to hooks.slack.com); so does the Web API.
            os.environ[RESPONSE_HOST_ENV] = self.slack.base_url.split("://", 1)[1]
            os.environ[SLACK_API_ENV] = self.slack.api_url
            if self.seed:
                self._seed_fleets(config)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self.pauses.uninstall()  # lets every held call go
        if hasattr(self, "stack"):
            self._wait_for_executions()
        if self.slack._thread.is_alive():
            self.slack.stop()
        if isinstance(sys.stdout, StdoutRouter):
            sys.stdout = self._real_stdout
        for patcher in reversed(self._patches):
            if isinstance(patcher, Fleet):
                patcher.uninstall()
            else:
                patcher.stop()
        self._patches.clear()
        _forget_warm_state()
        if self._saved_env is not None:
            os.environ.clear()
            os.environ.update(self._saved_env)
            self._saved_env = None

    # ------------------------------------------------------------------ stimuli
    def send_event(self, event: Any, wait: bool = True, account: str = ACCOUNT) -> Report:
        """Put an event on the default bus of `account` (the hub's unless named; another's reaches
        the hub only through a forwarding rule there) and follow everything it triggers to
        completion (`wait=False`: return once the targets were invoked, executions still running)."""
        full = normalise(event, account, REGION)
        with self._recording() as report:
            self._materialise(full)
            report.bus = self.bus.put(full)
            if wait:
                self.settle()
        return report

    def publish_alert(self, message: Any, subject: str | None = None) -> Report:
        """Publish on the stack's alert topic (as CloudWatch or any service would) and follow it to Slack."""
        with self._recording() as report:
            sns: Any = boto3.client("sns", region_name=REGION)
            sns.publish(
                TopicArn=self.stack.outputs["AlertTopicArn"],
                Message=message if isinstance(message, str) else json.dumps(message),
                **({"Subject": subject} if subject else {}),
            )
            self.settle()
        return report

    def fire_alarm(self, name: str, reason: str, state: str = "ALARM", account: str = ACCOUNT) -> Report:
        """What CloudWatch does when an alarm changes state (the engine evaluates no metrics): the
        state in moto, the alarm's JSON to each SNS action, and the `CloudWatch Alarm State Change`
        event on the bus of the alarm's account. Followed to completion."""
        session = organization.session_in(account, REGION)
        cloudwatch: Any = session.client("cloudwatch")
        [alarm] = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
        previous = alarm["StateValue"]
        cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)
        now = clock.now()
        message = {
            "AlarmName": name,
            "AlarmDescription": alarm.get("AlarmDescription"),
            "AWSAccountId": account,
            "NewStateValue": state,
            "NewStateReason": reason,
            "StateChangeTime": now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000",
            "Region": REGION,
            "AlarmArn": alarm["AlarmArn"],
            "OldStateValue": previous,
            "Trigger": {
                k: alarm[k]
                for k in (
                    "MetricName",
                    "Namespace",
                    "Statistic",
                    "Period",
                    "EvaluationPeriods",
                    "ComparisonOperator",
                    "Threshold",
                )
                if k in alarm
            },
        }
        actions = alarm.get("AlarmActions", []) if state == "ALARM" else alarm.get("OKActions", [])
        with self._recording() as report:
            for topic in (a for a in actions if a.startswith("arn:aws:sns:")):
                if account != ACCOUNT:
                    self.logs.write(f"the engine runs no alarm actions in account {account} ({name})\n")
                    continue
                if problem := topic_keys.publish_problem(topic, "cloudwatch.amazonaws.com", REGION):
                    self.logs.write(f"CloudWatch could not run the alarm action of {name}: {problem}\n")
                    continue
                subject = f'{state}: "{name}" in {REGION}'[:100]
                boto3.client("sns", region_name=REGION).publish(
                    TopicArn=topic, Subject=subject, Message=json.dumps(message)
                )
            event = {
                "source": "aws.cloudwatch",
                "detail-type": "CloudWatch Alarm State Change",
                "resources": [alarm["AlarmArn"]],
                "detail": {
                    "alarmName": name,
                    "state": {"value": state, "reason": reason, "timestamp": message["StateChangeTime"]},
                    "previousState": {"value": previous},
                },
            }
            report.bus = self.bus.put(normalise(event, account, REGION))
            self.settle()
        return report

    def click(
        self,
        action_id: str,
        value: dict[str, Any] | str,
        user: str,
        message: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        body: str | None = None,
        wait: bool = False,
    ) -> tuple[int, str, Report]:
        """A user clicks a button in Slack: a correctly signed request to SlackActionsFunction (or
        the given headers/body, to test forgeries). The endpoint's answer is Slack's to see; the
        click it queued is then delivered, and with `wait` everything it started is followed to
        completion. Returns (HTTP status, what the user was told, report): the text is the
        endpoint's refusal, else what the worker posted to the click's response_url."""
        from harbormaster.local import slack_clicks

        response_url = self.slack.webhook_url("response-url")
        payload = slack_clicks.block_actions(action_id, value, user, response_url, message)
        raw = body if body is not None else slack_clicks.form_body(payload)
        signed = headers if headers is not None else slack_clicks.signed_headers(self.slack_signing_secret, raw)
        with self._recording() as report:
            invocation = self.runtime.invoke("SlackActionsFunction", slack_clicks.http_api_event(signed, raw))
            self.settle() if wait else self.deliver_queued()
        response = invocation.response or {}
        status = int(response.get("statusCode", 500))
        refused = json.loads(response.get("body") or "{}").get("text", "") if status != 200 else ""
        told = [_told(r.body) for r in report.slack if r.webhook == "response-url" and isinstance(r.body, dict)]
        return status, refused or (told[-1] if told else ""), report

    def slash(self, text: str, user: str, wait: bool = True) -> tuple[int, str, str, Report, float]:
        """A user types `/harbormaster <text>`: a signed slash-command request to SlackActionsFunction,
        then (with `wait`) everything it queued and started, to completion. Returns (HTTP status,
        the immediate answer, what the worker posted to response_url, report, ms the endpoint took)."""
        from harbormaster.local import slack_clicks

        raw = slack_clicks.slash_command_body(text, user, self.slack.webhook_url("response-url"))
        signed = slack_clicks.signed_headers(self.slack_signing_secret, raw)
        with self._recording() as report:
            invocation = self.runtime.invoke(
                "SlackActionsFunction", slack_clicks.http_api_event(signed, raw, path="/slack/commands")
            )
            self.settle() if wait else self.deliver_queued()
        response = invocation.response or {}
        immediate = json.loads(response.get("body") or "{}").get("text", "")
        told = [
            str(r.body.get("text", ""))
            for r in report.slack
            if r.webhook == "response-url" and isinstance(r.body, dict)
        ]
        return int(response.get("statusCode", 500)), immediate, told[-1] if told else "", report, invocation.duration_ms

    def pause(
        self, service: str, operation: str, when: Callable[[dict[str, Any]], bool] = lambda _: True, after: bool = False
    ) -> Pause:
        """Hold the next AWS call a Lambda makes that matches (`service` as boto3 names it, the
        API's operation name, its parameters), before it is sent or, with `after`, once answered;
        `resume()` lets it go. Races become deterministic tests (see local/pauses.py)."""
        return self.pauses.arm(Pause(service, operation, when, after))

    def account(self, account: str) -> boto3.session.Session:
        """A session in another account of the engine's world, as its administrators hold one (to
        set that account up: its instances, its spoke stack). Harbormaster itself reaches it only
        through the spoke role."""
        return organization.session_in(account, REGION)

    def deploy_spoke(self, account: str, external_id: str, organization_id: str | None = None) -> str:
        """spoke.yaml in `account` (see local/organization.py); the spoke role's ARN."""
        return organization.deploy_spoke(ACCOUNT, account, REGION, external_id, organization_id)

    def invoke(self, function: str, event: Any) -> Invocation:
        """Invoke one function directly (like `sam local invoke`); nothing else is followed."""
        return self.runtime.invoke(function, event)

    def push_image(
        self,
        repository: str,
        tag: str,
        content: str | None = None,
        wait: bool = True,
        digest: str | None = None,
        account: str = ACCOUNT,
    ) -> tuple[str, Report]:
        """Push an image (a manifest in moto's ECR, in `account`) and deliver the `ECR Image Action`
        event to that account's bus. The digest is `digest` when given (e.g. the same image again),
        else one made from `content`."""
        digest = (
            digest
            or "sha256:" + hashlib.sha256((content or f"{repository}:{tag}:{time.time_ns()}").encode()).hexdigest()
        )
        event = {
            "source": "aws.ecr",
            "detail-type": "ECR Image Action",
            "detail": {
                "result": "SUCCESS",
                "repository-name": repository,
                "image-digest": digest,
                "action-type": "PUSH",
                "image-tag": tag,
            },
        }
        return digest, self.send_event(event, wait=wait, account=account)

    def advance(self, delta: timedelta) -> Report:
        """Move the virtual clock, firing every EventBridge Scheduler schedule that falls due."""
        scheduler = boto3.client("scheduler", region_name=REGION)
        _, after = self.clock.advance(delta)
        # Wait states move the clock too: fire what fell due since the last look, not since `advance`.
        before, self._schedules_fired_until = self._schedules_fired_until, after
        due: list[tuple[datetime, ScheduleSpec]] = []
        for summary in scheduler.list_schedules()["Schedules"]:
            detail = scheduler.get_schedule(Name=summary["Name"], GroupName=summary.get("GroupName", "default"))
            if detail.get("State", "ENABLED") != "ENABLED":
                continue
            spec = ScheduleSpec(
                name=detail["Name"],
                expression=detail["ScheduleExpression"],
                timezone=detail.get("ScheduleExpressionTimezone", "UTC"),
                target_arn=detail["Target"]["Arn"],
                input=detail["Target"].get("Input"),
                # moto stamps CreationDate with the wall clock; rates count from creation on the engine's clock.
                start=detail.get("StartDate") or self._provisioned_at,
            )
            due.extend((moment, spec) for moment in firings(spec, before, after))
        with self._recording() as report:
            for moment, spec in sorted(due, key=lambda item: item[0]):
                payload = json.loads(spec.input) if spec.input else {}
                payload = _scheduler_context(payload, spec, moment)
                self.runtime.invoke(spec.target_arn, payload)
                self.settle()
        return report

    # ------------------------------------------------------------------ settling
    def _aws(self, service: str) -> Any:
        """The engine's own clients, made once: settle() looks at queues and executions every 10 ms,
        and a new botocore client costs tens of milliseconds."""
        made = self._clients.get(service)
        if made is None:
            made = self._clients[service] = boto3.client(service, region_name=REGION)  # type: ignore[call-overload]
        return made

    def settle(self, timeout: float = 120.0) -> None:
        """Run until no execution is running and no mapped queue has a visible message. When
        every running execution is parked on a task token, time passes: the clock moves to the
        next timer (a deployment ending, a task's timeout) and fires it."""
        deadline = time.monotonic() + timeout
        while True:
            # Executions first: if none was running and then no queue held a message, nothing
            # can still produce one (handlers run synchronously inside the pump).
            running = self._running_execution_arns()
            moved = self.deliver_announced() | self._pump_queues() | self._run_queued_invocations()
            if not moved and not self.runtime.busy():
                if not running:
                    return
                if self.timers.all_parked(running) and self.timers.fire_next():
                    continue
            if time.monotonic() > deadline:
                raise EngineTimeout(f"still running after {timeout:.0f}s: {[a.rsplit(':', 1)[-1] for a in running]}")
            if not moved:
                time.sleep(0.01)

    def deliver_announced(self) -> bool:
        """Put the events the simulated services (Run Command, ECS) announced on the bus; False if none."""
        events = self.fleet.take_events()
        for event in events:
            self.bus.put(normalise(event, event.get("account", ACCOUNT), REGION))  # ECS: the service's account
        return bool(events)

    def deliver_queued(self) -> None:
        """Run the SQS event source mappings until their queues are empty, without waiting for
        executions (e.g. one paused at an approval gate)."""
        while self._pump_queues():
            pass

    def _wait_for_executions(self, timeout: float = 60.0) -> None:
        """Executions run in moto's worker threads: let them end before the mock goes away. One
        parked on a task token (an approval gate) would wait for hours: it is stopped."""
        sfn = self._aws("stepfunctions")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            running = [*self._running_execution_arns(), *sfn_rules.lingering()]
            if not running:
                return
            for arn in running:
                if token := _parked_task_token(sfn, arn):  # moto's StopExecution leaves these RUNNING
                    sfn.send_task_failure(taskToken=token, error="EngineStopped", cause="the local engine stopped")
            time.sleep(0.01)

    def executions(self) -> list[Execution]:
        sfn = self._aws("stepfunctions")
        found = []
        for arn in self.stack.state_machines.values():
            for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn):
                for item in page["executions"]:
                    found.append(self._execution(item["executionArn"]))
        return found

    def _execution(self, arn: str) -> Execution:
        described = self._aws("stepfunctions").describe_execution(executionArn=arn)
        output = described.get("output")
        return Execution(
            arn=arn,
            name=described.get("name") or arn.rsplit(":", 1)[-1],
            state_machine=described["stateMachineArn"],
            status=described["status"],
            output=json.loads(output) if output else None,
            error=described.get("error"),
            cause=described.get("cause"),
        )

    def _running_execution_arns(self) -> list[str]:
        sfn = self._aws("stepfunctions")
        running: list[str] = []
        for arn in self.stack.state_machines.values():
            for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn, statusFilter="RUNNING"):
                running.extend(item["executionArn"] for item in page["executions"])
        return running

    def _run_queued_invocations(self) -> bool:
        """Run the asynchronous invocations queued so far; like Lambda, one that fails is tried
        twice more."""
        with self._queued_lock:
            queued, self._queued_invocations = self._queued_invocations, []
        for function_name, event in queued:
            for _ in range(ASYNC_ATTEMPTS):
                if not self.runtime.invoke(function_name, event).error:
                    break
        return bool(queued)

    def _pump_queues(self) -> bool:
        """One round of every SQS event source mapping, as Lambda's pollers do it: several pollers
        receive batches at once (5 to start with), and up to `ScalingConfig.MaximumConcurrency` of
        them run concurrently. With reserved concurrency instead, the batches the function cannot
        take are throttled: back to the queue, their receive counted toward `maxReceiveCount`."""
        lambda_client: Any = self._aws("lambda")
        moved = False
        for mapping in lambda_client.list_event_source_mappings()["EventSourceMappings"]:
            source = mapping["EventSourceArn"]
            if not source.startswith("arn:aws:sqs:") or mapping.get("State") != "Enabled":
                continue
            maximum = (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency")
            reserved = lambda_client.get_function_concurrency(FunctionName=mapping["FunctionArn"]).get(
                "ReservedConcurrentExecutions"
            )
            runnable = maximum or reserved or SQS_POLLERS
            batches = self._receive_batches(mapping, maximum or SQS_POLLERS)
            if not batches:
                continue
            moved = True
            for _, _, throttled in batches[runnable:]:
                self._release(throttled)
            with ThreadPoolExecutor(max_workers=runnable) as pool:
                list(pool.map(partial(self._run_batch, mapping), *zip(*batches[:runnable], strict=True)))
        return moved

    def _receive_batches(self, mapping: dict[str, Any], pollers: int) -> list[tuple[str, str, list[dict[str, Any]]]]:
        sqs: Any = self._aws("sqs")
        source = mapping["EventSourceArn"]
        queue_url = sqs.get_queue_url(QueueName=source.rsplit(":", 1)[-1])["QueueUrl"]
        batches = []
        for _ in range(pollers):
            messages = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=min(10, mapping.get("BatchSize", 10)),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                break
            batches.append((queue_url, source, [{**m, "QueueUrl": queue_url} for m in messages]))
        return batches

    def _run_batch(self, mapping: dict[str, Any], queue_url: str, source: str, messages: list[dict[str, Any]]) -> None:
        sqs: Any = self._aws("sqs")
        event = {"Records": [_sqs_record(message, source) for message in messages]}
        invocation = self.runtime.invoke(mapping["FunctionArn"], event)
        failed_ids = _failed_message_ids(invocation, mapping, messages)
        self._release([m for m in messages if m["MessageId"] in failed_ids])
        for message in messages:
            if message["MessageId"] not in failed_ids:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _release(self, messages: list[dict[str, Any]]) -> None:
        """Visible again at once: the virtual stand-in for the visibility timeout."""
        sqs: Any = self._aws("sqs")
        for message in messages:
            sqs.change_message_visibility(
                QueueUrl=message["QueueUrl"], ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )

    # ------------------------------------------------------------------ wiring
    def _route_moto_lambda_invocations(self) -> None:
        """Step Functions (moto's interpreter) and functions invoke Lambda through moto: run the real
        handler (an asynchronous invocation later, from settle())."""
        from moto.awslambda_simple.models import LambdaSimpleBackend

        engine = self

        def invoke(
            backend: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: dict[str, str]
        ) -> bytes:
            event = json.loads(body) if body else {}
            if headers.get("X-Amz-Invocation-Type") == "Event":  # Lambda queues it and answers 202 at once
                with engine._queued_lock:
                    engine._queued_invocations.append((function_name, event))
                return b""
            invocation = engine.runtime.invoke(function_name, event)
            if invocation.error:
                response_headers["x-amz-function-error"] = "Unhandled"
                return json.dumps(invocation.error).encode()
            return json.dumps(invocation.response).encode()

        patcher = mock.patch.object(LambdaSimpleBackend, "invoke", invoke)
        patcher.start()
        self._patches.append(patcher)

    def _capture_powertools_logs(self) -> None:
        """Powertools' Logger is built on first import, under a function's environment as in
        Lambda; its output goes to the engine's log capture (stdout stays for responses)."""
        first = next(iter(self.stack.functions.values()))
        with self.runtime.environment(first):
            from harbormaster.observability import logger
        # In this process the Logger may predate the engine (tests, the CLI): give it the
        # template's service name, as the Lambda environment would have.
        logger.append_keys(service=first.environment.get("POWERTOOLS_SERVICE_NAME", "harbormaster"))
        handler = logger.registered_handler
        if hasattr(handler, "setStream"):
            handler.setStream(self.logs)
        # moto's ASL interpreter logs every failed state at ERROR; the report says what failed.
        logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)

    def _seed_slack_webhooks(self, routes: dict[str, Any]) -> None:
        secrets = boto3.client("secretsmanager", region_name=REGION)
        for name, route in routes.items():
            if route.webhook_secret is not None:  # a bot-mode route posts to its channel with the bot token
                secrets.create_secret(Name=route.webhook_secret, SecretString=self.slack.webhook_url(name))

    def _seed_fleets(self, config: HarbormasterConfig, per_environment: int = 2) -> None:
        """A world for the configuration: each EC2 environment gets its target group and
        `per_environment` tagged instances running a bootstrap image (a Compose project without a
        load balancer: one host, as the seeds run it); each ECS environment its tagged service with
        `per_environment` tasks."""
        for name, environment in config.environments.items():
            target = environment.target
            if isinstance(target, EcsTarget):
                bootstrap = f"{environment.repository}:bootstrap"
                self.fleet.ecs.service(
                    target.cluster, target.service, bootstrap, target.container, per_environment, environment=name
                )
                continue
            group = None
            if target.target_group_name:
                group = self.fleet.target_group(
                    target.target_group_name,
                    port=environment.container.published_port,
                    health_path=environment.container.health_path,
                    environment=name,
                )
            elif target.instances is None:
                continue  # instances of an Auto Scaling group only: the world has none
            tags = {"harbormaster:environment": name, **(target.instances.tag if target.instances else {})}
            bootstrap = f"{environment.repository}:bootstrap"
            compose = environment.container.compose
            count = 1 if compose is not None and group is None else per_environment
            launched = self.fleet.launch(count, bootstrap, tags=tags, target_group=group)
            if compose is not None:
                self.fleet.compose(launched, compose.project_dir, compose.file, {compose.service: bootstrap})

    def _materialise(self, event: dict[str, Any]) -> None:
        """An `ECR Image Action` PUSH means the image is in ECR: make it so in moto."""
        detail = event.get("detail", {})
        if event.get("source") != "aws.ecr" or detail.get("action-type") != "PUSH":
            return
        if detail.get("result") != "SUCCESS" or not detail.get("repository-name"):
            return
        ecr = organization.session_in(event["account"], REGION).client("ecr")
        repository = detail["repository-name"]
        with suppress(ecr.exceptions.RepositoryAlreadyExistsException):
            ecr.create_repository(repositoryName=repository, imageScanningConfiguration={"scanOnPush": True})
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"digest": detail.get("image-digest")},
                "layers": [],
            }
        )
        self.scans.pushed(str(detail.get("image-digest")))
        tag = {"imageTag": detail["image-tag"]} if detail.get("image-tag") else {}
        with suppress(ecr.exceptions.ImageAlreadyExistsException):
            ecr.put_image(
                repositoryName=repository, imageManifest=manifest, imageDigest=detail.get("image-digest"), **tag
            )

    @contextmanager
    def _recording(self) -> Iterator[Report]:
        report = Report()
        first_invocation = len(self.runtime.invocations)
        first_request = len(self.slack.requests)
        known = {execution.arn for execution in self.executions()}
        yield report
        report.invocations = self.runtime.invocations[first_invocation:]
        report.executions = [e for e in self.executions() if e.arn not in known]
        report.slack = self.slack.requests[first_request:]


def _forget_warm_state() -> None:
    """What a Lambda container keeps between invocations must not leak between engines:
    cached clients, the parsed configuration, Powertools' parameter cache and providers."""
    from aws_lambda_powertools.utilities.parameters import base

    reset_clients()
    forget_sessions()
    load_config.cache_clear()
    base.clear_caches()  # type: ignore[no-untyped-call]
    base.DEFAULT_PROVIDERS.clear()  # type: ignore[attr-defined]


def _told(body: dict[str, Any]) -> str:
    """What a response_url update tells: an ephemeral answer's text, or the who-did-what line
    stamped on the replaced message (its last context block)."""
    if body.get("response_type") == "ephemeral" or not body.get("replace_original"):
        return str(body.get("text", ""))
    blocks = [*body.get("blocks", []), *(b for a in body.get("attachments", []) for b in a.get("blocks", []))]
    stamps = [b["elements"][0]["text"] for b in blocks if b.get("type") == "context" and b.get("elements")]
    return str(stamps[-1]) if stamps else str(body.get("text", ""))


def _error_message(cause: str | None) -> str:
    """The errorMessage of a Lambda error cause, else the cause itself."""
    try:
        return str(json.loads(cause or "").get("errorMessage", cause))
    except (ValueError, AttributeError):
        return cause or ""


def _sqs_record(message: dict[str, Any], source_arn: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {
            key: {"stringValue": value.get("StringValue"), "dataType": value["DataType"]}
            for key, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": source_arn,
        "awsRegion": REGION,
    }


def _failed_message_ids(invocation: Invocation, mapping: dict[str, Any], messages: list[dict[str, Any]]) -> set[str]:
    if invocation.failed:
        return {message["MessageId"] for message in messages}
    if "ReportBatchItemFailures" in mapping.get("FunctionResponseTypes", []) and isinstance(invocation.response, dict):
        return {item["itemIdentifier"] for item in invocation.response.get("batchItemFailures", [])}
    return set()


def _parked_task_token(sfn: Any, execution_arn: str) -> str | None:
    """The task token an execution waits on (its last event a waitForTaskToken submit), if any."""
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
    events = [event for page in pages for event in page["events"]]
    if not events or events[-1].get("type") != "TaskSubmitted":
        return None
    scheduled: dict[str, Any] = next((e for e in reversed(events) if e.get("type") == "TaskScheduled"), {})
    details = scheduled.get("taskScheduledEventDetails") or {}
    if not str(details.get("resource", "")).endswith("waitForTaskToken"):
        return None
    found = re.search(r'"task_token":\s*"([^"]+)"', str(details.get("parameters", "")))
    return found.group(1) if found else None


def _scheduler_context(payload: Any, spec: ScheduleSpec, moment: datetime) -> Any:
    """EventBridge Scheduler's context attributes, substituted into the input as AWS does."""
    text = json.dumps(payload)
    text = text.replace("<aws.scheduler.scheduled-time>", moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    text = text.replace(
        "<aws.scheduler.schedule-arn>", f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/{spec.name}"
    )
    return json.loads(text)
