"""A deploy someone asked for (the CLI's `deploy ENV TAG`, Slack's `/harbormaster deploy`): the tag
resolved to its digest in ECR, then an execution of the deploy state machine, as a push would start."""

from __future__ import annotations

import json

from harbormaster import clock
from harbormaster.accounts import HOME, Scope, registry_scope, scoped_client
from harbormaster.clients import client
from harbormaster.config import HarbormasterConfig
from harbormaster.deploy.exceptions import ImageNotFound, UnknownEnvironment
from harbormaster.deploy.models import DeployRequest
from harbormaster.deploy.router import execution_name
from harbormaster.notify.events import ImageRef


def start_manual_deploy(
    config: HarbormasterConfig, state_machine_arn: str, environment: str, image: str, actor: str, force: bool = False
) -> str:
    """Start a manual deploy of a tag or digest by `actor` (the CLI's identity, or a Slack user)."""
    env = config.environments.get(environment)
    if env is None:
        raise UnknownEnvironment(f"environment {environment!r} is not in the configuration")
    digest, tag = resolve(env.repository, image, registry_scope(env, config.spokes))
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


def resolve(repository: str, image: str, registry: Scope = HOME) -> tuple[str, str | None]:
    """The digest (and a tag) of `image`, a tag or a digest, in the repository's registry."""
    ecr = scoped_client("ecr", registry)
    image_id = {"imageDigest": image} if image.startswith("sha256:") else {"imageTag": image}
    try:
        found = ecr.describe_images(repositoryName=repository, imageIds=[image_id])["imageDetails"][0]
    except ecr.exceptions.ClientError as exc:
        raise ImageNotFound(f"{repository}:{image} is not in ECR ({exc.response['Error']['Code']})") from None
    tags = found.get("imageTags") or [None]
    return str(found["imageDigest"]), image if "imageTag" in image_id else tags[0]
