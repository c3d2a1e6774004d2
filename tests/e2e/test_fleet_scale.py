"""A large environment deploys within Step Functions' history limit, with a 5x margin: AWS's default
target group timings (300 s deregistration delay, healthy after 5 checks 30 s apart), waits on the
virtual clock, history events counted as Step Functions keeps them.

CI deploys 500 instances (the history grows with batches, not instances: batch 25% is four batches
either way); HARBORMASTER_FLEET_SCALE=1000 runs the fleet `bench/deploy.py` measures for the README
(224 events at 1,000)."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest

from harbormaster.local import LocalEngine
from harbormaster.local.sfn_rules import HISTORY_LIMIT

pytestmark = pytest.mark.e2e
FLEET = int(os.environ.get("HARBORMASTER_FLEET_SCALE", "500"))
CONFIG = """
environments:
  api:
    repository: api
    tags: ["v*"]
    target: {type: ec2, target_group_name: api-tg}
    rollout: {batch: 25%, min_healthy: 50%}
slack:
  routes: {deployments: {webhook_secret: scale/slack}}
  default_route: deployments
"""


def test_a_large_fleet_deploys_in_a_fifth_of_the_history_limit(tmp_path: Path) -> None:
    config = tmp_path / "harbormaster.yaml"
    config.write_text(CONFIG)
    with LocalEngine(config=config, slack_messages_per_second=1000) as engine:
        group = engine.fleet.target_group("api-tg", environment="api")  # AWS's defaults
        instances = engine.fleet.launch(FLEET, "v1", tags={"harbormaster:environment": "api"}, target_group=group)
        started = engine.clock.now
        _, report = engine.push_image("api", "v2")
        [execution] = report.executions
        assert execution.status == "SUCCEEDED", execution
        sfn = boto3.client("stepfunctions")
        pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution.arn)
        events = sum(len(page["events"]) for page in pages)
        assert events <= HISTORY_LIMIT // 5, events
        assert {engine.fleet.images[i] for i in instances} == {engine.fleet.images[instances[0]]} != {"v1"}
        assert all(engine.fleet.is_healthy(i) for i in instances)
        assert (engine.clock.now - started).total_seconds() >= 4 * 300  # four batches, each drained 300 s
