"""What a real ALB target group needs, read from the group itself.

A target stays `draining` for the group's deregistration delay (300 s by default), and turns
`healthy` only after `HealthyThresholdCount` checks `HealthCheckIntervalSeconds` apart (150 s by
default). Deadlines shorter than that fail every deploy on AWS, so the plan never uses them.
"""

from __future__ import annotations

from pydantic import ConfigDict

from harbormaster.clients import client
from harbormaster.model import Model

DEFAULT_INTERVAL_SECONDS = 30  # ALB's default HealthCheckIntervalSeconds


class TargetGroupTiming(Model):
    model_config = ConfigDict(frozen=True)

    deregistration_delay_seconds: int
    health_check_interval_seconds: int
    healthy_threshold_count: int

    @property
    def healthy_after_seconds(self) -> int:
        """The least time from RegisterTargets to `healthy`."""
        return self.health_check_interval_seconds * self.healthy_threshold_count


class Deadlines(Model):
    """The waits and deadlines the instance steps use, and why a configured value was raised."""

    model_config = ConfigDict(frozen=True)

    drain_seconds: int
    healthy_after_seconds: int
    health_check_interval_seconds: int
    health_timeout_seconds: int
    warnings: list[str]


def read(target_group_arn: str) -> TargetGroupTiming:
    """One DescribeTargetGroups and one DescribeTargetGroupAttributes."""
    elbv2 = client("elbv2")
    [group] = elbv2.describe_target_groups(TargetGroupArns=[target_group_arn])["TargetGroups"]
    attributes = {
        item["Key"]: item["Value"]
        for item in elbv2.describe_target_group_attributes(TargetGroupArn=target_group_arn)["Attributes"]
    }
    return TargetGroupTiming(
        deregistration_delay_seconds=int(attributes.get("deregistration_delay.timeout_seconds", 300)),
        health_check_interval_seconds=int(group.get("HealthCheckIntervalSeconds", DEFAULT_INTERVAL_SECONDS)),
        healthy_threshold_count=int(group.get("HealthyThresholdCount", 5)),
    )


def deadlines(timing: TargetGroupTiming, drain_seconds: int, health_timeout_seconds: int) -> Deadlines:
    """Configured waits, raised to what the target group needs (with two more health checks of margin).

    >>> t = TargetGroupTiming(deregistration_delay_seconds=300, health_check_interval_seconds=30,
    ...                       healthy_threshold_count=5)
    >>> d = deadlines(t, drain_seconds=3, health_timeout_seconds=30)
    >>> d.drain_seconds, d.healthy_after_seconds, d.health_timeout_seconds
    (300, 150, 210)
    """
    needed = timing.healthy_after_seconds + 2 * timing.health_check_interval_seconds
    warnings = []
    if health_timeout_seconds < needed:
        warnings.append(
            f"health_timeout_seconds {health_timeout_seconds}s is shorter than the target group needs "
            f"({timing.healthy_threshold_count} checks x {timing.health_check_interval_seconds}s); using {needed}s"
        )
    return Deadlines(
        drain_seconds=max(drain_seconds, timing.deregistration_delay_seconds),
        healthy_after_seconds=timing.healthy_after_seconds,
        health_check_interval_seconds=timing.health_check_interval_seconds,
        health_timeout_seconds=max(health_timeout_seconds, needed),
        warnings=warnings,
    )
