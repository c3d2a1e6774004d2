"""Match an ECR push to environments and start one deploy execution per match."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from botocore.exceptions import ClientError

from harbormaster.accounts import is_at, registry_scope
from harbormaster.aws_events import EcrImageActionEvent
from harbormaster.clients import client
from harbormaster.config import HarbormasterConfig
from harbormaster.deploy.models import DeployRequest
from harbormaster.notify.events import ImageRef
from harbormaster.observability import logger


@dataclass(frozen=True)
class RoutedDeploy:
    environment: str
    execution_name: str
    execution_arn: str | None
    duplicate: bool


def execution_name(environment: str, digest: str, occurrence: str) -> str:
    """Deterministic per *occurrence* (an event id, a queueing): the same event delivered twice gets
    the same name, so it starts nothing twice; a later push of the same digest is a new occurrence
    and starts its own deploy (a closed execution's name stays taken for 90 days). Prepare decides
    what a push of the digest already running means.

    >>> execution_name("api-dev", "sha256:" + "ab" * 32, "6a7e8feb-b491-4cf7-a9f1-bf3703467718")
    'api-dev-abababababababab-ab5d5fa1bb36'
    """
    hex_digest = digest.split(":", 1)[-1]
    key = hashlib.sha256(occurrence.encode()).hexdigest()[:12]
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"{environment[:48]}-{hex_digest[:16]}-{key}")


def route_push(event: EcrImageActionEvent, config: HarbormasterConfig, state_machine_arn: str) -> list[RoutedDeploy]:
    detail = event.detail
    if detail.action_type != "PUSH" or detail.result != "SUCCESS":
        logger.info(
            "ignored: not a successful push",
            extra={"action": detail.action_type, "result": detail.result, "repository": detail.repository_name},
        )
        return []
    # The same repository name in another account (a registry forwarding its pushes here) is
    # another repository: only the environment's registry deploys it.
    environments = [
        name
        for name in config.environments_for_push(detail.repository_name, detail.image_tag)
        if is_at(registry_scope(config.environments[name], config.spokes), event.account, event.region)
    ]
    if not environments:
        logger.info(
            "ignored: the push matches no environment",
            extra={"repository": detail.repository_name, "tag": detail.image_tag, "registry": event.account},
        )
        return []
    image = ImageRef(repository=detail.repository_name, tag=detail.image_tag, digest=detail.image_digest)
    return [_start(environment, image, event, state_machine_arn) for environment in environments]


def _start(environment: str, image: ImageRef, event: EcrImageActionEvent, state_machine_arn: str) -> RoutedDeploy:
    request = DeployRequest(
        environment=environment,
        image=image,
        trigger="push",
        actor="ecr",
        event_id=event.id,
        requested_at=event.time,
    )
    name = execution_name(environment, image.digest, event.id)
    try:
        response = client("stepfunctions").start_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps({"request": request.model_dump(mode="json")})
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ExecutionAlreadyExists":
            raise
        logger.info("duplicate: this push event already started a deploy", extra={"execution_name": name})
        return RoutedDeploy(environment, name, None, duplicate=True)
    logger.info("deploy started", extra={"environment": environment, "execution_arn": response["executionArn"]})
    return RoutedDeploy(environment, name, response["executionArn"], duplicate=False)
