"""Models of the AWS events the stack receives (Powertools' EventBridge envelope + our details)."""

from __future__ import annotations

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import ConfigDict, Field

from harbormaster.model import Model


class EcrImageActionDetail(Model):
    model_config = ConfigDict(populate_by_name=True)

    result: str
    repository_name: str = Field(alias="repository-name")
    # A real ECR digest: 64 hex digits (the SSM document refuses anything else). The AWS
    # documentation's sample event shortens it to 60; tests lengthen it (tests/conftest.py).
    image_digest: str = Field(alias="image-digest", pattern=r"^sha256:[0-9a-f]{64}$")
    action_type: str = Field(alias="action-type")
    image_tag: str | None = Field(default=None, alias="image-tag")


class EcrImageActionEvent(EventBridgeModel):
    """`ECR Image Action` from `aws.ecr` (push, delete; success or failure)."""

    detail: EcrImageActionDetail


class EcsDeploymentDetail(Model):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    event_type: str = Field(alias="eventType")
    event_name: str = Field(alias="eventName", min_length=1)
    deployment_id: str = Field(alias="deploymentId", min_length=1)
    reason: str = ""


class EcsDeploymentStateChange(EventBridgeModel):
    """`ECS Deployment State Change` from `aws.ecs`: `resources` holds the service's ARN."""

    detail: EcsDeploymentDetail


class SsmCommandDetail(Model):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    command_id: str = Field(alias="command-id", min_length=1)
    status: str = Field(min_length=1)
    instance_id: str | None = Field(default=None, alias="instance-id")


class SsmCommandStatusChange(EventBridgeModel):
    """`EC2 Command Status-change Notification` (the command as a whole) or `EC2 Command Invocation
    Status-change Notification` (one instance's invocation), from `aws.ssm`."""

    detail: SsmCommandDetail
