"""The events Harbormaster publishes on its alert topic (the Slack forwarder formats them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from harbormaster import clock
from harbormaster.model import Model

Severity = Literal["info", "success", "warning", "critical"]
Route = Literal["critical", "deployments", "monitoring"]


class ImageRef(Model):
    model_config = ConfigDict(frozen=True)

    repository: str
    tag: str | None = None
    digest: str

    @property
    def short(self) -> str:
        """`repo:tag (sha256:abcdef123456)` for humans."""
        label = f"{self.repository}:{self.tag}" if self.tag else self.repository
        return f"{label} ({self.digest[:19]})"


class HarbormasterEvent(Model):
    """One structured event on the alert topic: `source: harbormaster`, a dotted `type`."""

    model_config = ConfigDict(extra="allow")

    source: Literal["harbormaster"] = "harbormaster"
    type: str = Field(pattern=r"^[a-z]+\.[a-z_]+$")
    severity: Severity = "info"
    route: Route = "deployments"
    time: datetime = Field(default_factory=clock.now)
    environment: str | None = None
    release_id: str | None = None
    image: ImageRef | None = None
    trigger: str | None = None
    actor: str | None = None
    execution_arn: str | None = None
    phase: str | None = None
    reason: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def subject(self) -> str:
        """SNS subject (max 100 characters)."""
        text = f"[harbormaster] {self.type}" + (f" {self.environment}" if self.environment else "")
        return text[:100]
