"""What a scheduler run costs in AWS API calls, by the number of resources, side by side with a
naive reconciler that makes one call per resource (the shape of most hand-written schedulers).

The reference world (issue 18): N tagged EC2 instances, 5 RDS instances and 2 Aurora clusters on
one schedule, in moto with the engine's EC2 paging rule (DescribeInstances pages of up to 1,000
instances, as on AWS). Each reconciler gets a world of its own: a first run in the daytime (not
counted: it records what it finds), an idle run (nothing to do), then the stop transition at
20:30. Calls are counted client side with a botocore hook, so retries count; the summary event
each schedule publishes (one SNS call) is not part of `run()` and not counted for either.

The organization row: ORG_TOTAL instances over ORG_ACCOUNTS accounts (the hub and spokes reached
through spoke.yaml's role, with the engine's STS trust rule) x ORG_REGIONS regions, one schedule.
A scheduled run fans out one part per account and region (schedule/parts.py); each part is run
here as its Lambda would run it, and timed: the stop transition completes when every part has,
and no part may need more than a minute of work.

Run: make bench-scheduler   (or: .venv/bin/python bench/scheduler.py [N ...])
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import boto3
from measure import api_calls
from moto import mock_aws

from harbormaster.accounts import forget_sessions
from harbormaster.clients import reset_clients
from harbormaster.config import HarbormasterConfig, parse_config
from harbormaster.local import ec2_rules, organization, sts_rules
from harbormaster.local.patching import installed
from harbormaster.schedule import RunInput, run
from harbormaster.schedule.models import Part
from harbormaster.schedule.reconcile import configured_scopes
from harbormaster.schedule.resources import discover

SIZES = [500, 2000, 5000]
ORG_TOTAL, ORG_ACCOUNTS, ORG_REGIONS = 10_000, 4, ["ap-northeast-2", "us-east-1"]
HUB, EXTERNAL_ID = "123456789012", "bench-external-id"
DATABASES, CLUSTERS = 5, 2
KST = ZoneInfo("Asia/Seoul")
DAY = datetime(2026, 11, 30, 10, 0, tzinfo=KST)  # a monday: office-hours says running
EVENING = datetime(2026, 11, 30, 20, 30, tzinfo=KST)
TAG = "harbormaster:schedule"
TABLE = "bench"
CONFIG = """
schedules:
  office-hours:
    timezone: Asia/Seoul
    periods: [{begintime: "08:00", endtime: "20:00", weekdays: [mon-fri]}]
"""


def measure(size: int) -> dict[str, Any]:
    """Calls and wall seconds of the idle run and the stop transition, for both reconcilers."""
    config = parse_config(CONFIG)
    figures: dict[str, Any] = {"size": size}
    for name, reconcile in (("harbormaster", _harbormaster(config)), ("naive", _naive)):
        with _world(size):
            reconcile(DAY)
            for case, moment in (("idle", DAY), ("stop", EVENING)):
                with api_calls() as calls:
                    started = time.perf_counter()
                    reconcile(moment)
                    seconds = time.perf_counter() - started
                figures[f"{name}_{case}"] = sum(calls.values())
                figures[f"{name}_{case}_s"] = round(seconds, 2)
                if name == "harbormaster":
                    figures[f"{name}_{case}_calls"] = dict(sorted(calls.items()))
    return figures


def measure_organization(total: int = ORG_TOTAL) -> dict[str, Any]:
    """The stop transition of `total` instances spread over ORG_ACCOUNTS x ORG_REGIONS, part by part."""
    spokes = [f"{n:012d}" for n in range(111111111111, 111111111111 * ORG_ACCOUNTS, 111111111111)]
    accounts = [HUB, *spokes]
    config = parse_config(
        CONFIG
        + f"    accounts: [{', '.join(repr(a) for a in accounts)}]\n    regions: [{', '.join(ORG_REGIONS)}]\n"
        + f"spokes: {{external_id: {EXTERNAL_ID}}}\n"
    )
    each = total // (len(accounts) * len(ORG_REGIONS))
    with _world(0), installed(sts_rules.patches()):
        forget_sessions()
        for account in spokes:
            organization.deploy_spoke(HUB, account, ORG_REGIONS[0], EXTERNAL_ID)
        tags = [{"ResourceType": "instance", "Tags": [{"Key": TAG, "Value": "office-hours"}]}]
        for account in accounts:
            for region in ORG_REGIONS:
                organization.session_in(account, region).client("ec2").run_instances(
                    ImageId="ami-12c6146b",
                    MinCount=each,
                    MaxCount=each,
                    InstanceType="t4g.small",
                    TagSpecifications=tags,
                )
        scopes = configured_scopes(config)
        parts: list[dict[str, Any]] = []
        for moment, counted in ((DAY, False), (EVENING, True)):
            for scope in scopes:
                part = Part(run_id=moment.isoformat(), scope=scope, of=len(scopes))
                with api_calls() as calls:
                    started = time.perf_counter()
                    report, _ = run(config, RunInput(scheduled_time=moment, part=part), moment)
                    seconds = time.perf_counter() - started
                assert not report.failures(), report.failures()
                if counted:
                    parts.append(
                        {
                            "scope": str(scope),
                            "stopped": len(report.changed()),
                            "calls": sum(calls.values()),
                            "s": seconds,
                        }
                    )
        forget_sessions()
    return {
        "total": each * len(accounts) * len(ORG_REGIONS) + DATABASES + CLUSTERS,  # the databases: the hub's
        "accounts": len(accounts),
        "regions": len(ORG_REGIONS),
        "parts": len(parts),
        "stopped": sum(p["stopped"] for p in parts),
        "calls": sum(p["calls"] for p in parts),
        "slowest_part_s": round(max(p["s"] for p in parts), 2),
        "slowest_part": max(parts, key=lambda p: p["s"])["scope"],
    }


def _harbormaster(config: HarbormasterConfig) -> Callable[[datetime], None]:
    def reconcile(moment: datetime) -> None:
        report, _ = run(config, RunInput(scheduled_time=moment), moment)
        assert not report.failures(), report.failures()

    return reconcile


def _naive(moment: datetime) -> None:
    """One GetItem per resource; on a transition one stop or start call and one PutItem each. The
    same discovery as Harbormaster's (paged, filtered by tag), so the difference is the rest."""
    desired = "running" if 8 <= moment.astimezone(KST).hour < 20 else "stopped"
    items = boto3.resource("dynamodb").Table(TABLE)
    ec2, rds = boto3.client("ec2"), boto3.client("rds")
    found, _ = discover()
    for resource in found:
        record = items.get_item(Key={"pk": resource.arn, "sk": "naive"}).get("Item") or {}
        if record.get("last") == desired or resource.actual == desired:
            if record.get("last") != desired:
                items.put_item(Item={"pk": resource.arn, "sk": "naive", "last": desired})
            continue
        stopping = desired == "stopped"
        if resource.kind == "ec2":
            (ec2.stop_instances if stopping else ec2.start_instances)(InstanceIds=[resource.id])
        elif resource.kind == "rds":
            (rds.stop_db_instance if stopping else rds.start_db_instance)(DBInstanceIdentifier=resource.id)
        else:
            (rds.stop_db_cluster if stopping else rds.start_db_cluster)(DBClusterIdentifier=resource.id)
        items.put_item(Item={"pk": resource.arn, "sk": "naive", "last": desired})


@contextmanager
def _world(size: int) -> Iterator[None]:
    environment = {"TABLE_NAME": TABLE, "AWS_DEFAULT_REGION": "ap-northeast-2"}
    with mock_aws(), installed(ec2_rules.patches()), mock.patch.dict("os.environ", environment):
        reset_clients()
        boto3.client("dynamodb").create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
        )
        tags = [{"Key": TAG, "Value": "office-hours"}]
        boto3.client("ec2").run_instances(
            ImageId="ami-12c6146b",
            MinCount=size,
            MaxCount=size,
            InstanceType="t4g.small",
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
        )
        rds = boto3.client("rds")
        for n in range(DATABASES):
            rds.create_db_instance(
                DBInstanceIdentifier=f"db-{n}",
                DBInstanceClass="db.t4g.micro",
                Engine="postgres",
                AllocatedStorage=20,
                Tags=tags,
            )
        for n in range(CLUSTERS):
            rds.create_db_cluster(
                DBClusterIdentifier=f"aurora-{n}",
                Engine="aurora-postgresql",
                MasterUsername="app",
                MasterUserPassword="not-a-real-password",
                Tags=tags,
            )
        try:
            yield
        finally:
            reset_clients()


def main() -> None:
    sizes = [int(arg) for arg in sys.argv[1:]] or SIZES
    print("| N (+5 RDS, 2 Aurora) | idle: Harbormaster | idle: naive | stop: Harbormaster | stop: naive |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for size in sizes:
        f = measure(size)
        print(
            f"| {size:,} | {f['harbormaster_idle']} ({f['harbormaster_idle_s']} s) | {f['naive_idle']:,} "
            f"({f['naive_idle_s']} s) | {f['harbormaster_stop']:,} ({f['harbormaster_stop_s']} s) | "
            f"{f['naive_stop']:,} ({f['naive_stop_s']} s) |",
            flush=True,
        )
        print(f"  harbormaster idle: {f['harbormaster_idle_calls']}")
        print(f"  harbormaster stop: {f['harbormaster_stop_calls']}")
    if not sys.argv[1:]:
        o = measure_organization()
        print(
            f"organization: {o['stopped']:,} of {o['total']:,} instances stopped over {o['accounts']} accounts x "
            f"{o['regions']} regions in {o['parts']} parts, {o['calls']:,} calls; slowest part "
            f"{o['slowest_part_s']} s ({o['slowest_part']})"
        )


if __name__ == "__main__":
    main()
