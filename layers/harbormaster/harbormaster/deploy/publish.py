"""Publish the desired image to Parameter Store, so instances the ASG launches mid-deploy start it."""

from __future__ import annotations

from botocore.exceptions import ClientError

from harbormaster.clients import client


def parameter_name(environment: str) -> str:
    return f"/harbormaster/{environment}/image"


def publish_image(environment: str, image_uri: str) -> str | None:
    """Set the desired image; return the one it replaces (None the first time)."""
    ssm = client("ssm")
    name = parameter_name(environment)
    try:
        previous = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ParameterNotFound":
            raise
        previous = None
    ssm.put_parameter(
        Name=name,
        Value=image_uri,
        Type="String",
        Overwrite=True,
        Description=f"desired container image of {environment} (harbormaster)",
    )
    return str(previous) if previous else None
