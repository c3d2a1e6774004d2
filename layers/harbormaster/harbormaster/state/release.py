"""The ledger's records as typed models, with their DynamoDB item form.

A record read back is validated (a status the code does not know, a digest missing, fail loudly
here rather than deep in a phase), and fields the code no longer writes are ignored.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import ConfigDict, Field

from harbormaster.model import Model
from harbormaster.state.status import ReleaseStatus
from harbormaster.state.store import plain


class _Record(Model):
    model_config = ConfigDict(frozen=True, extra="ignore")

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Any:
        return cls.model_validate(plain(item))

    def replace(self, **changes: Any) -> Self:
        """A copy with `changes`, validated (pydantic's `model_copy(update=...)` does not validate)."""
        return self.model_validate({**self.model_dump(), **changes})

    def to_item(self) -> dict[str, Any]:
        """The attributes to store: no None (DynamoDB keeps absent, not null), no empty set."""
        return {
            key: value
            for key, value in self.model_dump(mode="json").items()
            if value is not None and value not in ([], {})
        }


class Release(_Record):
    """One deploy attempt: `ENV#<env> / RELEASE#<release id>` (ids sort by time).

    >>> Release(environment="api", release_id="20261204T010000Z-abc", status="PENDING",
    ...         repository="api", digest="sha256:abc").status.finished
    False
    """

    environment: str
    release_id: str
    status: ReleaseStatus
    repository: str
    digest: str
    tag: str | None = None
    trigger: str = "push"
    actor: str | None = None
    execution_arn: str | None = None
    requested_at: str | None = None
    recorded_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    rolls_back: str | None = None
    trigger_reason: str | None = None
    image_uri: str | None = None
    task_definition_arn: str | None = None
    previous_task_definition_arn: str | None = None
    previous_release_id: str | None = None
    previous_image_uri: str | None = None
    instances_total: int = 0
    instances_done: int = 0
    phase: str | None = None
    reason: str | None = None
    duration_seconds: int | float | None = None
    touched: list[str] = Field(default_factory=list)  # instances it took out of service (a string set)
    reverted: list[str] = Field(default_factory=list)
    divergent: dict[str, str] = Field(default_factory=dict)  # instance → why it is not converged
    rollback_claimed_by: str | None = None

    def to_item(self) -> dict[str, Any]:
        item = super().to_item()
        if "touched" in item:  # a string set, as `Ledger.add_touched` adds to it
            item["touched"] = set(item["touched"])
        return item


class CurrentRelease(_Record):
    """The environment's last known-good release: `ENV#<env> / CURRENT`."""

    release_id: str
    digest: str
    image_uri: str
    repository: str | None = None
    tag: str | None = None
    task_definition_arn: str | None = None
    updated_at: str | None = None


class Quarantine(_Record):
    """A digest rolled back in this environment: `ENV#<env> / QUARANTINE#<digest>`."""

    release_id: str
    reason: str
    quarantined_at: str


RELEASE_FIELDS = frozenset(Release.model_fields)
