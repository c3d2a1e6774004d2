"""A world for deploy tests: a 4-instance fleet on v1 behind a target group, fast rollout settings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from harbormaster.cli.main import main
from harbormaster.local import LocalEngine

CONFIG_TEMPLATE = """
environments:
  api-prod:
    repository: tpt-api-prod
    tags: ["v*"]
    target: {type: ec2, target_group_name: api-prod-tg}
    container: {name: app, port: 8080, health_path: /actuator/health}
    rollout: {batch: 1, min_healthy: 50%, drain_seconds: DRAIN, poll_seconds: 0, health_timeout_seconds: 2}
slack:
  routes:
    critical: {webhook_secret: hm/slack/critical}
    deployments: {webhook_secret: hm/slack/deployments}
  default_route: deployments
"""


def config(drain_seconds: int = 0) -> str:
    return CONFIG_TEMPLATE.replace("DRAIN", str(drain_seconds))


CONFIG = config()
ENV = "api-prod"
REPO = "tpt-api-prod"


@dataclass
class World:
    engine: LocalEngine
    target_group: str
    instances: list[str]

    def image(self, digest: str) -> str:
        return f"123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/{REPO}@{digest}"

    def images(self) -> dict[str, str]:
        return {i: self.engine.fleet.images[i] for i in self.instances}


def start_world(tmp_path: Path, config: str = CONFIG, size: int = 4) -> World:
    path = tmp_path / "harbormaster.yaml"
    path.write_text(config)
    engine = LocalEngine(config=path, slack_messages_per_second=1000)
    engine.start()
    group = engine.fleet.target_group("api-prod-tg", port=8080, environment=ENV)
    instances = engine.fleet.launch(size, "v1", tags={"harbormaster:environment": ENV}, target_group=group)
    return World(engine, group, sorted(instances))


def put_guard_alarm(name: str, tags: dict[str, str] | None = None, cloudwatch: Any = None) -> None:
    """A CloudWatch alarm on the ALB's 5xx count (the metric does not matter: the tests set its state),
    with `cloudwatch` (another account's client) or the default one."""
    (cloudwatch or boto3.client("cloudwatch")).put_metric_alarm(
        AlarmName=name,
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=10,
        ComparisonOperator="GreaterThanThreshold",
        **({"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]} if tags else {}),
    )


def history(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The ledger as `harbormaster history --output json` prints it, newest first."""
    capsys.readouterr()
    assert main(["history", ENV, "--output", "json"]) == 0
    return list(json.loads(capsys.readouterr().out))


def fence_parameters(table: str, environment: str, release_id: str = "r1") -> dict[str, str]:
    """Make `release_id` the environment's desired release (what taking the lock does) and return
    the deploy document's fence parameters for a command of it."""
    fence = {"pk": f"FENCE#{environment}", "sk": "DESIRED", "release_id": release_id}
    boto3.resource("dynamodb").Table(table).put_item(Item=fence)
    return {"ReleaseId": release_id, "Environment": environment, "FenceTable": table}
