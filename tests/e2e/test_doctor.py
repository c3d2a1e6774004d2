"""`harbormaster doctor` against the local engine: a world ready for a first deploy passes, and each
way a real account is commonly broken is reported by name, with its fix, and exits 1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from harbormaster.cli.main import main
from harbormaster.local import LocalEngine
from tests.e2e.deploy_world import put_guard_alarm

pytestmark = pytest.mark.e2e

CONFIG = """
environments:
  api-dev:
    repository: tpt-api-dev
    tags: ["v*"]
    target: {type: ec2, target_group_name: api-dev-tg}
    container: {name: app, port: 8080, health_path: /health, env_parameters_path: /tpt-api/dev/}
    rollout: {health_timeout_seconds: 300}
    guard_alarms: [api-dev-5xx]
  web-dev:
    repository: tpt-web-dev
    tags: ["v*"]
    target: {type: ecs, cluster: dev, service: web, container: web}
    guard_alarms: [arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:web-dev-errors]
slack:
  routes:
    deployments: {webhook_secret: hm/slack/deployments}
  default_route: deployments
"""


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[LocalEngine]:
    path = tmp_path / "harbormaster.yaml"
    path.write_text(CONFIG)
    with LocalEngine(config=path) as started:
        yield started


def good_world(engine: LocalEngine) -> list[str]:
    ecr = boto3.client("ecr")
    for repository in ("tpt-api-dev", "tpt-web-dev"):
        ecr.create_repository(repositoryName=repository, imageScanningConfiguration={"scanOnPush": True})
    group = engine.fleet.target_group("api-dev-tg", environment="api-dev")
    instances = engine.fleet.launch(2, "bootstrap", tags={"harbormaster:environment": "api-dev"}, target_group=group)
    engine.fleet.ecs.service("dev", "web", "tpt-web-dev:bootstrap", "web", 2, environment="web-dev")
    for name in ("api-dev-5xx", "web-dev-errors"):
        put_guard_alarm(name)
    return sorted(instances)


def doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, Any]]]:
    capsys.readouterr()
    code = main(["doctor", *args, "--output", "json"])
    return code, json.loads(capsys.readouterr().out)


def problems(findings: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f"{f['scope']} {f['check']}": f for f in findings if f["status"] == "problem"}


def test_a_world_ready_for_a_first_deploy_passes(engine: LocalEngine, capsys: pytest.CaptureFixture[str]) -> None:
    instances = good_world(engine)
    code, findings = doctor(capsys)
    assert code == 0, problems(findings)
    checks = {f"{f['scope']} {f['check']}" for f in findings}
    for instance_id in instances:  # each instance was asked from the inside
        assert {f"api-dev docker {instance_id}", f"api-dev ecr-pull {instance_id}"} <= checks
        assert {f"api-dev parameter-read {instance_id}", f"api-dev fence-read {instance_id}"} <= checks
    assert {
        "api-dev target group tag",
        "web-dev ecs service tag",
        "web-dev ecs container",
        "slack route deployments",
    } <= checks
    assert all(f["status"] == "ok" for f in findings)

    capsys.readouterr()
    assert main(["doctor", "api-dev", "--no-probe"]) == 0
    table = capsys.readouterr().out
    assert "0 problem(s), 0 warning(s): ready" in table and "probe skipped" in table


def test_a_broken_world_is_named_with_its_fix_and_exits_1(
    engine: LocalEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    instances = good_world(engine)
    no_agent, broken = instances
    engine.fleet.without(no_agent, "ssm-agent")
    engine.fleet.without(broken, "docker", "ecr-pull", "parameter-read", "fence-read")
    elbv2 = boto3.client("elbv2")
    [group] = elbv2.describe_target_groups(Names=["api-dev-tg"])["TargetGroups"]
    elbv2.remove_tags(ResourceArns=[group["TargetGroupArn"]], TagKeys=["harbormaster:environment"])
    boto3.client("cloudwatch").delete_alarms(AlarmNames=["web-dev-errors"])
    boto3.client("secretsmanager").delete_secret(SecretId="hm/slack/deployments", ForceDeleteWithoutRecovery=True)

    code, findings = doctor(capsys)
    assert code == 1
    found = problems(findings)
    assert set(found) == {
        "api-dev target group tag",
        f"api-dev ssm {no_agent}",
        f"api-dev docker {broken}",
        f"api-dev ecr-pull {broken}",
        f"api-dev parameter-read {broken}",
        f"api-dev fence-read {broken}",
        "web-dev guard alarms",
        "slack route deployments",
    }
    assert "aws elbv2 add-tags" in found["api-dev target group tag"]["fix"]
    assert "AmazonSSMManagedInstanceCore" in found[f"api-dev ssm {no_agent}"]["fix"]
    assert "command not found" in found[f"api-dev docker {broken}"]["detail"]
    assert "ecr:GetAuthorizationToken" in found[f"api-dev ecr-pull {broken}"]["detail"]
    assert "AccessDeniedException" in found[f"api-dev parameter-read {broken}"]["detail"]
    assert "parameter/tpt-api/dev/*" in found[f"api-dev parameter-read {broken}"]["fix"]
    assert "dynamodb:GetItem" in found[f"api-dev fence-read {broken}"]["detail"]
    assert '"dynamodb:LeadingKeys": ["FENCE#*"]' in found[f"api-dev fence-read {broken}"]["fix"]
    assert "web-dev-errors" in found["web-dev guard alarms"]["detail"]
    assert "create-secret --name hm/slack/deployments" in found["slack route deployments"]["fix"]

    capsys.readouterr()
    assert main(["doctor", "web-dev"]) == 1  # one environment: only its problems (and Slack's)
    table = capsys.readouterr().out
    assert "PROBLEM" in table and "web-dev-errors" in table and "api-dev" not in table
    assert "fix: " in table and "a deploy would fail" in table


def test_missing_resources_and_timing_that_cannot_work(engine: LocalEngine, capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing exists yet; then a target group whose health check outlasts the configured deadline."""
    code, findings = doctor(capsys, "api-dev")
    assert code == 1
    found = problems(findings)
    assert {"api-dev repository", "api-dev target group", "api-dev guard alarms"} <= set(found)
    assert "create-repository --repository-name tpt-api-dev" in found["api-dev repository"]["fix"]

    good_world(engine)
    [group] = boto3.client("elbv2").describe_target_groups(Names=["api-dev-tg"])["TargetGroups"]
    boto3.client("elbv2").modify_target_group(
        TargetGroupArn=group["TargetGroupArn"], HealthCheckIntervalSeconds=60, HealthyThresholdCount=10
    )
    code, findings = doctor(capsys, "api-dev")
    [timing] = [f for f in findings if f["check"] == "target group timing"]
    assert code == 0 and timing["status"] == "warning"  # deploys still work: the plan waits longer
    assert "10 checks x 60s" in timing["detail"] and "health_timeout_seconds to 720" in timing["fix"]


def test_sendcommand_to_an_instance_without_ssm_agent_is_refused_as_aws_does(engine: LocalEngine) -> None:
    [instance] = engine.fleet.launch(1, "bootstrap", tags={"harbormaster:environment": "api-dev"})
    engine.fleet.without(instance, "ssm-agent")
    ssm = boto3.client("ssm")
    with pytest.raises(ssm.exceptions.InvalidInstanceId):
        ssm.send_command(InstanceIds=[instance], DocumentName="AWS-RunShellScript", Parameters={"commands": ["id"]})
    listed = ssm.describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": [instance]}])
    assert listed["InstanceInformationList"] == []
    with pytest.raises(ssm.exceptions.ClientError, match="between 5 and 50"):
        ssm.describe_instance_information(MaxResults=51)
    [online] = engine.fleet.launch(1, "bootstrap")
    with pytest.raises(ssm.exceptions.InvalidParameters, match="ImageUri"):  # AWS-RunShellScript's own parameters
        ssm.send_command(InstanceIds=[online], DocumentName="AWS-RunShellScript", Parameters={"ImageUri": ["x"]})


def test_a_compose_host_is_probed_for_its_compose_file_and_service(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "harbormaster.yaml"
    path.write_text(
        CONFIG.replace(
            "target: {type: ec2, target_group_name: api-dev-tg}",
            "target: {type: ec2, instances: {tag: {App: board}}}",
        ).replace(
            "container: {name: app, port: 8080, health_path: /health, env_parameters_path: /tpt-api/dev/}",
            "container: {port: 80, health_path: /health/, env_parameters_path: /tpt-api/dev/,\n"
            "                compose: {project_dir: /home/ubuntu/TeamMoa, file: docker-compose.prod.yml,\n"
            "                          service: web}}",
        )
    )
    with LocalEngine(config=path) as engine:
        boto3.client("ecr").create_repository(repositoryName="tpt-api-dev")
        tags = {"harbormaster:environment": "api-dev", "App": "board"}
        ready, bare, other = sorted(engine.fleet.launch(3, "bootstrap", tags=tags))
        engine.fleet.compose([ready], "/home/ubuntu/TeamMoa", "docker-compose.prod.yml", {"web": "x", "nginx": "y"})
        engine.fleet.compose([other], "/home/ubuntu/TeamMoa", "docker-compose.prod.yml", {"api": "x"})
        put_guard_alarm("api-dev-5xx")
        code, findings = doctor(capsys, "api-dev")
    found = {f["check"]: f for f in findings if f["check"].startswith("compose ")}
    assert found[f"compose {ready}"]["status"] == "ok"
    assert found[f"compose {bare}"]["status"] == "problem"
    assert (
        "open /home/ubuntu/TeamMoa/docker-compose.prod.yml: no such file or directory"
        in found[f"compose {bare}"]["detail"]
    )
    assert found[f"compose {other}"]["detail"] == "/home/ubuntu/TeamMoa/docker-compose.prod.yml has no service web"
    assert "install Docker Compose" in found[f"compose {bare}"]["fix"]
    assert code == 1
