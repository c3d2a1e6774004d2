"""The container options and the compose mode in `harbormaster.yaml`: each bad value is refused
with its key path, before SSM would refuse it (the deploy document's own patterns) or the host
would run it."""

from __future__ import annotations

import pytest

from harbormaster.config import ConfigError, parse_config

BASE = """
environments:
  api:
    repository: deepple
    tags: ["v*"]
    target: {type: ec2, target_group_name: api-tg}
    container:
"""


def config(container: str, extra: str = ""):  # type: ignore[no-untyped-def]
    return parse_config(BASE + "".join(f"      {line}\n" for line in container.splitlines()) + extra, "conf.yaml")


def errors(container: str, extra: str = "") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        config(container, extra)
    return [f"{issue.key_path}: {issue.message}" for issue in caught.value.issues]


def test_the_options_of_a_real_deploy_script_become_document_parameters() -> None:
    parsed = config(
        "name: spring-app\nport: 8080\nhost_port: 80\nports: ['9090:9090', '8125:8125/udp']\n"
        "volumes: [/home/ec2-user/secrets:/etc/credentials:ro, /home/ec2-user/certs:/etc/certs:ro]\n"
        "env_file: /home/ec2-user/.env\ndocker_args: [--memory=1g, --init]\nstart_grace_seconds: 15\n"
        "health_path: /actuator/health\nlog_group: /deepple/prod/application"
    )
    container = parsed.environments["api"].container
    assert container.published_port == 80
    assert container.document_parameters("api") == {
        "ContainerName": "spring-app",
        "ContainerPort": "8080",
        "HostPort": "80",
        "HealthPath": "/actuator/health",
        "EnvFile": "/home/ec2-user/.env",
        "LogGroup": "/deepple/prod/application",
        "ExtraPorts": "9090:9090,8125:8125/udp",
        "Volumes": "/home/ec2-user/secrets:/etc/credentials:ro,/home/ec2-user/certs:/etc/certs:ro",
        "DockerArgs": "--memory=1g --init",
        "StartGraceSeconds": "15",
        "PruneImages": "true",
    }


@pytest.mark.parametrize(
    ("container", "expected"),
    [
        (
            "volumes: [secrets:/etc/credentials:ro]",
            "container.volumes.0: 'secrets:/etc/credentials:ro' is not a volume",
        ),
        (
            "volumes: [/home/../etc:/etc/x]",
            "container.volumes.0: the host path '/home/../etc' must be an absolute path",
        ),
        (
            "volumes: [/var/run/docker.sock:/var/run/docker.sock]",
            "container.volumes.0: '/var/run/docker.sock:/var/run/docker.sock' mounts the Docker socket",
        ),
        ("volumes: ['/data:/data:rwx']", "container.volumes.0: '/data:/data:rwx' is not a volume"),
        ("ports: ['70000:80']", "container.ports.0: '70000:80': port 70000 is out of range (1-65535)"),
        ("ports: ['8080']", "container.ports.0: '8080' is not a port mapping"),
        ("port: 0", "container.port: Input should be greater than or equal to 1"),
        ("host_port: 65536", "container.host_port: Input should be less than or equal to 65535"),
        (
            "docker_args: [--privileged]",
            "container.docker_args.0: '--privileged' is not an allowed docker run option",
        ),
        (
            "docker_args: ['--memory 512m']",
            "container.docker_args.0: '--memory 512m': write the option and its value as one item, '--memory=512m'",
        ),
        (
            "docker_args: ['--user=$(id)']",
            "container.docker_args.0: '--user=$(id)' is not an allowed docker run option",
        ),
        ("docker_args: [--memory=1g, --memory=2g]", "container: a docker option is given twice"),
        ("ports: ['8080:9000']", "container: a host port is published twice"),
        ("env_file: .env", "container.env_file: '.env' is not an absolute host path"),
        ("start_grace_seconds: 4000", "container.start_grace_seconds: Input should be less than or equal to 3600"),
        (
            "compose: {project_dir: TeamMoa, service: web}",
            "container.compose.project_dir: 'TeamMoa' is not an absolute host path",
        ),
        (
            "compose: {project_dir: /home/ubuntu/TeamMoa, file: deploy/../x.yml, service: web}",
            "container.compose.file: 'deploy/../x.yml' must name a file inside project_dir",
        ),
        (
            "compose: {project_dir: /home/ubuntu/TeamMoa, service: 'web app'}",
            "container.compose.service: 'web app' is not a compose service name",
        ),
        (
            "compose: {project_dir: /home/ubuntu/TeamMoa, service: web}\nvolumes: ['/a:/b']",
            "container: with compose, the compose file defines volumes",
        ),
    ],
)
def test_each_bad_value_is_refused_with_its_key_path(container: str, expected: str) -> None:
    [error] = errors(container)
    assert error.startswith(f"environments.api.{expected}"), error


def test_the_deploy_command_must_outlive_the_grace_period_and_the_health_check() -> None:
    [error] = errors("start_grace_seconds: 400", "    rollout: {health_timeout_seconds: 300}\n")
    assert "command_timeout_seconds (600) must exceed container.start_grace_seconds + " in error
    assert config("start_grace_seconds: 200", "    rollout: {health_timeout_seconds: 300}\n")


def test_a_compose_service_becomes_the_documents_compose_parameters() -> None:
    parsed = config(
        "compose: {project_dir: /home/ubuntu/TeamMoa, file: docker-compose.prod.yml, service: web}\n"
        "port: 80\nhealth_path: /health/"
    )
    assert parsed.environments["api"].container.document_parameters("api") == {
        "ContainerName": "app",
        "ContainerPort": "80",
        "HealthPath": "/health/",
        "LogGroup": "/harbormaster/api",
        "StartGraceSeconds": "0",
        "PruneImages": "true",
        "ComposeProjectDir": "/home/ubuntu/TeamMoa",
        "ComposeFile": "docker-compose.prod.yml",
        "ComposeService": "web",
    }
