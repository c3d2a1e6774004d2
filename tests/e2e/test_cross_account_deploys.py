"""Deploys across accounts (issue 18), through the local engine on the real hub template and the
real spoke.yaml: an ECS service in a spoke account, its image pushed in a registry account, rolled
back by a guard alarm of the spoke account. The hub reaches the spoke only through the spoke role
(STS checks its trust, local/sts_rules.py), and the spoke's events reach the hub only through the
rule spoke.yaml creates there and the hub bus's policy (local/eventbus.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harbormaster.cli.main import main
from harbormaster.config import load_config
from harbormaster.deploy.ecs import FALLBACK_SECONDS
from harbormaster.doctor.checks import diagnose
from harbormaster.doctor.findings import Status
from harbormaster.local import LocalEngine
from harbormaster.local.engine import ACCOUNT, REGION
from tests.e2e.deploy_world import put_guard_alarm

pytestmark = pytest.mark.e2e

ORGANIZATION = "o-harbormast1"
SERVICES, REGISTRY = "111111111111", "222222222222"
EXTERNAL_ID = "hm-7f3a"
ENV, REPO, CLUSTER, SERVICE, ALARM = "web", "codemate-frontend", "codemate", "frontend", "web-5xx"
CONFIG = f"""
environments:
  {ENV}:
    repository: {REPO}
    registry: {{account: "{REGISTRY}"}}
    account: "{SERVICES}"
    tags: ["main-*"]
    target: {{type: ecs, cluster: {CLUSTER}, service: {SERVICE}, container: web, deployment_timeout_seconds: 60}}
    rollout: {{poll_seconds: 0}}
    guard_alarms: [{ALARM}]
    preflight_alarms: warn
    rollback: {{window: 30m}}
spokes: {{role_name: harbormaster-spoke, external_id: {EXTERNAL_ID}}}
slack:
  routes: {{deployments: {{webhook_secret: hm/slack/deployments}}}}
  default_route: deployments
"""


@dataclass
class Organization:
    engine: LocalEngine

    def ecs(self) -> Any:
        return self.engine.account(SERVICES).client("ecs")

    def running(self) -> str:
        return str(self.ecs().describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]["taskDefinition"])

    def image_running(self) -> str:
        return self.engine.fleet.ecs.image_of(CLUSTER, SERVICE, account=SERVICES)

    def image(self, digest: str) -> str:
        return f"{REGISTRY}.dkr.ecr.{REGION}.amazonaws.com/{REPO}@{digest}"


PULL_BY_THE_ORGANIZATION = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "TasksOfTheOrganizationPull",
            "Effect": "Allow",
            "Principal": "*",
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORGANIZATION}},
        }
    ],
}


def _registry(engine: LocalEngine, pull_policy: bool) -> None:
    """The repository in the registry account, its policy letting the organization's tasks pull."""
    ecr = engine.account(REGISTRY).client("ecr")
    ecr.create_repository(repositoryName=REPO, imageScanningConfiguration={"scanOnPush": True})
    if pull_policy:
        ecr.set_repository_policy(repositoryName=REPO, policyText=json.dumps(PULL_BY_THE_ORGANIZATION))


def start(
    tmp_path: Path,
    organization_id: str | None = ORGANIZATION,
    spokes: tuple[str, ...] = (SERVICES, REGISTRY),
    pull_policy: bool = True,
) -> Organization:
    path = tmp_path / "harbormaster.yaml"
    path.write_text(CONFIG)
    parameters = {"OrganizationId": organization_id} if organization_id else {}
    engine = LocalEngine(config=path, slack_messages_per_second=1000, parameters=parameters)
    engine.start()
    for account in spokes:
        engine.deploy_spoke(account, EXTERNAL_ID)
    engine.fleet.ecs.service(
        CLUSTER,
        SERVICE,
        image=f"{REGISTRY}.dkr.ecr.{REGION}.amazonaws.com/{REPO}:bootstrap",
        environment=ENV,
        account=SERVICES,
    )
    put_guard_alarm(ALARM, cloudwatch=engine.account(SERVICES).client("cloudwatch"))
    put_guard_alarm(ALARM)  # the same name in the hub: not the environment's alarm
    _registry(engine, pull_policy)
    return Organization(engine)


@pytest.fixture
def org(tmp_path: Path) -> Iterator[Organization]:
    world = start(tmp_path)
    yield world
    world.engine.stop()


def history(capsys: pytest.CaptureFixture[str]) -> list[tuple[str, str, str]]:
    capsys.readouterr()
    assert main(["history", ENV, "--output", "json"]) == 0
    return [(r["tag"], r["trigger"], r["status"]) for r in reversed(json.loads(capsys.readouterr().out))]


def test_a_push_in_the_registry_account_deploys_the_spoke_service_and_its_alarm_rolls_it_back(
    org: Organization, capsys: pytest.CaptureFixture[str]
) -> None:
    before = org.engine.clock.now
    first, report = org.engine.push_image(REPO, "main-1", account=REGISTRY)

    assert [d.result for d in report.bus.deliveries][:1] == [f"forwarded to {ACCOUNT}"]
    assert [e.status for e in report.executions] == ["SUCCEEDED"]
    # Woken by the spoke's forwarded ECS event, not by the fallback look FALLBACK_SECONDS later.
    assert "WakeFunction" in [i.logical_id for i in report.invocations]
    assert (org.engine.clock.now - before).total_seconds() < FALLBACK_SECONDS
    assert org.image_running() == org.image(first)  # the registry account's image, in the spoke's service
    started = next(r.body for r in report.slack if "Deploy started" in json.dumps(r.body))
    assert f"{SERVICES}/-" in json.dumps(started)  # Slack says which account the service is in
    known_good = org.running()
    assert known_good.split(":")[4] == SERVICES
    second, _ = org.engine.push_image(REPO, "main-2", account=REGISTRY)
    assert org.image_running() == org.image(second)

    hub_alarm = org.engine.fire_alarm(ALARM, "5xx in the hub")  # same name, another account: not this environment's
    assert org.image_running() == org.image(second)
    assert not hub_alarm.executions

    quiet = org.engine.fire_alarm(ALARM, "back to normal", state="OK", account=SERVICES)
    assert not quiet.bus.matched  # only what the hub acts on is forwarded (and billed)
    spoke_alarm = org.engine.fire_alarm(ALARM, "Threshold Crossed: 42 > 10", account=SERVICES)

    assert f"forwarded to {ACCOUNT}" in [d.result for d in spoke_alarm.bus.deliveries]
    assert [e.status for e in spoke_alarm.executions] == ["SUCCEEDED"]
    assert org.running() == known_good  # the very revision, in the spoke account
    assert org.image_running() == org.image(first)
    assert history(capsys) == [
        ("main-1", "push", "SUCCEEDED"),
        ("main-2", "push", "ROLLED_BACK"),
        ("main-1", "rollback", "SUCCEEDED"),
    ]
    checks = ("repository", "guard alarms", "ecs service", "registry pull", "spoke events")
    found = diagnose(load_config(str(org.engine.config_path)), ENV, org.engine.stack.outputs, probe_instances=False)
    statuses = {f.check: f.status for f in found if f.scope in (ENV, "stack")}
    assert {check: statuses[check] for check in checks} == dict.fromkeys(checks, Status.OK)


def test_a_push_of_the_same_repository_name_in_another_account_deploys_nothing(org: Organization) -> None:
    _, in_the_hub = org.engine.push_image(REPO, "main-1")  # the hub's own repository of that name

    assert in_the_hub.bus.matched  # the router saw it
    assert not in_the_hub.executions
    assert "bootstrap" in org.image_running()


def test_a_registry_that_does_not_let_the_spoke_pull_fails_the_deploy_and_the_service_stays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As on AWS: the tasks cannot pull (CannotPullContainerError), the circuit breaker rolls back."""
    world = start(tmp_path, pull_policy=False)
    try:
        _, report = world.engine.push_image(REPO, "main-1", account=REGISTRY)

        assert [e.status for e in report.executions] == ["FAILED"]
        assert "bootstrap" in world.image_running()
        assert history(capsys) == [("main-1", "push", "FAILED")]
        findings = diagnose(load_config(str(tmp_path / "harbormaster.yaml")), ENV, probe_instances=False)
        [pull] = [f for f in findings if f.scope == ENV and f.check == "registry pull"]
        assert pull.status is Status.PROBLEM
        assert f"does not let account {SERVICES} pull" in pull.detail
    finally:
        world.engine.stop()


def test_without_the_hub_bus_policy_the_spokes_events_never_arrive(tmp_path: Path) -> None:
    world = start(tmp_path, organization_id=None)
    try:
        _, report = world.engine.push_image(REPO, "main-1", account=REGISTRY)

        [refused] = report.bus.deliveries
        assert refused.result.startswith("failed: the policy of arn:aws:events:")
        assert f"does not let account {REGISTRY} put events" in refused.result
        assert not report.executions
        assert "bootstrap" in world.image_running()
        config = load_config(str(tmp_path / "harbormaster.yaml"))
        [said] = [f for f in diagnose(config, ENV, world.engine.stack.outputs, False) if f.check == "spoke events"]
        assert said.status is Status.PROBLEM and "OrganizationId" in said.detail
    finally:
        world.engine.stop()


def test_without_its_spoke_stack_a_registry_forwards_nothing_and_doctor_says_why(tmp_path: Path) -> None:
    world = start(tmp_path, spokes=(SERVICES,))
    try:
        _, report = world.engine.push_image(REPO, "main-1", account=REGISTRY)

        assert not report.bus.matched  # no rule in the registry account
        findings = diagnose(load_config(str(tmp_path / "harbormaster.yaml")), ENV, probe_instances=False)
        [registry_role] = [f for f in findings if f.scope == f"account {REGISTRY}"]
        assert registry_role.status is Status.PROBLEM
        [spoke_role] = [f for f in findings if f.scope == f"account {SERVICES}"]
        assert spoke_role.status is Status.OK
        [unreachable] = [f for f in findings if f.scope == ENV and f.check == "reachable"]
        assert unreachable.status is Status.PROBLEM
    finally:
        world.engine.stop()


def _forwarding_rule(engine: LocalEngine, account: str, to: str, role: str | None) -> None:
    events = engine.account(account).client("events")
    events.put_rule(Name="to-elsewhere", EventPattern=json.dumps({"source": ["aws.ecr"]}))
    target = {"Id": "bus", "Arn": f"arn:aws:events:{REGION}:{to}:event-bus/default"}
    events.put_targets(Rule="to-elsewhere", Targets=[{**target, **({"RoleArn": role} if role else {})}])


def test_the_engine_forwards_between_accounts_only_as_eventbridge_does(org: Organization) -> None:
    """A rule on the organization's permission needs a role, and a received event goes no further."""
    third = "333333333333"
    org.engine.deploy_spoke(third, EXTERNAL_ID)
    events = org.engine.account(third).client("events")
    events.remove_targets(Rule=_rule_of(events), Ids=["hub"])
    _forwarding_rule(org.engine, third, ACCOUNT, role=None)

    _, without_role = org.engine.push_image(REPO, "main-1", account=third)

    [refused] = without_role.bus.deliveries
    assert refused.result == (
        "failed: a rule sending to another account's bus on its organization's permission needs a role (RoleArn)"
    )
    _forwarding_rule(org.engine, ACCOUNT, third, role=f"arn:aws:iam::{ACCOUNT}:role/anything")  # hub → third

    _, received = org.engine.push_image(REPO, "main-2", account=REGISTRY)

    onward = [d for d in received.bus.deliveries if d.rule == "to-elsewhere"]
    assert [d.result for d in onward] == [
        "not delivered: an event received from another account is not forwarded again"
    ]


def _rule_of(events: Any) -> str:
    [rule] = [r["Name"] for r in events.list_rules()["Rules"] if "ForwardPushes" in r["Name"]]
    return rule
