"""Cost-saving schedules through the local engine on the real template, on a virtual clock
(issue: scheduler). Every resource kind is tagged `office-hours` (mon-fri 08:00-20:00 Asia/Seoul)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import boto3
import botocore.client
import pytest

from harbormaster.local import LocalEngine

pytestmark = pytest.mark.e2e
KST = ZoneInfo("Asia/Seoul")
TAG = "harbormaster:schedule"
CONFIG = """
environments: {}
schedules:
  office-hours:
    timezone: Asia/Seoul
    periods: [{begintime: "08:00", endtime: "20:00", weekdays: [mon-fri]}]
    holidays: HOLIDAYS
slack:
  routes: {monitoring: {webhook_secret: hm/slack/monitoring}}
  default_route: monitoring
"""
STOPPING = {"StopInstances", "UpdateAutoScalingGroup", "StopDBInstance", "StopDBCluster", "UpdateService"}
STARTING = {"StartInstances", "UpdateAutoScalingGroup", "StartDBInstance", "StartDBCluster", "UpdateService"}


@dataclass
class Office:
    engine: LocalEngine
    instances: list[str]
    stray: str  # tagged with a schedule that does not exist
    calls: list[str] = field(default_factory=list)  # mutating API calls made by the handlers, in order

    def ec2_state(self, instance: str) -> str:
        found = boto3.client("ec2").describe_instances(InstanceIds=[instance])
        return str(found["Reservations"][0]["Instances"][0]["State"]["Name"])

    def asg(self) -> tuple[int, int, int]:
        group = boto3.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=["dev-asg"])
        g = group["AutoScalingGroups"][0]
        return g["MinSize"], g["MaxSize"], g["DesiredCapacity"]

    def rds(self) -> str:
        return str(
            boto3.client("rds").describe_db_instances(DBInstanceIdentifier="dev-db")["DBInstances"][0][
                "DBInstanceStatus"
            ]
        )

    def aurora(self) -> str:
        return str(
            boto3.client("rds").describe_db_clusters(DBClusterIdentifier="dev-aurora")["DBClusters"][0]["Status"]
        )

    def ecs_desired(self) -> int:
        found = boto3.client("ecs").describe_services(cluster="dev", services=["api"])["services"][0]
        return int(found["desiredCount"])

    def until(self, moment: datetime) -> Any:
        return self.engine.advance(moment - self.engine.clock.now)


def start_office(tmp_path: Path, holidays: str = "[]", at: datetime | None = None) -> Office:
    path = tmp_path / "harbormaster.yaml"
    path.write_text(CONFIG.replace("HOLIDAYS", holidays))
    engine = LocalEngine(
        config=path,
        slack_messages_per_second=1000,
        start_time=at or datetime(2026, 11, 27, 18, 30, tzinfo=KST),  # a friday evening
        parameters={"ScheduleRate": "rate(1 hour)"},
    )
    engine.start()
    ec2 = boto3.client("ec2")
    tags = [{"ResourceType": "instance", "Tags": [{"Key": TAG, "Value": "office-hours"}]}]
    reservation = ec2.run_instances(ImageId="ami-12c6146b", MinCount=2, MaxCount=2, TagSpecifications=tags)
    instances = sorted(i["InstanceId"] for i in reservation["Instances"])
    stray_tags = [{"ResourceType": "instance", "Tags": [{"Key": TAG, "Value": "night-owl"}]}]
    stray = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, TagSpecifications=stray_tags)
    template = ec2.create_launch_template(
        LaunchTemplateName="dev", LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t4g.small"}
    )
    boto3.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName="dev-asg",
        LaunchTemplate={"LaunchTemplateId": template["LaunchTemplate"]["LaunchTemplateId"]},
        MinSize=1,
        MaxSize=3,
        DesiredCapacity=2,
        AvailabilityZones=["ap-northeast-2a"],
        Tags=[{"Key": TAG, "Value": "office-hours", "PropagateAtLaunch": True}],
    )
    rds = boto3.client("rds")
    db_tags = [{"Key": TAG, "Value": "office-hours"}]
    rds.create_db_instance(
        DBInstanceIdentifier="dev-db",
        DBInstanceClass="db.t4g.micro",
        Engine="postgres",
        AllocatedStorage=20,
        Tags=db_tags,
    )
    rds.create_db_cluster(
        DBClusterIdentifier="dev-aurora",
        Engine="aurora-postgresql",
        MasterUsername="app",
        MasterUserPassword="not-a-real-password",
        Tags=db_tags,
    )
    engine.fleet.ecs.service("dev", "api", image="api:1", desired=3, tags={TAG: "office-hours"})
    office = Office(engine, instances, stray["Instances"][0]["InstanceId"])
    return office


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    started = start_office(tmp_path)
    original = botocore.client.BaseClient._make_api_call

    def recording(client: Any, operation: str, params: Any) -> Any:
        if getattr(started.engine.runtime.invoking, "active", False) and operation in STOPPING | STARTING:
            started.calls.append(operation)
        return original(client, operation, params)

    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", recording):
        yield started
    started.engine.stop()


def reconciler_outcomes(report: Any) -> list[dict[str, Any]]:
    """The outcomes of the last reconciler run in the report."""
    runs = [i for i in report.invocations if i.logical_id == "SchedulerFunction"]
    return list(runs[-1].response["outcomes"])


def test_a_week_of_office_hours(office: Office) -> None:
    # Friday 19:30: office hours; the first runs see everything running as it should be.
    office.until(datetime(2026, 11, 27, 19, 30, tzinfo=KST))
    assert office.calls == []

    # Friday 20:00: everything stops at the first run after it (runs are hourly here, every 5
    # minutes by default); services and servers before the databases.
    report = office.until(datetime(2026, 11, 27, 21, 0, tzinfo=KST))
    assert [office.ec2_state(i) for i in office.instances] == ["stopped", "stopped"]
    assert office.asg() == (0, 0, 0)
    assert office.ecs_desired() == 0
    assert (office.rds(), office.aurora()) == ("stopped", "stopped")
    assert office.calls.index("StopDBInstance") > max(
        office.calls.index(op) for op in ("UpdateService", "UpdateAutoScalingGroup", "StopInstances")
    )
    outcomes = reconciler_outcomes(report)
    [stray] = [o for o in outcomes if o["id"] == office.stray]
    assert (stray["action"], stray["reason"]) == ("skipped", "unknown schedule 'night-owl'")
    assert office.ec2_state(office.stray) == "running"
    members = [o for o in outcomes if o["action"] == "skipped" and "member of Auto Scaling group" in o["reason"]]
    assert len(members) == 2  # the ASG's instances are left to their group
    [summary] = [m for m in office.engine.slack.delivered("monitoring") if "Schedule stopped" in m.body["text"]]
    assert "dev-db" in str(summary.body) and "Instance-hours saved" in str(summary.body)

    # Friday 23:00: someone starts a dev box; it is left running until the next boundary.
    office.until(datetime(2026, 11, 27, 23, 0, tzinfo=KST))
    boto3.client("ec2").start_instances(InstanceIds=[office.instances[0]])
    office.calls.clear()
    office.until(datetime(2026, 11, 30, 7, 0, tzinfo=KST))  # through the weekend, hourly runs
    assert office.calls == []
    assert office.ec2_state(office.instances[0]) == "running"

    # Monday 08:00: databases first, then the rest, capacities restored exactly.
    office.until(datetime(2026, 11, 30, 9, 0, tzinfo=KST))
    assert [office.ec2_state(i) for i in office.instances] == ["running", "running"]
    assert office.asg() == (1, 3, 2)
    assert office.ecs_desired() == 3
    assert (office.rds(), office.aurora()) == ("available", "available")
    first_app_start = min(
        office.calls.index(op) for op in ("StartInstances", "UpdateAutoScalingGroup", "UpdateService")
    )
    assert office.calls.index("StartDBInstance") < first_app_start
    assert office.calls.index("StartDBCluster") < first_app_start


def test_a_database_aws_restarts_after_7_days_is_stopped_again(tmp_path: Path) -> None:
    # A two-week closure: stopped from friday 20:00 until the 14th.
    office = start_office(tmp_path, holidays='["2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04"]')
    try:
        office.until(datetime(2026, 11, 27, 21, 0, tzinfo=KST))
        assert office.rds() == "stopped"
        office.until(datetime(2026, 12, 4, 21, 0, tzinfo=KST))
        boto3.client("rds").start_db_instance(DBInstanceIdentifier="dev-db")  # what AWS does after 7 days
        report = office.until(datetime(2026, 12, 4, 22, 0, tzinfo=KST))

        assert office.rds() == "stopped"
        [outcome] = [o for o in reconciler_outcomes(report) if o["id"] == "dev-db"]
        assert outcome["action"] == "stop" and "AWS restarted it after 7 days" in outcome["reason"]
    finally:
        office.engine.stop()


def test_a_one_shot_stop_and_a_dry_run(office: Office) -> None:
    one_shot = {"action": "stop", "schedule": "office-hours"}
    dry = office.engine.runtime.invoke("SchedulerFunction", {**one_shot, "dry_run": True}).response
    assert {o["action"] for o in dry["outcomes"] if o["schedule"] == "office-hours"} == {"stop"}
    assert all(o["dry_run"] for o in dry["outcomes"] if o["action"] == "stop")
    assert office.calls == [] and office.asg() == (1, 3, 2)

    office.engine.runtime.invoke("SchedulerFunction", one_shot)
    assert office.asg() == (0, 0, 0) and office.rds() == "stopped"


def test_overlapping_runs_cannot_lose_a_saved_capacity(office: Office) -> None:
    """Run A (a one-shot start: the group is running already) has read the group's record when
    run B (a one-shot stop) saves its capacity and scales it to 0. A then remembers what it saw.
    Before, A wrote back the whole record it had read, without the saved capacity, and the next
    start found nothing to restore: the group stayed at 0."""
    held = office.engine.pause(  # the records are read in bulk
        "dynamodb", "BatchGetItem", when=lambda params: "dev-asg" in str(params.get("RequestItems")), after=True
    )
    run_a = threading.Thread(
        target=office.engine.runtime.invoke, args=("SchedulerFunction", {"action": "start", "schedule": "office-hours"})
    )
    run_a.start()
    held.wait_until_reached()
    office.engine.runtime.invoke("SchedulerFunction", {"action": "stop", "schedule": "office-hours"})
    assert office.asg() == (0, 0, 0)
    held.resume()
    run_a.join(timeout=60)
    assert not run_a.is_alive()

    office.engine.runtime.invoke("SchedulerFunction", {"action": "start", "schedule": "office-hours"})
    assert office.asg() == (1, 3, 2)


def test_a_second_stop_keeps_the_capacity_saved_by_the_first() -> None:
    from moto import mock_aws

    from harbormaster.state import resources as records
    from tests.conftest import create_items_table

    with mock_aws(), mock.patch.dict("os.environ", {"TABLE_NAME": "t"}):
        from harbormaster.clients import reset_clients

        reset_clients()
        create_items_table("t")
        arn = "arn:aws:autoscaling:ap-northeast-2:123456789012:autoScalingGroup:x:autoScalingGroupName/dev-asg"
        assert records.save_capacity(arn, {"min": 1, "max": 3, "desired": 2})
        assert not records.save_capacity(arn, {"min": 0, "max": 0, "desired": 0})  # what the second stop saw
        records.remember(arn, last_desired="stopped")
        assert records.get(arn)["saved"] == {"min": 1, "max": 3, "desired": 2}
        assert not records.forget_capacity(arn, {"min": 0, "max": 0, "desired": 0})
        assert records.forget_capacity(arn, {"min": 1, "max": 3, "desired": 2})
        assert "saved" not in records.get(arn)
        reset_clients()


def test_schedule_status_and_a_dry_run_from_the_cli(office: Office, capsys: pytest.CaptureFixture[str]) -> None:
    from harbormaster.cli.main import main

    config = str(office.engine.config_path)
    office.until(datetime(2026, 11, 27, 19, 30, tzinfo=KST))
    capsys.readouterr()
    assert main(["schedule", "status", "--config", config, "--output", "json"]) == 0
    rows = {r["resource"]: r for r in json.loads(capsys.readouterr().out)}
    # The CLI evaluates at the engine's virtual "now" (harbormaster.clock).
    assert re.fullmatch(r"\w{3} \d{4}-\d\d-\d\d (08|20):00 KST → (running|stopped)", rows["dev-db"]["next_change"])
    assert rows[office.stray]["desired"] == "unknown schedule"
    assert (
        main(["schedule", "run", "--dry-run", "--action", "stop", "--schedule", "office-hours", "--config", config])
        == 0
    )
    assert "stop" in capsys.readouterr().out
    assert office.rds() == "available" and office.asg() == (1, 3, 2)  # a dry run changes nothing
    assert main(["schedule", "run", "--action", "stop", "--schedule", "nope", "--config", config]) == 2


def test_an_auto_scaled_service_stays_at_zero_and_gets_its_scaling_back(office: Office) -> None:
    """Application Auto Scaling scales a service below its scalable target's minimum back out to
    it (the engine does, as AWS does): the stop sets the target's min/max to 0 first and the start
    restores them, then the desired count."""
    scaling = boto3.client("application-autoscaling")
    target = {
        "ServiceNamespace": "ecs",
        "ResourceId": "service/dev/api",
        "ScalableDimension": "ecs:service:DesiredCount",
    }
    scaling.register_scalable_target(**target, MinCapacity=2, MaxCapacity=6)

    office.until(datetime(2026, 11, 27, 21, 0, tzinfo=KST))  # Friday night: stopped
    office.until(datetime(2026, 11, 28, 12, 0, tzinfo=KST))  # and still at zero on Saturday
    assert office.ecs_desired() == 0
    [held] = scaling.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=["service/dev/api"])[
        "ScalableTargets"
    ]
    assert (held["MinCapacity"], held["MaxCapacity"]) == (0, 0)

    office.until(datetime(2026, 11, 30, 9, 0, tzinfo=KST))  # Monday: restored exactly
    assert office.ecs_desired() == 3
    [back] = scaling.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=["service/dev/api"])[
        "ScalableTargets"
    ]
    assert (back["MinCapacity"], back["MaxCapacity"]) == (2, 6)


def test_the_engine_scales_a_service_set_below_its_minimum_back_out(office: Office) -> None:
    """What made the old stop fail: desired 0 under a minimum of 2 does not stick."""
    boto3.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId="service/dev/api",
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=2,
        MaxCapacity=6,
    )
    boto3.client("ecs").update_service(cluster="dev", service="api", desiredCount=0)
    assert office.ecs_desired() == 2


def test_a_start_that_falls_back_to_stopped_is_reported_with_its_reason_and_retried(office: Office) -> None:
    """AWS accepts StartInstances, then the instance stops again (an encrypted volume whose KMS key
    the role cannot use). The next run reports it with EC2's reason and starts it again; once the
    key is fixed, the start holds. A box stopped by hand is still left alone."""
    broken, by_hand = office.instances
    office.until(datetime(2026, 11, 27, 21, 0, tzinfo=KST))  # Friday night: both stopped
    office.engine.fleet.fail_starts(
        broken,
        "Client.InvalidKMSKey.InvalidState",
        "Client.InvalidKMSKey.InvalidState: The KMS key provided is in an incorrect state",
    )

    office.until(datetime(2026, 11, 30, 8, 45, tzinfo=KST))  # Monday's first run: started (accepted)
    assert office.ec2_state(broken) == "stopped"
    boto3.client("ec2").stop_instances(InstanceIds=[by_hand])  # someone stops the other one

    office.calls.clear()
    report = office.until(datetime(2026, 11, 30, 9, 45, tzinfo=KST))  # the next run
    outcomes = {o["id"]: o for o in reconciler_outcomes(report)}
    assert outcomes[broken]["action"] == "failed"
    assert "did not hold: Client.InvalidKMSKey.InvalidState" in outcomes[broken]["reason"]
    assert office.calls.count("StartInstances") == 1  # the retry, for the broken one only
    assert outcomes[by_hand]["action"] == "none" and office.ec2_state(by_hand) == "stopped"
    [summary] = [m for m in office.engine.slack.delivered("monitoring") if "InvalidKMSKey" in str(m.body)]
    assert broken in str(summary.body)

    office.engine.fleet.fix_starts(broken)  # the key policy is fixed
    office.until(datetime(2026, 11, 30, 10, 45, tzinfo=KST))
    assert office.ec2_state(broken) == "running"


def test_keep_on_until_23_overrides_the_20_00_stop_and_off_now_stops_at_the_next_run(
    office: Office, capsys: pytest.CaptureFixture[str]
) -> None:
    """Working late: at 19:30 someone keeps the schedule on until 23:00. The 20:00 boundary stops
    nothing; the first run after 23:00 stops everything. The next morning, `off now` stops it all
    at the next run in the middle of office hours. Both show in `schedule status` and reach Slack."""
    from harbormaster.cli.main import main

    config = str(office.engine.config_path)
    office.until(datetime(2026, 11, 27, 19, 30, tzinfo=KST))  # Friday
    keep = ["schedule", "keep", "office-hours", "on", "--until", "23:00", "--by", "kim", "--config", config]
    assert main(keep) == 0
    assert "kept on by kim until Fri 2026-11-27 23:00 KST" in capsys.readouterr().out
    assert main(["schedule", "status", "--config", config, "--output", "json"]) == 0
    rows = {r["resource"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["dev-db"]["next_change"] == "override by kim ends Fri 2026-11-27 23:00 KST"

    office.calls.clear()
    office.until(datetime(2026, 11, 27, 22, 45, tzinfo=KST))  # past 20:00: nothing stopped
    assert office.calls == [] and office.ecs_desired() == 3 and office.rds() == "available"
    office.until(datetime(2026, 11, 27, 23, 45, tzinfo=KST))  # the first run after 23:00
    assert office.ecs_desired() == 0 and office.rds() == "stopped"

    office.until(datetime(2026, 11, 30, 10, 45, tzinfo=KST))  # Monday: running again
    assert office.ecs_desired() == 3
    off = ["schedule", "keep", "office-hours", "off", "--by", "lee", "--config", config]
    assert main(off) == 0
    # Until the schedule would start it (Tuesday 08:00), capped at keep_max (12 h) from now.
    assert "kept off by lee until Mon 2026-11-30 22:45 KST" in capsys.readouterr().out
    office.until(datetime(2026, 11, 30, 11, 45, tzinfo=KST))
    assert office.ecs_desired() == 0 and office.asg() == (0, 0, 0)
    announced = [m.body["text"] for m in office.engine.slack.delivered("monitoring") if "override" in m.body["text"]]
    assert len(announced) == 2

    too_long = ["schedule", "keep", "office-hours", "on", "--until", "2026-12-02T12:00", "--config", config]
    assert main(too_long) == 2
    assert "at most 12h00m (keep_max)" in capsys.readouterr().err
    assert main(["schedule", "keep", "office-hours", "--clear", "--by", "lee", "--config", config]) == 0
    assert "override by lee cleared" in capsys.readouterr().out
