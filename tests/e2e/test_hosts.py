"""Hosts as the seeds run them: a Docker Compose project on one instance without a load balancer
(TeamMoa, seed 003), and tag-selected instances without a load balancer running a container with
the options of a real deploy script (DEEPPLE, seed 000)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from harbormaster.cli.main import main
from harbormaster.local import LocalEngine

pytestmark = pytest.mark.e2e

CONFIG = """
environments:
  teammoa:
    repository: teammoa-web
    tags: ["v*"]
    target: {type: ec2, instances: {tag: {App: teammoa}}}
    container:
      port: 80                  # nginx, in front of web, answers the health path
      health_path: /health/
      compose: {project_dir: /home/ubuntu/TeamMoa, file: docker-compose.prod.yml, service: web}
    rollout: {batch: 1, min_healthy: 0%, poll_seconds: 0}  # one host: replaced in place
  deepple:
    repository: deepple
    tags: ["v*"]
    target: {type: ec2, instances: {tag: {App: deepple}}}
    container:
      name: spring-app
      port: 8080
      health_path: /actuator/health
      env_file: /home/ec2-user/.env
      volumes: [/home/ec2-user/secrets:/etc/credentials:ro, /home/ec2-user/certs:/etc/certs:ro]
      docker_args: [--memory=1g]
      start_grace_seconds: 15
      log_group: /deepple/prod/application
    rollout: {batch: 1, min_healthy: 50%, poll_seconds: 0}
slack:
  routes:
    critical: {webhook_secret: hm/slack/critical}
    deployments: {webhook_secret: hm/slack/deployments}
  default_route: deployments
"""
TEAMMOA = {"App": "teammoa", "harbormaster:environment": "teammoa"}
DEEPPLE = {"App": "deepple", "harbormaster:environment": "deepple"}
NEIGHBOURS = {"nginx": "nginx:1.25-alpine", "redis": "redis:7-alpine", "db": "mysql:8.0"}


def uri(repository: str, digest: str) -> str:
    return f"123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/{repository}@{digest}"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[LocalEngine]:
    path = tmp_path / "harbormaster.yaml"
    path.write_text(CONFIG)
    engine = LocalEngine(config=path, slack_messages_per_second=1000)
    engine.start()
    yield engine
    engine.stop()


def compose_host(engine: LocalEngine) -> str:
    [host] = engine.fleet.launch(1, "teammoa-web:latest", tags=TEAMMOA)
    engine.fleet.compose(
        [host], "/home/ubuntu/TeamMoa", "docker-compose.prod.yml", {"web": "teammoa-web:latest", **NEIGHBOURS}
    )
    return host


def test_a_compose_host_deploys_its_web_service_alone_and_reverts_a_failing_image(engine: LocalEngine) -> None:
    host = compose_host(engine)
    project = engine.fleet.projects[host]

    v2, report = engine.push_image("teammoa-web", "v2")
    assert [e.status for e in report.executions] == ["SUCCEEDED"]
    assert project.services == {"web": uri("teammoa-web", v2), **NEIGHBOURS}
    assert dict(project.recreated) == {"web": 1}, "nginx, redis and db are never recreated"
    sent = engine.fleet.parameters[host]
    assert (sent["ComposeProjectDir"], sent["ComposeFile"], sent["ComposeService"]) == (
        "/home/ubuntu/TeamMoa",
        "docker-compose.prod.yml",
        "web",
    )
    started = engine.slack.delivered("deployments")[0]
    assert "no load balancer: brief downtime" in json.dumps(started.body)

    v3 = "sha256:" + "3" * 64
    engine.fleet.bad_image(uri("teammoa-web", v3))
    report = engine.push_image("teammoa-web", "v3", digest=v3)[1]
    assert [e.status for e in report.executions] == ["FAILED"]
    assert project.services == {"web": uri("teammoa-web", v2), **NEIGHBOURS}, "web is back on v2"
    assert dict(project.recreated) == {"web": 3}  # v2, the failing v3, v2 again
    [alert] = engine.slack.delivered("critical")
    assert "did not become healthy" in json.dumps(alert.body)


def test_a_compose_deploy_to_a_host_without_the_project_fails_and_changes_nothing(engine: LocalEngine) -> None:
    [host] = engine.fleet.launch(1, "teammoa-web:latest", tags=TEAMMOA)  # no compose project here
    report = engine.push_image("teammoa-web", "v2")[1]
    assert [e.status for e in report.executions] == ["FAILED"]
    assert engine.fleet.images[host] == "teammoa-web:latest"
    [alert] = engine.slack.delivered("critical")
    assert "no compose file at /home/ubuntu/TeamMoa/docker-compose.prod.yml" in json.dumps(alert.body)


def test_two_hosts_without_a_load_balancer_deploy_one_at_a_time(
    engine: LocalEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    hosts = sorted(engine.fleet.launch(2, "deepple:v1", tags=DEEPPLE))
    engine.fleet.command_seconds = 60  # a container takes a minute to replace and pass its health check

    v2, report = engine.push_image("deepple", "v2")
    assert [e.status for e in report.executions] == ["SUCCEEDED"]
    assert {engine.fleet.images[h] for h in hosts} == {uri("deepple", v2)}
    assert engine.fleet.max_down_seen(hosts) == 1, "both hosts were down at once"
    # The container options reached SendCommand, validated against the document's patterns.
    sent = engine.fleet.parameters[hosts[0]]
    assert sent["Volumes"] == "/home/ec2-user/secrets:/etc/credentials:ro,/home/ec2-user/certs:/etc/certs:ro"
    assert (sent["EnvFile"], sent["DockerArgs"], sent["StartGraceSeconds"]) == (
        "/home/ec2-user/.env",
        "--memory=1g",
        "15",
    )
    assert (sent["ContainerName"], sent["LogGroup"]) == ("spring-app", "/deepple/prod/application")

    capsys.readouterr()
    assert main(["status", "deepple", "--output", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    rows = row["instances"]
    assert [(r["instance"], r["target"], r["converged"]) for r in rows] == [
        (host, "no load balancer", True) for host in hosts
    ]


def test_a_failing_image_on_hosts_without_a_load_balancer_stops_at_the_first_and_is_reverted(
    engine: LocalEngine,
) -> None:
    hosts = sorted(engine.fleet.launch(2, "deepple:v1", tags=DEEPPLE))
    v2, _ = engine.push_image("deepple", "v2")
    v3 = "sha256:" + "3" * 64
    engine.fleet.bad_image(uri("deepple", v3))
    report = engine.push_image("deepple", "v3", digest=v3)[1]
    assert [e.status for e in report.executions] == ["FAILED"]
    assert {engine.fleet.images[h] for h in hosts} == {uri("deepple", v2)}
    assert engine.fleet.max_down_seen(hosts) == 1


def test_compose_hosts_behind_a_load_balancer_are_taken_out_recreated_and_put_back(tmp_path: Path) -> None:
    """TeamMoa's production shape: two Compose hosts behind an ALB target group (nginx on 80)."""
    path = tmp_path / "harbormaster.yaml"
    path.write_text(
        CONFIG.replace(
            "target: {type: ec2, instances: {tag: {App: teammoa}}}",
            "target: {type: ec2, target_group_name: teammoa-tg}",
        ).replace(
            "rollout: {batch: 1, min_healthy: 0%, poll_seconds: 0}  # one host: replaced in place",
            "rollout: {batch: 1, min_healthy: 50%, poll_seconds: 0}",
        )
    )
    engine = LocalEngine(config=path, slack_messages_per_second=1000)
    engine.start()
    try:
        group = engine.fleet.target_group("teammoa-tg", port=80, environment="teammoa")
        hosts = sorted(engine.fleet.launch(2, "teammoa-web:latest", tags=TEAMMOA, target_group=group))
        engine.fleet.compose(
            hosts, "/home/ubuntu/TeamMoa", "docker-compose.prod.yml", {"web": "teammoa-web:latest", **NEIGHBOURS}
        )
        v2, report = engine.push_image("teammoa-web", "v2")
        assert [e.status for e in report.executions] == ["SUCCEEDED"]
        for host in hosts:
            assert engine.fleet.projects[host].services == {"web": uri("teammoa-web", v2), **NEIGHBOURS}
            assert dict(engine.fleet.projects[host].recreated) == {"web": 1}
        assert engine.fleet.min_healthy_seen(group) == 1  # one host out at a time, the other serving
        assert "no load balancer" not in json.dumps(engine.slack.delivered("deployments")[0].body)
    finally:
        engine.stop()
