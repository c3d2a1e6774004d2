"""The prepare phase: check the request against the configuration and ECR, and plan the release."""

from __future__ import annotations

from datetime import UTC, datetime

from botocore.exceptions import ClientError

from harbormaster.clients import client
from harbormaster.config import HarbormasterConfig
from harbormaster.deploy.exceptions import ImageNotFound, UnknownEnvironment
from harbormaster.deploy.models import DeployPlan, DeployRequest


def prepare(request: DeployRequest, config: HarbormasterConfig, now: datetime | None = None) -> DeployPlan:
    environment = config.environments.get(request.environment)
    if environment is None:
        raise UnknownEnvironment(f"environment {request.environment!r} is not in the configuration")
    image_uri = _image_uri(request)
    moment = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    release_id = f"{moment}-{request.image.digest.split(':', 1)[-1][:12]}"
    return DeployPlan(request=request, release_id=release_id, image_uri=image_uri, target_type=environment.target.type)


def _image_uri(request: DeployRequest) -> str:
    """`<registry>/<repository>@sha256:...` after checking the digest exists in ECR."""
    ecr = client("ecr")
    image = request.image
    try:
        found = ecr.describe_images(repositoryName=image.repository, imageIds=[{"imageDigest": image.digest}])[
            "imageDetails"
        ]
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code in {"ImageNotFoundException", "RepositoryNotFoundException"}:
            raise ImageNotFound(f"{image.repository}@{image.digest} is not in ECR ({code})") from None
        raise
    if not found:
        raise ImageNotFound(f"{image.repository}@{image.digest} is not in ECR")
    registry = found[0]["registryId"]
    region = ecr.meta.region_name
    return f"{registry}.dkr.ecr.{region}.amazonaws.com/{image.repository}@{image.digest}"
