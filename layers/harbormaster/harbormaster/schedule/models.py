"""What the reconciler sees and reports."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from harbormaster.accounts import HOME, Scope
from harbormaster.model import Model

Kind = Literal["ecs", "asg", "ec2", "rds", "aurora"]
Actual = Literal["running", "stopped", "transitioning"]
Action = Literal["stop", "start"]

# Stop the things that use databases first; start databases first.
STOP_ORDER: tuple[Kind, ...] = ("ecs", "asg", "ec2", "rds", "aurora")
START_ORDER: tuple[Kind, ...] = ("rds", "aurora", "ec2", "asg", "ecs")
DATABASES: frozenset[Kind] = frozenset({"rds", "aurora"})


class Resource(Model):
    """A tagged resource as found now. `capacity` is what a stop must save to restore exactly."""

    model_config = ConfigDict(frozen=True)

    kind: Kind
    id: str
    arn: str
    schedule: str
    actual: Actual
    capacity: dict[str, int] = Field(default_factory=dict)
    instance_type: str | None = None
    state_reason: str | None = Field(default=None, description="EC2: why it is stopped (StateReason)")
    scope: Scope = Field(default=HOME, description="the account and region it lives in")

    @property
    def key(self) -> str:
        """Its record's key: unique across accounts and regions."""
        return self.scope.qualify(self.arn)

    @property
    def where(self) -> str:
        """Its id as reports show it: `account/region/id` outside the hub's own account and region."""
        return self.scope.qualify(self.id)


class Outcome(Model):
    """One resource in one run: what was decided and done (`scope`: an account, a region or a
    change calendar that could not be read)."""

    kind: Kind | Literal["scope"]
    id: str
    schedule: str
    desired: str
    actual: Actual | None = None
    action: Literal["stop", "start", "none", "deferred", "skipped", "failed"]
    reason: str
    dry_run: bool = False


class Part(Model):
    """One account and region of a scheduled run that covers several, run by an invocation of its
    own; the last of the run's `of` parts to finish publishes the run's summaries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: str = Field(min_length=1, max_length=200)
    scope: Scope
    of: int = Field(ge=1, le=3000)


class RunInput(Model):
    """The reconciler's input: the scheduled run (EventBridge Scheduler fills `scheduled_time`), a
    part of one (`part`), or a one-shot `{"action": "stop"|"start", "schedule": NAME}`."""

    model_config = ConfigDict(extra="forbid")

    scheduled_time: datetime | None = None
    action: Action | None = None
    schedule: str | None = None
    dry_run: bool = False
    part: Part | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> RunInput:
        if (self.action is None) != (self.schedule is None):
            raise ValueError("a one-shot run needs both action and schedule")
        if self.part is not None and (self.action is not None or self.dry_run):
            raise ValueError("a part belongs to a scheduled run: no action, no dry run")
        return self


class RunReport(Model):
    at: datetime
    dry_run: bool
    outcomes: list[Outcome] = Field(default_factory=list)

    def changed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.action in {"stop", "start"}]

    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.action == "failed"]
