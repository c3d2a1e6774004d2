"""Breaking the wiring in template.yaml or statemachines/ must change what the engine does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harbormaster.local import LocalEngine, TemplateError

pytestmark = pytest.mark.e2e


def push(project: Path) -> tuple[LocalEngine, object]:
    engine = LocalEngine(template=project / "template.yaml", config=project / "harbormaster.yaml", seed=True)
    engine.start()
    _, report = engine.push_image("tpt-api-dev", "dev-1")
    return engine, report


def test_the_unbroken_copy_deploys(project_copy: Path) -> None:
    engine, report = push(project_copy)
    try:
        assert [e.status for e in report.executions] == ["SUCCEEDED"]
        assert len(engine.slack.delivered()) == 2  # started, succeeded
    finally:
        engine.stop()


def test_a_changed_event_pattern_stops_the_push_from_matching(project_copy: Path) -> None:
    template = project_copy / "template.yaml"
    template.write_text(template.read_text().replace("action-type: [PUSH]", "action-type: [DELETE]"))
    engine, report = push(project_copy)
    try:
        assert not report.bus.matched
        assert report.executions == []
    finally:
        engine.stop()


def test_a_missing_environment_variable_breaks_the_router(project_copy: Path) -> None:
    template = project_copy / "template.yaml"
    text = template.read_text().replace("DEPLOY_STATE_MACHINE_ARN: !Ref DeployStateMachine", "UNUSED: x")
    template.write_text(text)
    engine, report = push(project_copy)
    try:
        [invocation] = report.invocations[:1]
        assert invocation.error and "DEPLOY_STATE_MACHINE_ARN" in invocation.error["errorMessage"]
        assert report.executions == []
    finally:
        engine.stop()


def test_the_state_machine_definition_is_the_one_that_runs(project_copy: Path) -> None:
    asl = project_copy / "statemachines" / "deploy.asl.json"
    definition = json.loads(asl.read_text())
    definition["States"]["Prepare"]["Next"] = "Deployed"  # skip the notification
    asl.write_text(json.dumps(definition))
    engine, report = push(project_copy)
    try:
        assert [e.status for e in report.executions] == ["SUCCEEDED"]
        assert "NotifyFunction" not in [i.logical_id for i in report.invocations]
        assert engine.slack.delivered() == []
    finally:
        engine.stop()


def test_a_substitution_with_no_value_is_refused(project_copy: Path) -> None:
    asl = project_copy / "statemachines" / "deploy.asl.json"
    asl.write_text(asl.read_text().replace("${PrepareFunctionArn}", "${PrepareFunctionArnTypo}"))
    with pytest.raises(TemplateError, match="PrepareFunctionArnTypo"):
        LocalEngine(template=project_copy / "template.yaml", config=project_copy / "harbormaster.yaml").start()
