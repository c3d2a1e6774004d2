"""Operator commands against a deployed stack (AWS, or moto inside the local engine)."""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import dataclass
from typing import Any

from harbormaster import clock
from harbormaster.clients import client
from harbormaster.config import HarbormasterConfig
from harbormaster.deploy import DeployRequest, execution_name
from harbormaster.notify.events import ImageRef
from harbormaster.rollback.manual import RollbackRefused, manual_rollback
from harbormaster.state.ledger import Ledger
from harbormaster.state.lock import DeployLock
from harbormaster.state.store import TABLE_ENV

STACK_ENV = "HARBORMASTER_STACK"


class OperatorError(Exception):
    """The command cannot do what was asked (unknown environment, image, stack)."""


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


def history_rows(environment: str, limit: int = 20) -> list[dict[str, Any]]:
    return [release.model_dump(mode="json", exclude_none=True) for release in Ledger().history(environment, limit)]


def status_rows(config: HarbormasterConfig, only: str | None = None) -> list[dict[str, Any]]:
    rows = []
    for name in [only] if only else sorted(config.environments):
        if name not in config.environments:
            raise OperatorError(f"environment {name!r} is not in the configuration")
        ledger = Ledger()
        current = ledger.current(name)
        holder = DeployLock().holder(name)
        running = ledger.release(name, str(holder["release_id"])) if holder else None
        rows.append(
            {
                "environment": name,
                "current_release": current.release_id if current else None,
                "current_image": _short(current.tag, current.digest) if current else None,
                "deploying": _short(running.tag, running.digest) if running else None,
                "progress": f"{running.instances_done}/{running.instances_total}" if running else None,
            }
        )
    return rows


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
    return start_deploy_execution(config, stack.state_machine_arn, environment, image, operator_name(), force)


def start_deploy_execution(
    config: HarbormasterConfig, state_machine_arn: str, environment: str, image: str, actor: str, force: bool = False
) -> str:
    """Start a manual deploy of a tag or digest by `actor` (the CLI's identity, or a Slack user)."""
    env = config.environments.get(environment)
    if env is None:
        raise OperatorError(f"environment {environment!r} is not in the configuration")
    digest, tag = _resolve(env.repository, image)
    request = DeployRequest(
        environment=environment,
        image=ImageRef(repository=env.repository, tag=tag, digest=digest),
        trigger="manual",
        actor=actor,
        requested_at=clock.now(),
        force=force,
    )
    name = execution_name(environment, digest, f"manual:{request.actor}:{request.requested_at.isoformat()}")
    response = client("stepfunctions").start_execution(
        stateMachineArn=state_machine_arn,
        name=name,
        input=json.dumps({"request": request.model_dump(mode="json")}),
    )
    return str(response["executionArn"])


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


def _resolve(repository: str, image: str) -> tuple[str, str | None]:
    ecr = client("ecr")
    image_id = {"imageDigest": image} if image.startswith("sha256:") else {"imageTag": image}
    try:
        found = ecr.describe_images(repositoryName=repository, imageIds=[image_id])["imageDetails"][0]
    except ecr.exceptions.ClientError as exc:
        raise OperatorError(f"{repository}:{image} is not in ECR ({exc.response['Error']['Code']})") from None
    tags = found.get("imageTags") or [None]
    return str(found["imageDigest"]), image if "imageTag" in image_id else tags[0]


def operator_name() -> str:
    """Who runs the CLI: the IAM identity's name, or the local user."""
    try:
        return str(client("sts").get_caller_identity()["Arn"].rsplit("/", 1)[-1])
    except Exception:
        return getpass.getuser()


def _short(tag: str | None, digest: str | None) -> str | None:
    if not digest:
        return None
    return f"{tag or '-'} ({digest[:19]})"


def _cell(value: Any, width: int = 100) -> str:
    """One line per row: newlines shown as ⏎, long text cut."""
    text = "-" if value is None else str(value).replace("\n", " ⏎ ")
    return text if len(text) <= width else text[: width - 1] + "…"


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A plain-text table, columns as given."""
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) if cells else len(c) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)
