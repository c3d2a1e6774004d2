"""EventBridge on the local engine: moto's rules and matcher decide, the engine delivers.

moto's `put_events` only delivers to SQS, logs and other buses, so matching uses moto's own
`EventPattern` on the rules moto created from the template, and delivery to Lambda, Step
Functions, SNS and SQS targets happens here, after Input/InputPath/InputTransformer.

An event is put on the bus of its own account (a spoke's ECS deployment on the spoke's bus). A
rule there whose target is another account's bus forwards it as EventBridge does, and only then:
the receiving bus's resource policy must let the sender put events (its account, or its
organization with `aws:PrincipalOrgID`); with the permission the organization's, the rule needs a
role (`RoleArn`) in its own account that EventBridge may assume and that may `events:PutEvents`
on that bus; and an event received from another account is not forwarded again.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

import boto3
from jsonpath_ng import parse as jsonpath

from harbormaster import clock
from harbormaster.local import topic_keys
from harbormaster.local.policies import listed, names_account, principals, statements
from harbormaster.local.runtime import Invocation, LambdaRuntime

_PUT_EVENTS = {"events:PutEvents", "events:*"}  # actions that let a principal put events on a bus
ASYNC_ATTEMPTS = 3  # Lambda's asynchronous invocation: the first try and two retries.


class EventError(ValueError):
    """The input is not an EventBridge event."""


@dataclass
class Delivery:
    rule: str
    target_id: str
    target_arn: str
    payload: Any
    result: str
    invocation: Invocation | None = None


@dataclass
class BusReport:
    event: dict[str, Any]
    deliveries: list[Delivery] = field(default_factory=list)

    @property
    def matched(self) -> bool:
        return bool(self.deliveries)


def normalise(event: Any, account: str, region: str) -> dict[str, Any]:
    """Fill what PutEvents would (id, time, resources); refuse non-events. The event is emitted on
    `account`'s bus in `region`, so it carries them, as every AWS event does, whatever a sample
    said (a sample from us-west-2 sent to the engine arrives as one of the engine's region)."""
    if not isinstance(event, dict):
        raise EventError("an EventBridge event is a JSON object")
    missing = [key for key in ("source", "detail-type", "detail") if key not in event]
    if missing:
        raise EventError(f"not an EventBridge event: missing {', '.join(missing)}")
    if not isinstance(event["detail"], dict):
        raise EventError("not an EventBridge event: detail must be an object")
    full = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "time": clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "account": account,
        "region": region,
        "resources": [],
    }
    full.update(event)
    full.update(account=account, region=region)
    return full


class EventBus:
    def __init__(self, runtime: LambdaRuntime, region: str) -> None:
        self.runtime = runtime
        self.region = region

    def put(self, event: dict[str, Any], bus_account: str | None = None) -> BusReport:
        """Match `event` against the rules of `bus_account`'s default bus (the event's own account
        unless it was forwarded) and deliver it to their targets."""
        from moto.events.models import events_backends

        report = BusReport(event)
        account = bus_account or event["account"]
        backend = events_backends[account][self.region]
        for rule in list(backend.event_buses["default"].rules.values()):
            if rule.state != "ENABLED" or not rule.event_pattern:
                continue
            if not rule.event_pattern.matches_event(event):
                continue
            for target in rule.targets:
                if target["Arn"].split(":")[2] == "events":
                    report.deliveries.extend(self._forward(rule.name, target, event, account))
                    continue
                payload = _target_input(target, event)
                report.deliveries.append(self._deliver(rule.name, target, payload))
        return report

    def _forward(self, rule: str, target: dict[str, Any], event: dict[str, Any], sender: str) -> list[Delivery]:
        """A rule's event bus target: the other bus's deliveries, or why EventBridge would not deliver."""
        arn: str = target["Arn"]
        _, partition, _, region, receiver, resource = arn.split(":", 5)
        refused = Delivery(rule, target["Id"], arn, event, "")
        if sender != event["account"]:
            refused.result = "not delivered: an event received from another account is not forwarded again"
        elif region != self.region:
            refused.result = f"not delivered: the local engine runs one region ({self.region}), not {region}"
        elif receiver == sender:
            refused.result = "not delivered: the local engine has no custom event buses"
        elif problem := _cross_account_problem(
            target, f"arn:{partition}:events:{region}:{receiver}:{resource}", sender
        ):
            refused.result = f"failed: {problem}"
        else:
            forwarded = self.put(event, bus_account=receiver)
            delivered = Delivery(rule, target["Id"], arn, event, f"forwarded to {receiver}")
            return [delivered, *forwarded.deliveries]
        return [refused]

    def _deliver(self, rule: str, target: dict[str, Any], payload: Any) -> Delivery:
        arn: str = target["Arn"]
        service = arn.split(":")[2]
        delivery = Delivery(rule, target["Id"], arn, payload, "delivered")
        if service == "lambda":
            for _ in range(ASYNC_ATTEMPTS):
                delivery.invocation = self.runtime.invoke(arn, payload)
                if not delivery.invocation.failed:
                    break
            if delivery.invocation and delivery.invocation.failed:
                delivery.result = f"failed: {delivery.invocation.error}"
        elif service == "states":
            execution = boto3.client("stepfunctions", region_name=self.region).start_execution(
                stateMachineArn=arn, input=json.dumps(payload)
            )
            delivery.result = f"started {execution['executionArn']}"
        elif service == "sqs":
            queue_url = boto3.client("sqs", region_name=self.region).get_queue_url(QueueName=arn.rsplit(":", 1)[-1])[
                "QueueUrl"
            ]
            boto3.client("sqs", region_name=self.region).send_message(
                QueueUrl=queue_url, MessageBody=json.dumps(payload)
            )
        elif service == "sns":
            if problem := topic_keys.publish_problem(arn, "events.amazonaws.com", self.region):
                delivery.result = f"failed: {problem}"
            else:
                boto3.client("sns", region_name=self.region).publish(TopicArn=arn, Message=json.dumps(payload))
        else:
            delivery.result = f"not delivered: the local engine has no {service} targets"
        return delivery


def _cross_account_problem(target: dict[str, Any], bus_arn: str, sender: str) -> str | None:
    """Why EventBridge would not put a `sender` event on the bus `bus_arn` (another account's), or None."""
    from moto.events.models import events_backends

    _, _, _, region, receiver, resource = bus_arn.split(":", 5)
    name = resource.split("/", 1)[-1]
    buses = events_backends[receiver][region].event_buses
    policy = buses[name].policy if name in buses and buses[name].policy else {}
    grant = next((found for statement in statements(policy) if (found := _grant(statement, sender))), None)
    if grant is None:
        return f"the policy of {bus_arn} does not let account {sender} put events"
    role = target.get("RoleArn")
    if grant == "organization" and not role:
        return "a rule sending to another account's bus on its organization's permission needs a role (RoleArn)"
    if role and (problem := _role_problem(role, sender, bus_arn)):
        return problem
    return None


def _grant(statement: dict[str, Any], sender: str) -> str | None:
    """What a bus policy statement grants `sender`: "account" (it names the sender), "organization"
    (the sender's), or None."""
    from harbormaster.local.sts_rules import org_of

    if statement.get("Effect") != "Allow" or not _PUT_EVENTS & set(listed(statement, "Action")):
        return None
    conditions = statement.get("Condition") or {}
    if names_account(statement, sender) and not conditions:
        return "account"
    wanted = (conditions.get("StringEquals") or {}).get("aws:PrincipalOrgID")
    organization = org_of(sender)
    if "*" in principals(statement) and list(conditions) == ["StringEquals"] and organization == wanted:
        return "organization" if organization else None
    return None  # fail closed: a condition the engine cannot judge


def _role_problem(role_arn: str, sender: str, bus_arn: str) -> str | None:
    """Why EventBridge could not use the rule's role to put on `bus_arn`, or None."""
    from moto.iam.models import iam_backends

    name = role_arn.rsplit("/", 1)[-1]
    role = next((r for r in iam_backends[sender]["global"].roles.values() if r.name == name), None)
    if role is None or role_arn.split(":")[4] != sender:
        return f"the rule's role {role_arn} does not exist in account {sender}"
    if not any(
        s.get("Effect") == "Allow" and "events.amazonaws.com" in principals(s, "Service")
        for s in statements(role.assume_role_policy_document)
    ):
        return f"EventBridge (events.amazonaws.com) may not assume {role_arn}"
    for document in role.policies.values():
        for statement in statements(document):
            if (
                statement.get("Effect") == "Allow"
                and _PUT_EVENTS & set(listed(statement, "Action"))
                and any(fnmatchcase(bus_arn, r) for r in listed(statement, "Resource"))
            ):
                return None
    return f"the rule's role {role_arn} may not events:PutEvents on {bus_arn}"


def _target_input(target: dict[str, Any], event: dict[str, Any]) -> Any:
    """What the target receives: the event, Input, InputPath or InputTransformer (moto's parser)."""
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        matches = jsonpath(target["InputPath"]).find(event)
        return matches[0].value if matches else None
    if "InputTransformer" in target:
        from moto.events.models import EventTemplateParser

        transformer = target["InputTransformer"]
        return EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event={**event, "ingestion-time": time.time()},  # what moto's PutEvents would have added
        )
    return event
