"""Secrets never reach the logs or Slack (issue: operations): run deploys, an approval, Slack
deliveries (one refused), a rollback and a scheduler run with known secrets, then search every
captured log line and every Slack body for them."""

from __future__ import annotations

import json

import boto3
import pytest

from tests.e2e.deploy_world import start_world
from tests.e2e.test_slack_actions import APPROVER, gated, value, waiting

pytestmark = pytest.mark.e2e


def test_no_secret_or_task_token_is_ever_logged_or_posted(tmp_path: pytest.TempPathFactory) -> None:
    world = start_world(tmp_path, config=gated())  # type: ignore[arg-type]
    engine = world.engine
    try:
        _, release_id = waiting(world, "v2")
        table = boto3.resource("dynamodb").Table(engine.stack.outputs["TableName"])
        token = table.get_item(Key={"pk": "APPROVAL#api-prod", "sk": release_id})["Item"]["task_token"]
        status, answer, _ = engine.click("approve", value(release_id), APPROVER)
        assert status == 200, answer
        engine.settle()
        engine.slack.fail_next, engine.slack.failure_statuses = 1, (400,)
        engine.publish_alert({"AlarmName": "x", "NewStateValue": "ALARM"})  # refused: to the DLQ, logged
        engine.slack.failure_statuses = (500,)
        _, third = waiting(world, "v3")
        engine.click("reject", value(third), APPROVER, wait=True)

        secrets = {
            "signing secret": engine.slack_signing_secret,
            "task token": str(token),
            **{f"webhook {name}": engine.slack.webhook_url(name) for name in ("critical", "deployments")},
        }
        logs = engine.logs.text()
        bodies = json.dumps([r.body for r in engine.slack.requests])
        assert "delivered to Slack" in logs and "Slack refused the message" in logs  # the logs are there
        for name, secret in secrets.items():
            assert secret not in logs, f"{name} in the logs"
            assert secret not in bodies, f"{name} in a Slack message"
    finally:
        engine.stop()
