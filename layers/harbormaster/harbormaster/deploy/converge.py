"""Every EC2 rollout ends with a convergence check over the whole environment.

The environment is the union of its target group, Auto Scaling group and tag selector, plus every
instance this release planned or touched (deregistered ones included: a stopped release can leave
one out of service). Each must run the release's image (as its deploy command reported it,
`state.instances`) and be registered and healthy. Those that differ are redeployed, in batches no
larger than the rollout's, for a bounded number of attempts while this release still owns the
environment (its fence); what still differs after that is named by Finalize as a critical event.
"""

from __future__ import annotations

from harbormaster.clients import client
from harbormaster.config import HarbormasterConfig
from harbormaster.config.models import Ec2Target
from harbormaster.deploy import targets
from harbormaster.deploy.models import Convergence, DeployPlan
from harbormaster.state import instances
from harbormaster.state.fence import Fence
from harbormaster.state.ledger import Ledger

MAX_ATTEMPTS = 2  # redeploys of what differs; a third look only reports


def converge(plan: DeployPlan, config: HarbormasterConfig, previous: Convergence) -> Convergence:
    attempt = previous.attempt + 1
    if plan.target_type != "ec2" or plan.rollout is None or not plan.batches:
        return Convergence(attempt=attempt)
    environment = plan.request.environment
    divergent = divergence(plan, config, plan.rollout.target_group_arn)
    owns = Fence().desired(environment) == plan.release_id
    if not divergent or not owns or attempt > MAX_ATTEMPTS:
        return Convergence(attempt=attempt, divergent=divergent)
    size = max(len(batch) for batch in plan.batches)
    ordered = sorted(divergent)
    batches = [ordered[start : start + size] for start in range(0, len(ordered), size)]
    return Convergence(attempt=attempt, batches=batches, divergent=divergent)


def divergence(
    plan: DeployPlan, config: HarbormasterConfig | None, group_arn: str | None, image_uri: str | None = None
) -> dict[str, str]:
    """instance → what differs from "on `image_uri` (the release's), registered and healthy" (or,
    without a load balancer, just "on `image_uri`": its deploy command checked its health).
    Without `config`, only the instances the release planned or touched are looked at."""
    environment = plan.request.environment
    expected = image_uri or plan.image_uri
    settings = config.environments.get(environment) if config else None
    members: set[str] = set()
    if settings is not None and isinstance(settings.target, Ec2Target):
        members.update(targets.instances(settings.target, group_arn))
    ledger = Ledger()
    members.update(instance_id for batch in plan.batches for instance_id in batch)
    # What this release touched, and for a rollback what the release it replaces touched: read now,
    # so an instance that a stopped step took out after the rollback was planned is covered too.
    for release_id in filter(None, [plan.release_id, plan.request.rolls_back]):
        release = ledger.release(environment, release_id)
        members.update(release.touched if release else [])
    members = targets.running(sorted(members))
    states: dict[str, str] = {}
    if group_arn is not None:
        health = client("elbv2").describe_target_health(TargetGroupArn=group_arn)["TargetHealthDescriptions"]
        states = {d["Target"]["Id"]: str(d["TargetHealth"]["State"]) for d in health}
    running = instances.running(environment)
    found: dict[str, str] = {}
    for instance_id in sorted(members):
        image = (running.get(instance_id) or {}).get("image_uri")
        problems = []
        if image != expected:
            problems.append(f"runs {image or 'an image Harbormaster did not deploy'}")
        state = states.get(instance_id, "not registered")
        if group_arn is not None and state != "healthy":
            problems.append(f"target {state}")
        if problems:
            found[instance_id] = ", ".join(problems)
    return found
