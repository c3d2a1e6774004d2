"""Step Functions limits the engine enforces as AWS does (moto does not): 25,000 history events,
256 KB payloads that `States.ALL` cannot catch, and an execution name reserved for 90 days."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest

from harbormaster.local import LocalEngine
from harbormaster.local.sfn_rules import HISTORY_CAUSE, HISTORY_LIMIT
from tests.conftest import wait_for

pytestmark = pytest.mark.e2e
ROLE = "arn:aws:iam::123456789012:role/harbormaster-test"


@pytest.fixture(scope="module")
def engine() -> Iterator[LocalEngine]:
    with LocalEngine() as started:
        yield started


def machine(name: str, definition: dict[str, Any]) -> str:
    sfn = boto3.client("stepfunctions")
    arn: str = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    return arn


def finished(execution_arn: str, timeout: float = 120) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions")
    wait_for(lambda: sfn.describe_execution(executionArn=execution_arn)["status"] != "RUNNING", timeout, execution_arn)
    described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
    return described


def test_an_execution_fails_at_its_25000th_history_event(engine: LocalEngine) -> None:
    """A loop without end, as a poll that never sees its condition: AWS cuts it at event 25,000,
    which is the ExecutionFailed itself; the Catch around it does not run."""
    spin = {
        "StartAt": "Spin",
        "States": {
            "Spin": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "Look",
                        "States": {
                            "Look": {"Type": "Pass", "Next": "Done?"},
                            "Done?": {
                                "Type": "Choice",
                                "Choices": [{"Variable": "$.done", "BooleanEquals": True, "Next": "End"}],
                                "Default": "Look",
                            },
                            "End": {"Type": "Succeed"},
                        },
                    }
                ],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Succeed"},
        },
    }
    sfn = boto3.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=machine("spin", spin), input=json.dumps({"done": False}))["executionArn"]
    described = finished(arn)
    assert (described["status"], described["error"], described["cause"]) == ("FAILED", "States.Runtime", HISTORY_CAUSE)
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
    events = [event for page in pages for event in page["events"]]
    before, last = events[-2:]
    assert (last["id"], last["type"]) == (HISTORY_LIMIT, "ExecutionFailed")
    assert last["executionFailedEventDetails"] == {"error": "States.Runtime", "cause": HISTORY_CAUSE}
    assert before["id"] == HISTORY_LIMIT - 1 and before["type"] != "ExecutionFailed"
    assert len(events) == HISTORY_LIMIT and not any(e["type"].startswith("SucceedState") for e in events)


def test_a_state_output_over_256_kb_fails_the_execution_even_under_a_catch_all(engine: LocalEngine) -> None:
    big = {
        "StartAt": "Guarded",
        "States": {
            "Guarded": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Big", "States": {"Big": {"Type": "Pass", "Result": "x" * 300_000, "End": True}}}
                ],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Succeed"},
        },
    }
    small = json.loads(json.dumps(big).replace("x" * 300_000, "x" * 1_000))
    sfn = boto3.client("stepfunctions")
    failed = finished(sfn.start_execution(stateMachineArn=machine("big", big))["executionArn"])
    assert failed["status"] == "FAILED" and failed["error"] == "States.DataLimitExceeded"
    fine = finished(sfn.start_execution(stateMachineArn=machine("small", small))["executionArn"])
    assert fine["status"] == "SUCCEEDED"


def test_a_closed_executions_name_is_taken_for_90_days(engine: LocalEngine) -> None:
    arn = machine("quick", {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    sfn = boto3.client("stepfunctions")
    finished(sfn.start_execution(stateMachineArn=arn, name="api-dev-release-1")["executionArn"])
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=arn, name="api-dev-release-1")
    engine.clock.advance(timedelta(days=89))
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=arn, name="api-dev-release-1")
    engine.clock.advance(timedelta(days=2))
    again = sfn.start_execution(stateMachineArn=arn, name="api-dev-release-1")["executionArn"]
    assert finished(again)["status"] == "SUCCEEDED"


def test_a_task_token_is_answered_once(engine: LocalEngine) -> None:
    """A second SendTaskSuccess (or a failure after a success) on the same token is TaskTimedOut:
    the task is closed. moto let the second answer overwrite the first."""
    wake = engine.stack.function("WakeFunction").arn  # any function: its answer is not the task's
    arn = machine(
        "answered-once",
        {
            "StartAt": "Park",
            "States": {
                "Park": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                    "Parameters": {"FunctionName": wake, "Payload": {"token.$": "$$.Task.Token"}},
                    "TimeoutSeconds": 3600,
                    "End": True,
                }
            },
        },
    )
    sfn = boto3.client("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    wait_for(lambda: _events(execution)[-1]["type"] == "TaskSubmitted", 60, "the task to wait on its token")
    [scheduled] = [e for e in _events(execution) if e["type"] == "TaskScheduled"]
    token = json.loads(scheduled["taskScheduledEventDetails"]["parameters"])["Payload"]["token"]

    sfn.send_task_success(taskToken=token, output='{"first": true}')
    with pytest.raises(sfn.exceptions.TaskTimedOut):
        sfn.send_task_success(taskToken=token, output='{"second": true}')
    with pytest.raises(sfn.exceptions.TaskTimedOut):
        sfn.send_task_failure(taskToken=token, error="Late")
    assert json.loads(finished(execution)["output"]) == {"first": True}


def _events(execution_arn: str) -> list[dict[str, Any]]:
    return list(boto3.client("stepfunctions").get_execution_history(executionArn=execution_arn)["events"])
