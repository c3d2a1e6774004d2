"""What flows through the deploy state machine."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from harbormaster.notify.events import ImageRef

Trigger = Literal["push", "manual", "rollback"]


class DeployRequest(BaseModel):
    """The execution input: deploy this image (by digest) to this environment."""

    model_config = ConfigDict(extra="forbid")

    environment: str
    image: ImageRef
    trigger: Trigger = "push"
    actor: str = "ecr"
    event_id: str | None = None
    requested_at: datetime


class DeployPlan(BaseModel):
    """What `prepare` decided: the release id and the exact image URI to run."""

    model_config = ConfigDict(extra="forbid")

    request: DeployRequest
    release_id: str
    image_uri: str = Field(description="repository URI @ digest: never a mutable tag")
    target_type: Literal["ec2", "ecs"]
