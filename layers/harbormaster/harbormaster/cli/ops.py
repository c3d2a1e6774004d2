"""Operator commands against a deployed stack (AWS, or moto inside the local engine)."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from typing import Any

from harbormaster.clients import client
from harbormaster.config import HarbormasterConfig
from harbormaster.deploy.exceptions import ImageNotFound, UnknownEnvironment
from harbormaster.deploy.manual import start_manual_deploy
from harbormaster.reports import OperatorError, history_rows, status_rows, table
from harbormaster.rollback.manual import RollbackRefused, manual_rollback
from harbormaster.state.ledger import Ledger
from harbormaster.state.store import TABLE_ENV

__all__ = ["OperatorError", "Stack", "history_rows", "instance_rows", "start_deploy", "status_rows", "table"]

STACK_ENV = "HARBORMASTER_STACK"


@dataclass(frozen=True)
class Stack:
    table_name: str
    state_machine_arn: str
    outputs: dict[str, str]

    @classmethod
    def find(cls, name: str | None = None) -> Stack:
        stack_name = name or os.environ.get(STACK_ENV) or "harbormaster"
        try:
            described = client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
        except client("cloudformation").exceptions.ClientError as exc:
            raise OperatorError(f"no stack {stack_name!r}: {exc.response['Error']['Message']}") from None
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
        stack = cls(outputs["TableName"], outputs["DeployStateMachineArn"], outputs)
        os.environ[TABLE_ENV] = stack.table_name  # the ledger reads it, as in Lambda
        if "AlertTopicArn" in outputs:
            os.environ.setdefault("ALERT_TOPIC_ARN", outputs["AlertTopicArn"])  # events go where Lambda's go
        return stack


def instance_rows(config: HarbormasterConfig, environment: str) -> list[dict[str, Any]]:
    """Each instance of an EC2 environment: the image Harbormaster last put on it, the target
    group's view of it ("no load balancer" without one), and whether it is converged (on the
    current release and, behind a load balancer, healthy)."""
    from harbormaster.config.models import Ec2Target
    from harbormaster.deploy import targets
    from harbormaster.deploy.exceptions import DeployError
    from harbormaster.state import instances

    settings = config.environments.get(environment)
    if settings is None:
        raise OperatorError(f"environment {environment!r} is not in the configuration")
    target = settings.target
    if not isinstance(target, Ec2Target):
        return []
    group: str | None = None
    health: dict[str, str] = {}
    if target.has_load_balancer:
        try:
            group = targets.target_group_arn(target)
        except DeployError as exc:
            raise OperatorError(str(exc)) from None
        described = client("elbv2").describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
        health = {d["Target"]["Id"]: d["TargetHealth"]["State"] for d in described}
    running = instances.running(environment)
    current = Ledger().current(environment)
    current_digest = current.digest if current else None
    rows = []
    for instance_id in sorted(set(targets.instances(target, group)) | set(health)):
        record = running.get(instance_id, {})
        digest = str(record.get("image_uri", "")).rsplit("@", 1)[-1] or None
        state = health.get(instance_id, "not registered") if group else "no load balancer"
        rows.append(
            {
                "instance": instance_id,
                "image": digest[:19] if digest else "unknown (never deployed by Harbormaster)",
                "release": record.get("release_id"),
                "target": state,
                "converged": bool(digest) and digest == current_digest and state in {"healthy", "no load balancer"},
            }
        )
    return rows


def start_deploy(config: HarbormasterConfig, stack: Stack, environment: str, image: str, force: bool = False) -> str:
    """Start a manual deploy of a tag or digest; return the execution ARN."""
    try:
        return start_manual_deploy(config, stack.state_machine_arn, environment, image, operator_name(), force)
    except (UnknownEnvironment, ImageNotFound) as exc:
        raise OperatorError(str(exc)) from None


def start_manual_rollback(config: HarbormasterConfig, stack: Stack, environment: str, to: str | None) -> str:
    """Roll back the current release to `to` (release id or tag) or to the release before it."""
    try:
        return manual_rollback(config, stack.state_machine_arn, environment, to, actor=operator_name())
    except RollbackRefused as exc:
        raise OperatorError(str(exc)) from None


def redrive_alerts(stack: Stack) -> int:
    """Move every message of the alert DLQ back to the alert queue (send, then delete: a crash in
    between may duplicate a message, which the forwarder's idempotency absorbs, but never loses one)."""
    sqs = client("sqs")
    source, target = stack.outputs["AlertDeadLetterQueueUrl"], stack.outputs["AlertQueueUrl"]
    moved = 0
    while True:
        batch = sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            return moved
        for message in batch:
            sqs.send_message(QueueUrl=target, MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
            moved += 1


def operator_name() -> str:
    """Who runs the CLI: the IAM identity's name, or the local user."""
    try:
        return str(client("sts").get_caller_identity()["Arn"].rsplit("/", 1)[-1])
    except Exception:
        return getpass.getuser()
