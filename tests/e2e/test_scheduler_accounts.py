"""One schedule across a hub and two spoke accounts in two regions (issue 18), through the local
engine: the hub reaches each spoke through the role spoke.yaml creates there, which STS grants only
to the hub's account of the organization presenting the external id (local/sts_rules.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from botocore.exceptions import ClientError

from harbormaster.cli.schedule import status_rows
from harbormaster.config import load_config
from harbormaster.doctor.checks import diagnose
from harbormaster.doctor.findings import Status
from harbormaster.local import LocalEngine
from harbormaster.local.engine import ACCOUNT

pytestmark = pytest.mark.e2e
KST = ZoneInfo("Asia/Seoul")
TAG = "harbormaster:schedule"
SPOKES = ["111111111111", "222222222222"]
REGIONS = ["ap-northeast-2", "us-east-1"]
EXTERNAL_ID = "hm-7f3a"
CONFIG = f"""
environments: {{}}
schedules:
  office-hours:
    timezone: Asia/Seoul
    periods: [{{begintime: "08:00", endtime: "20:00", weekdays: [mon-fri]}}]
    accounts: ["{ACCOUNT}", {", ".join(f'"{a}"' for a in SPOKES)}, "EXTRA"]
    regions: [{", ".join(REGIONS)}]
  seoul-only:
    timezone: Asia/Seoul
    periods: [{{begintime: "08:00", endtime: "20:00", weekdays: [mon-fri]}}]
spokes: {{role_name: harbormaster-spoke, external_id: {EXTERNAL_ID}}}
slack:
  routes: {{monitoring: {{webhook_secret: hm/slack/monitoring}}}}
  default_route: monitoring
"""


@dataclass
class Organization:
    engine: LocalEngine
    instances: dict[tuple[str, str], str]  # (account, region) → its office-hours instance

    def state(self, account: str, region: str) -> str:
        ec2 = self.engine.account(account).client("ec2", region_name=region)
        found = ec2.describe_instances(InstanceIds=[self.instances[(account, region)]])
        return str(found["Reservations"][0]["Instances"][0]["State"]["Name"])

    def states(self) -> set[str]:
        return {self.state(account, region) for account, region in self.instances}

    def until(self, moment: datetime) -> Any:
        return self.engine.advance(moment - self.engine.clock.now)


def _launch(engine: LocalEngine, account: str, region: str, schedule: str = "office-hours") -> str:
    ec2 = engine.account(account).client("ec2", region_name=region)
    tags = [{"ResourceType": "instance", "Tags": [{"Key": TAG, "Value": schedule}]}]
    found = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, TagSpecifications=tags)
    return str(found["Instances"][0]["InstanceId"])


def start(tmp_path: Path, extra_account: str = "333333333333") -> Organization:
    path = tmp_path / "harbormaster.yaml"
    path.write_text(CONFIG.replace("EXTRA", extra_account))
    engine = LocalEngine(
        config=path,
        slack_messages_per_second=1000,
        start_time=datetime(2026, 11, 27, 18, 30, tzinfo=KST),  # a friday evening
        parameters={"ScheduleRate": "rate(12 hours)"},  # runs at 06:30 and 18:30: few runs over a weekend
    )
    engine.start()
    for spoke in SPOKES:
        engine.deploy_spoke(spoke, external_id=EXTERNAL_ID)
    instances = {(a, r): _launch(engine, a, r) for a in [ACCOUNT, *SPOKES] for r in REGIONS}
    return Organization(engine, instances)


@pytest.fixture
def org(tmp_path: Path) -> Iterator[Organization]:
    started = start(tmp_path)
    yield started
    started.engine.stop()


def _named(account: str, region: str, instance: str) -> str:
    """How reports name a resource: `account/region/id` outside the hub's own account and region
    (`-` for the hub's own), the bare id inside."""
    if (account, region) == (ACCOUNT, REGIONS[0]):
        return instance
    return f"{'-' if account == ACCOUNT else account}/{'-' if region == REGIONS[0] else region}/{instance}"


def _parts(report: Any) -> list[Any]:
    """The invocations of the report's last scheduler run: one part per account and region."""
    runs = [i for i in report.invocations if i.logical_id == "SchedulerFunction"]
    last = next(i for i in reversed(runs) if "parts" in i.response)  # the scheduled invocation fanned out
    return [i for i in runs if i.event.get("part") and i.event["scheduled_time"] == last.event["scheduled_time"]]


def _outcomes(report: Any) -> list[dict[str, Any]]:
    """The outcomes of the report's last scheduler run, all parts together."""
    return [outcome for part in _parts(report) for outcome in part.response["outcomes"]]


def test_one_schedule_stops_and_starts_a_hub_and_two_spokes_in_two_regions(org: Organization) -> None:
    elsewhere = _launch(org.engine, ACCOUNT, "us-east-1", schedule="seoul-only")  # its schedule names no region
    assert org.states() == {"running"}
    stopped = org.until(datetime(2026, 11, 28, 6, 31, tzinfo=KST))  # the first run after 20:00
    assert org.states() == {"stopped"}
    stops = [o for o in _outcomes(stopped) if o["action"] == "stop"]
    expected = [_named(account, region, iid) for (account, region), iid in org.instances.items()]
    assert sorted(o["id"] for o in stops) == sorted(expected)
    [summary] = [r.body["text"] for r in org.engine.slack.delivered() if "Schedule stopped" in r.body["text"]]
    assert summary.endswith("office-hours: 6 resource(s)"), "one summary for the schedule, whatever the parts"
    # The account without a spoke stack cannot be reached: said, and the others went on.
    unreachable = [o for o in _outcomes(stopped) if o["kind"] == "scope"]
    assert sorted(o["id"] for o in unreachable) == ["333333333333/-", "333333333333/us-east-1"]
    assert all(o["action"] == "failed" and "AccessDenied" in o["reason"] for o in unreachable)
    # A resource in a region its schedule does not name is reported and left alone.
    [skipped] = [o for o in _outcomes(stopped) if o["id"].endswith(elsewhere)]
    assert skipped["action"] == "skipped" and "does not name" in skipped["reason"]
    ec2 = boto3.client("ec2", region_name="us-east-1")
    state = ec2.describe_instances(InstanceIds=[elsewhere])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state == "running"
    org.until(datetime(2026, 11, 30, 18, 31, tzinfo=KST))  # the first run after monday 08:00
    assert org.states() == {"running"}


def test_sts_grants_the_spoke_role_to_the_hub_with_the_external_id_only_and_doctor_says_so(
    org: Organization,
) -> None:
    """What AWS checks and moto did not: the role exists, the caller is the trusted account of the
    organization, and the external id matches."""
    sts = boto3.client("sts")
    role = f"arn:aws:iam::{SPOKES[0]}:role/harbormaster-spoke"
    assert sts.assume_role(RoleArn=role, RoleSessionName="test", ExternalId=EXTERNAL_ID)["Credentials"]
    for arn, external_id in [
        (role, "guessed"),
        (f"arn:aws:iam::{SPOKES[0]}:role/no-such-role", EXTERNAL_ID),
        ("arn:aws:iam::333333333333:role/harbormaster-spoke", EXTERNAL_ID),
    ]:
        with pytest.raises(ClientError, match="AccessDenied"):
            sts.assume_role(RoleArn=arn, RoleSessionName="test", ExternalId=external_id)
    # Another account, even holding the external id, is not the hub.
    outsider = org.engine.account("444444444444").client("sts")
    with pytest.raises(ClientError, match="AccessDenied"):
        outsider.assume_role(RoleArn=role, RoleSessionName="test", ExternalId=EXTERNAL_ID)

    config = load_config(str(org.engine.config_path))
    rows = {row["resource"]: row for row in status_rows(config, org.engine.clock.now)}
    for (account, region), iid in org.instances.items():  # `schedule status` sees every account and region
        row = rows[_named(account, region, iid)]
        assert row["schedule"] == "office-hours" and row["desired"] == "running"
    assert "AccessDenied" in rows["333333333333/-"]["desired"]

    findings = [f for f in diagnose(config) if f.check == "spoke role"]
    assert {f.scope: f.status for f in findings} == {
        "account 111111111111": Status.OK,
        "account 222222222222": Status.OK,
        "account 333333333333": Status.PROBLEM,
    }
    [problem] = [f for f in findings if f.status is Status.PROBLEM]
    assert "AccessDenied" in problem.detail and problem.fix and "spoke.yaml" in problem.fix


def test_a_spoke_that_trusts_another_organization_refuses_the_hub(tmp_path: Path) -> None:
    started = start(tmp_path, extra_account="555555555555")
    try:
        started.engine.deploy_spoke("555555555555", external_id=EXTERNAL_ID, organization_id="o-a1b2c3d4e5")
        report = started.until(datetime(2026, 11, 28, 6, 31, tzinfo=KST))
        unreachable = [o for o in _outcomes(report) if o["kind"] == "scope"]
        assert sorted(o["id"] for o in unreachable) == ["555555555555/-", "555555555555/us-east-1"]
        assert all("AccessDenied" in o["reason"] for o in unreachable)
        assert started.states() == {"stopped"}
    finally:
        started.engine.stop()
