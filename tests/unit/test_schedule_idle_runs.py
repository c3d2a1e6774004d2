"""A scheduler run with nothing to do costs the same whatever the number of resources; anything
that could change a decision brings a full run back; a stale idle mark cannot be kept.

The reconciler itself on a moto world (no engine): calls counted client side, as on AWS."""

from __future__ import annotations

import collections
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import boto3
import botocore.client
import pytest
from moto import mock_aws

from harbormaster.clients import reset_clients
from harbormaster.config import parse_config
from harbormaster.local import ec2_rules
from harbormaster.local.patching import installed
from harbormaster.schedule import RunInput, run
from harbormaster.state import resources as records
from harbormaster.state.idle_marks import IdleMarks
from tests.conftest import create_items_table

KST = ZoneInfo("Asia/Seoul")
DAY = datetime(2026, 11, 30, 10, 0, tzinfo=KST)  # a monday morning: office-hours says running
EVENING = datetime(2026, 11, 30, 20, 30, tzinfo=KST)
CONFIG = parse_config(
    "schedules:\n  office-hours:\n    timezone: Asia/Seoul\n"
    '    periods: [{begintime: "08:00", endtime: "20:00", weekdays: [mon-fri]}]\n'
)


@pytest.fixture(autouse=True)
def world() -> Iterator[None]:
    with mock_aws(), installed(ec2_rules.patches()), mock.patch.dict("os.environ", {"TABLE_NAME": "t"}):
        reset_clients()
        create_items_table("t")
        yield
        reset_clients()


def launch(count: int) -> list[str]:
    tags = [{"ResourceType": "instance", "Tags": [{"Key": "harbormaster:schedule", "Value": "office-hours"}]}]
    found = boto3.client("ec2").run_instances(
        ImageId="ami-12c6146b", MinCount=count, MaxCount=count, TagSpecifications=tags
    )
    return sorted(i["InstanceId"] for i in found["Instances"])


@contextmanager
def counted() -> Iterator[collections.Counter[str]]:
    calls: collections.Counter[str] = collections.Counter()
    original = botocore.client.BaseClient._make_api_call

    def counting(client: Any, operation: str, params: Any) -> Any:
        calls[operation] += 1
        return original(client, operation, params)

    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", counting):
        yield calls


def scheduled(at: datetime) -> dict[str, str]:
    """instance id → outcome action of one scheduled run."""
    report, _ = run(CONFIG, RunInput(scheduled_time=at), at)
    return {o.id: o.action for o in report.outcomes}


@pytest.mark.parametrize("count", [10, 60])
def test_an_idle_run_costs_the_same_whatever_the_number_of_resources(count: int) -> None:
    launch(count)
    scheduled(DAY)  # the first run reads every record and remembers the state
    with counted() as calls:
        outcomes = scheduled(DAY)
    assert set(outcomes.values()) == {"none"}
    # Discovery (one page of each kind), the idle marks (one Query) and the schedule's override.
    assert calls == {
        "DescribeInstances": 1,
        "DescribeAutoScalingGroups": 1,
        "DescribeDBInstances": 1,
        "DescribeDBClusters": 1,
        "ListClusters": 1,
        "Query": 1,
        "GetItem": 1,
    }


def test_a_transition_reads_and_writes_the_records_in_bulk() -> None:
    instances = launch(230)
    scheduled(DAY)
    with counted() as calls:
        outcomes = scheduled(EVENING)
    assert [outcomes[i] for i in instances] == ["stop"] * 230
    assert calls["BatchGetItem"] == 3  # 100 keys per call
    assert calls["BatchWriteItem"] == 10  # 25 items per call
    assert calls["StopInstances"] == 5  # 50 instances per call
    assert calls["GetItem"] + calls["UpdateItem"] + calls["PutItem"] <= 3  # override, the idle mark
    assert records.get(instances[0])["last_desired"] == "stopped"


def test_anything_that_could_change_a_decision_brings_a_full_run_back() -> None:
    first, second, *_ = launch(3)
    scheduled(DAY)
    scheduled(DAY)  # idle from here
    boto3.client("ec2").stop_instances(InstanceIds=[first])  # by hand
    with counted() as calls:
        assert scheduled(DAY)[first] == "none"  # left until the next boundary, as before
    assert calls["BatchGetItem"] == 1, "a resource changed: decided in full"
    with counted() as calls:
        scheduled(DAY)
    assert "BatchGetItem" not in calls, "nothing changed since: idle again"
    [new] = launch(1)
    boto3.client("ec2").stop_instances(InstanceIds=[new])
    assert scheduled(DAY)[new] == "start", "a new member is a first run for it"
    outcomes = scheduled(EVENING)
    assert outcomes[second] == "stop" and outcomes[first] == "none", "a boundary"


def test_a_run_that_wrote_records_meanwhile_refuses_the_idle_runs_stale_mark() -> None:
    """Run A (scheduled, daytime) decides nothing to do; between its read of the records and its
    mark, run B (a one-shot stop) stops the instances and records them stopped. A's mark is then
    refused: after someone starts the instances again, the world looks as A saw it, but the
    records say stopped, so the next run decides in full and starts the instance still off."""
    kept_off, *others = launch(3)
    scheduled(DAY)
    boto3.client("ec2").stop_instances(InstanceIds=[kept_off])  # by hand: left alone by daytime runs
    read = records.get_many

    def then_run_b(arns: list[str]) -> dict[str, dict[str, Any]]:
        found = read(arns)
        with mock.patch.object(records, "get_many", read):  # run B reads plainly
            run(CONFIG, RunInput(action="stop", schedule="office-hours"), DAY)
        return found

    with mock.patch.object(records, "get_many", then_run_b):
        assert set(scheduled(DAY).values()) == {"none"}  # run A, around run B
    assert IdleMarks().all()["office-hours"].fingerprint is None, "A's mark was refused"

    boto3.client("ec2").start_instances(InstanceIds=others)  # as A saw the world
    assert scheduled(DAY)[kept_off] == "start", "the records changed: decided in full"
