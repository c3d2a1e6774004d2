"""Find an EC2 environment's instances: its target group, its Auto Scaling group, its tags."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harbormaster.clients import client
from harbormaster.deploy.exceptions import DeployError

if TYPE_CHECKING:  # the batch step needs none of the configuration's models
    from harbormaster.config.models import Ec2Target

ENVIRONMENT_TAG = "harbormaster:environment"
FILTER_VALUES_LIMIT = 200


def target_group_arn(target: Ec2Target) -> str:
    """The ARN of the environment's target group (the caller checked it has one)."""
    if target.target_group_arn:
        return target.target_group_arn
    try:
        groups = client("elbv2").describe_target_groups(Names=[target.target_group_name])["TargetGroups"]
    except client("elbv2").exceptions.TargetGroupNotFoundException:
        raise DeployError(f"target group {target.target_group_name!r} does not exist") from None
    return str(groups[0]["TargetGroupArn"])


def instances(target: Ec2Target, group_arn: str | None) -> list[str]:
    """Running instances of the environment: registered in the target group (if any), members of
    the ASG, and/or matching the tag selector (the union; the selector also filters when alone)."""
    found: set[str] = set()
    if group_arn is not None:
        health = client("elbv2").describe_target_health(TargetGroupArn=group_arn)["TargetHealthDescriptions"]
        found.update(d["Target"]["Id"] for d in health if d["Target"]["Id"].startswith("i-"))
    if target.auto_scaling_group:
        paginator = client("autoscaling").get_paginator("describe_auto_scaling_groups")
        for page in paginator.paginate(AutoScalingGroupNames=[target.auto_scaling_group]):
            for group in page["AutoScalingGroups"]:
                found.update(i["InstanceId"] for i in group["Instances"] if i["LifecycleState"] == "InService")
    if target.instances:
        filters = [{"Name": f"tag:{k}", "Values": [v]} for k, v in target.instances.tag.items()]
        found.update(_running(filters))
    return sorted(running(sorted(found)))


def running(instance_ids: list[str]) -> set[str]:
    """Those of `instance_ids` that are running."""
    found: set[str] = set()
    for chunk in _chunks(instance_ids):
        found |= _running([{"Name": "instance-id", "Values": chunk}])
    return found


def instance_facts(instance_ids: list[str]) -> dict[str, tuple[str, str | None]]:
    """instance id → (state, `harbormaster:environment` tag), in one paginated call; state "gone"
    for an instance EC2 does not know. SendCommand is only allowed on instances tagged for the
    environment."""
    found: dict[str, tuple[str, str | None]] = {}
    paginator = client("ec2").get_paginator("describe_instances")
    for chunk in _chunks(instance_ids):
        for page in paginator.paginate(Filters=[{"Name": "instance-id", "Values": chunk}]):
            for reservation in page["Reservations"]:
                for instance in reservation["Instances"]:
                    tags = {tag["Key"]: tag["Value"] for tag in instance.get("Tags", [])}
                    found[instance["InstanceId"]] = (str(instance["State"]["Name"]), tags.get(ENVIRONMENT_TAG))
    return {instance_id: found.get(instance_id, ("gone", None)) for instance_id in instance_ids}


def instance_states(instance_ids: list[str]) -> dict[str, str]:
    return {instance_id: state for instance_id, (state, _) in instance_facts(instance_ids).items()}


def _chunks(instance_ids: list[str]) -> list[list[str]]:
    """EC2 takes at most 200 values in one call's filters."""
    return [
        instance_ids[start : start + FILTER_VALUES_LIMIT] for start in range(0, len(instance_ids), FILTER_VALUES_LIMIT)
    ]


def _running(filters: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    paginator = client("ec2").get_paginator("describe_instances")
    for page in paginator.paginate(Filters=[*filters, {"Name": "instance-state-name", "Values": ["running"]}]):
        for reservation in page["Reservations"]:
            found.update(i["InstanceId"] for i in reservation["Instances"])
    return found
