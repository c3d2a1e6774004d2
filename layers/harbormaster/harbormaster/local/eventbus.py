"""EventBridge on the local engine: moto's rules and matcher decide, the engine delivers.

moto's `put_events` only delivers to SQS, logs and other buses, so matching uses moto's own
`EventPattern` on the rules moto created from the template, and delivery to Lambda, Step
Functions, SNS and SQS targets happens here, after Input/InputPath/InputTransformer.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import boto3
from jsonpath_ng import parse as jsonpath

from harbormaster import clock
from harbormaster.local import topic_keys
from harbormaster.local.runtime import Invocation, LambdaRuntime

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
    """Fill what PutEvents would (id, time, account, region, resources); refuse non-events."""
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
    return full


class EventBus:
    def __init__(self, runtime: LambdaRuntime, region: str) -> None:
        self.runtime = runtime
        self.region = region

    def put(self, event: dict[str, Any]) -> BusReport:
        from moto.events.models import events_backends

        report = BusReport(event)
        backend = events_backends[event["account"]][self.region]
        for rule in list(backend.event_buses["default"].rules.values()):
            if rule.state != "ENABLED" or not rule.event_pattern:
                continue
            if not rule.event_pattern.matches_event(event):
                continue
            for target in rule.targets:
                payload = _target_input(target, event)
                report.deliveries.append(self._deliver(rule.name, target, payload))
        return report

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
