"""What flows through the deploy state machine, and what the ledger keeps."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from harbormaster.accounts import HOME, Scope
from harbormaster.model import Model
from harbormaster.notify.events import ImageRef

Trigger = Literal["push", "manual", "rollback"]
BatchPhase = Literal["start", "draining", "commanding", "registering", "done", "superseded", "failed"]
MemberPhase = Literal["start", "out", "commanded", "registered", "done", "skipped", "failed"]
ServicePhase = Literal["start", "rolling", "done", "skipped", "superseded", "failed"]


class DeployRequest(Model):
    """The execution input: deploy this image (by digest) to this environment."""

    model_config = ConfigDict(extra="forbid")

    environment: str
    image: ImageRef
    trigger: Trigger = "push"
    actor: str = "ecr"
    event_id: str | None = None
    requested_at: datetime
    release_id: str | None = Field(default=None, description="set when a queued request finally runs")
    force: bool = Field(default=False, description="deploy even a quarantined digest")
    reason: str | None = None
    rolls_back: str | None = Field(default=None, description="the release a rollback replaces")
    task_definition_arn: str | None = Field(
        default=None, description="ECS: run this exact revision (a rollback to known-good) instead of a new one"
    )


class PreviousRelease(Model):
    release_id: str
    image_uri: str
    digest: str
    tag: str | None = None
    task_definition_arn: str | None = None


class RolloutProgress(Model):
    """What a batch's progress event says besides its own count: the rollout it belongs to."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["deploy", "rollback"]
    image: ImageRef
    batches: int = Field(ge=1)
    instances_total: int = Field(ge=1)


class BatchSettings(Model):
    """What every batch of a rollout shares: the release, the image, the target group's timings and
    the container. Kept once in the plan, so the execution's state does not grow with the fleet."""

    model_config = ConfigDict(extra="forbid")

    environment: str
    release_id: str
    image_uri: str
    target_group_arn: str | None = Field(description="None: instances without a load balancer")
    port: int = Field(description="where the container answers on the instance (the target group's port)")
    drain_seconds: int = Field(description="the target group's deregistration delay (or more): the first look")
    poll_seconds: int = Field(description="the shortest wait between two looks (a floor, for tests)")
    healthy_after_seconds: int = Field(default=0, description="interval x healthy threshold: the first look")
    health_check_interval_seconds: int = Field(default=30, description="the longest wait between two looks")
    health_timeout_seconds: int
    command_timeout_seconds: int
    container: dict[str, str] = Field(
        default_factory=dict, description="the deploy document's container parameters, from the configuration"
    )
    log_lines_in_alerts: int = 5
    record_touch: bool = Field(default=True, description="a rollout records what it takes out; a revert does not")
    progress: RolloutProgress | None = Field(
        default=None, description="announce the end of each batch (a rollout); a revert does not"
    )
    keep_going: bool = Field(
        default=False, description="a revert: an instance that cannot be put back does not stop the others"
    )


class Member(Model):
    """One instance of a batch: how far it got, and why it stopped there."""

    model_config = ConfigDict(extra="forbid")

    phase: MemberPhase = "start"
    note: str | None = None


class BatchTask(Model):
    """One batch of instances as it moves through the rollout together (the state of the batch loop).

    The first call gets only `settings`, `instance_ids` and `batch` (from the Map's ItemSelector)."""

    model_config = ConfigDict(extra="forbid")

    settings: BatchSettings
    instance_ids: list[str]
    batch: int = 0
    phase: BatchPhase = "start"
    members: dict[str, Member] = Field(default_factory=dict)
    command_ids: list[str] = Field(default_factory=list)
    awaiting: list[str] = Field(
        default_factory=list, description="commands still running: the batch parks until one ends"
    )
    wait_seconds: int = 0
    looks: int = Field(default=0, description="looks in this phase so far: the waits between them back off")
    deadline: datetime | None = None
    note: str | None = None
    instances_done: int | None = Field(default=None, description="the release's instances done so far, as counted")


class ServiceTask(Model):
    """An ECS service through its deployment (the state of the ECS rollout loop).

    `task_definition_arn` is the revision to run: registered by the first step (a copy of the
    service's current one with the new image) unless the plan already names one (a rollback)."""

    model_config = ConfigDict(extra="forbid")

    environment: str
    release_id: str
    scope: Scope = Field(default=HOME, description="the service's account and region")
    cluster: str
    service: str
    container: str
    image_uri: str
    task_definition_arn: str | None = None
    previous_task_definition_arn: str | None = None
    deployment_id: str | None = None
    service_arn: str | None = Field(default=None, description="as the service's deployment events name it")
    timeout_seconds: int
    poll_seconds: int
    phase: ServicePhase = "start"
    wait_seconds: int = Field(default=0, description="while rolling: how long to wait for an event before looking")
    deadline: datetime | None = None
    note: str | None = None
    record_touch: bool = True
    ecs_rolled_back: bool = Field(default=False, description="ECS's circuit breaker already restored the service")


class DeployPlan(Model):
    """What `prepare` decided."""

    model_config = ConfigDict(extra="forbid")

    request: DeployRequest
    outcome: Literal["deploy", "queued", "skipped"]
    release_id: str
    reason: str | None = None
    image_uri: str | None = None
    target_type: Literal["ec2", "ecs"] = "ec2"
    previous: PreviousRelease | None = None
    rollout: BatchSettings | None = None
    batches: list[list[str]] = Field(default_factory=list, description="instance ids, batch by batch")
    ecs: ServiceTask | None = None
    instances_total: int = 0
    approval_required: bool = False
    approval_timeout_seconds: int = 86400
    bake_seconds: int = 0
    poll_seconds: int = 5
    warnings: list[str] = Field(default_factory=list)


class Convergence(Model):
    """After the rollout: which instances of the environment are not on the release's image, or not
    registered and healthy, and the batches that redeploy them (empty when converged, when the
    release no longer owns the environment, or after the last attempt)."""

    model_config = ConfigDict(extra="forbid")

    attempt: int = 0
    batches: list[list[str]] = Field(default_factory=list)
    divergent: dict[str, str] = Field(default_factory=dict, description="instance → what differs")
