"""`harbormaster local ...`: the contract of the commands the README shows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harbormaster.cli.main import main
from tests.conftest import EVENTS, SAMPLES, documented_push

pytestmark = pytest.mark.e2e


def test_send_event_runs_the_first_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    event = tmp_path / "push.json"
    event.write_text(json.dumps(documented_push()))
    assert main(["local", "send-event", str(event)]) == 0
    out = capsys.readouterr().out
    assert "λ RouterFunction" in out
    assert "sample-7f5b2640fe6fb4f4-29c601c64ef1: SUCCEEDED" in out  # environment, digest, the event
    assert "✉ slack #deployments [200 ok]: 🚀 Deploy started — sample" in out
    assert "✅ Deploy succeeded — sample" in out


def test_send_event_matching_no_rule_says_so_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["local", "send-event", str(SAMPLES / "aws" / "scheduled-event.json")]) == 0
    assert "matched no rule: nothing was triggered" in capsys.readouterr().out


def test_send_event_refuses_a_file_that_is_not_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("source: aws.ecr\n")
    assert main(["local", "send-event", str(bad)]) == 2
    assert f"{bad} is not JSON" in capsys.readouterr().err


def test_send_event_refuses_json_that_is_not_an_event(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "array.json"
    bad.write_text("[1, 2]")
    assert main(["local", "send-event", str(bad)]) == 2
    assert "an EventBridge event is a JSON object" in capsys.readouterr().err


def test_send_event_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["local", "send-event", str(tmp_path / "none.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_invoke_prints_only_the_handler_response_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["local", "invoke", "RouterFunction", "-e", str(EVENTS / "ecr-push.json")]) == 0
    response = json.loads(capsys.readouterr().out)
    assert response["deploys"][0]["environment"] == "api-dev"
    assert response["deploys"][0]["execution_name"].startswith("api-dev-3b1f7c3f5e0c2d7a-")


def test_invoke_the_wake_function_with_the_sample_event(capsys: pytest.CaptureFixture[str]) -> None:
    # Nothing is parked on that service in a fresh engine: the event wakes nobody, and says so.
    assert main(["local", "invoke", "WakeFunction", "-e", str(EVENTS / "ecs-deployment-completed.json")]) == 0
    response = json.loads(capsys.readouterr().out)
    assert response == {"woken": {"arn:aws:ecs:ap-northeast-2:123456789012:service/codemate/frontend": []}}


def test_invoke_a_failing_handler_prints_the_lambda_error_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    # The image of deploy-request.json was never pushed: prepare refuses it.
    assert main(["local", "invoke", "PrepareFunction", "-e", str(EVENTS / "deploy-request.json")]) == 1
    error = json.loads(capsys.readouterr().out)
    assert error["errorType"] == "ImageNotFound"


def test_invoke_an_unknown_function(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["local", "invoke", "NoSuchFunction", "-e", str(EVENTS / "ecr-push.json")]) == 2
    assert "no function 'NoSuchFunction'" in capsys.readouterr().err


def test_demo_narrates_the_path(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["local", "demo"]) == 0
    out = capsys.readouterr().out
    assert "┌─ Slack #deployments" in out
    assert "Deploy started — api-dev" in out
    assert "after: frontend runs codemate-frontend:2" in out  # the ECS environment deployed a new revision
    assert "circuit breaker rolled the service back to codemate-frontend:2" in out
    # The Compose host: web recreated for main-1, for the failing main-2 and back; nginx never.
    assert "no load balancer: brief downtime" in out and "Deploy failed — board-dev" in out
    assert "web    main-1               recreated 3x" in out and "nginx  nginx:1.25-alpine    recreated 0x" in out
    assert "Schedule stopped resources — office-hours" in out and "Schedule started resources" in out
    assert "Approval needed — api-prod" in out and "[Approve] [Reject]" in out
    assert "U01ABC clicks Reject: HTTP 200" in out and "told privately: <@U0INTERN> is not an approver" in out
    assert "🔴 harbormaster-alert-dlq-not-empty: ALARM" in out  # a self-alarm reached Slack
