"""The script the SSM document runs on instances, run here under bash with stub `docker`, `aws`,
`curl` and `sleep` on PATH (they record their arguments and answer as each test says), and
linted with shellcheck. It is the code that actually touches servers."""

from __future__ import annotations

import fcntl
import re
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from samcli.yamlhelper import yaml_parse

from harbormaster.config import document
from tests.conftest import ROOT, shellcheck, wait_for

IMAGE = "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/tpt-api@sha256:" + "b" * 64
SECRET = "s3cr3t-Value-42"
RELEASE = "20261203T000000Z-bbbbbbbbbbbb"
STUBS = {
    "curl": r"""
echo "curl $*" >> "$STUB_LOG"
case "$*" in
  *api/token*) echo token ;;
  *placement/region*) echo ap-northeast-2 ;;
  *127.0.0.1*) n=$(cat "$STUB_DIR/health_calls" 2>/dev/null || echo 0); echo $((n + 1)) > "$STUB_DIR/health_calls"
               [ "$((n + 1))" -gt "${HEALTH_FAILS:-0}" ] || exit 22 ;;
esac
""",
    "aws": r"""
echo "aws $*" >> "$STUB_LOG"
case "$*" in
  "ecr get-login-password"*) echo ecr-password ;;
  "dynamodb get-item"*) echo "${DESIRED_RELEASE-20261203T000000Z-bbbbbbbbbbbb}" ;;
  "ssm get-parameters-by-path"*) printf '/tpt-api/dev/DB_PASSWORD\t%s\n/tpt-api/dev/MODE\tprod\n' "$SECRET_VALUE" ;;
esac
""",
    "docker": r"""
echo "docker $*" >> "$STUB_LOG"
ID=container-id
[ ! -f "$STUB_DIR/upped" ] || ID=web-new
case "$*" in
  login*) cat > /dev/null ;;
  pull*) [ -z "${PULL_FAILS:-}" ] || { echo "pull access denied" >&2; exit 1; } ;;
  "image inspect"*) printf '    "Id": "sha256:%s",\n' "${NEW_ID:-1111}" ;;
  "container inspect"*) [ -n "${OLD_CONTAINER:-}" ] || exit 1; printf '    "Image": "sha256:%s",\n' "${OLD_ID:-2222}" ;;
  inspect*) [ -n "${OLD_CONTAINER:-}" ] || exit 1 ;;
  run*) for a in "$@"; do [ "${prev:-}" = "--env-file" ] && cp "$a" "$STUB_DIR/env-file-at-run"; prev="$a"; done
        echo container-id ;;
  "images -q"*) for i in ${IMAGES_PRESENT:-}; do echo "sha256:$i"; done ;;
  rmi*) ;;
  *"health=none"*) [ -n "${HAS_HEALTHCHECK:-}" ] || echo "$ID" ;;
  *"health=healthy"*) n=$(cat "$STUB_DIR/health_calls" 2>/dev/null || echo 0)
                      echo $((n + 1)) > "$STUB_DIR/health_calls"
                      [ "$((n + 1))" -le "${HEALTH_FAILS:-0}" ] || echo "$ID" ;;
  ps*) [ -n "${CONTAINER_EXITED:-}" ] || echo "$ID" ;;
  "compose version"*) [ -z "${COMPOSE_V1:-}" ] || exit 1 ;;
  compose*"config --services"*) printf 'db\nredis\nweb\nnginx\n' ;;
  compose*" up "*) cp "$COMPOSE_OVERRIDE" "$STUB_DIR/override-at-up"; touch "$STUB_DIR/upped" ;;
  compose*"ps -q"*) if [ -f "$STUB_DIR/upped" ]; then echo web-new
                    elif [ -n "${OLD_CONTAINER:-}" ]; then echo web-old; fi ;;
  logs*) echo "Error: could not connect to the database"; echo "last line of the app" ;;
esac
""",
    "docker-compose": r"""
echo "docker-compose $*" >> "$STUB_LOG"
STUB_LOG=/dev/null docker compose "$@"
""",
    "sleep": 'echo "sleep $*" >> "$STUB_LOG"\n',
}


def script() -> str:
    template = yaml_parse((ROOT / "template.yaml").read_text())
    [step] = template["Resources"]["DeployDocument"]["Properties"]["Content"]["mainSteps"]
    [text] = step["inputs"]["runCommand"]
    return str(text)


def render(parameters: dict[str, str]) -> str:
    """What SSM runs: `{{ Name }}` replaced by the parameter's value, or its default."""
    template = yaml_parse((ROOT / "template.yaml").read_text())
    declared = template["Resources"]["DeployDocument"]["Properties"]["Content"]["parameters"]
    values = {name: spec["default"] for name, spec in declared.items() if "default" in spec} | parameters
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: values[m.group(1)], script())


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    calls: list[str]
    env_file: str | None


def start(
    tmp_path: Path, timeout: str = "0", parameters: dict[str, str] | None = None, **env: str
) -> subprocess.Popen[str]:
    """The rendered script, started under bash with the stubs first on PATH."""
    stubs = tmp_path / "bin"
    stubs.mkdir(exist_ok=True)
    for name, body in STUBS.items():
        path = stubs / name
        path.write_text("#!/bin/bash\n" + body)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    rendered = render(
        {
            "ImageUri": IMAGE,
            "ContainerName": "app",
            "ContainerPort": "8080",
            "HealthPath": "/actuator/health",
            "HealthTimeoutSeconds": timeout,
            "EnvParametersPath": "/tpt-api/dev/",
            "LogGroup": "/harbormaster/api-dev",
            "ExecutionTimeout": "600",
            "ReleaseId": RELEASE,
            "Environment": "api-dev",
            "FenceTable": "harbormaster-Table-1ABC",
            **(parameters or {}),
        }
    )
    return subprocess.Popen(
        ["bash", "-c", rendered],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            "PATH": f"{stubs}:/usr/bin:/bin",
            "STUB_LOG": str(tmp_path / "calls.log"),
            "STUB_DIR": str(tmp_path),
            "SECRET_VALUE": SECRET,
            "COMPOSE_OVERRIDE": (parameters or {}).get("ComposeProjectDir", "") + "/docker-compose.harbormaster.yml",
            **env,
        },
    )


def finish(tmp_path: Path, process: subprocess.Popen[str]) -> Run:
    stdout, stderr = process.communicate(timeout=60)
    log = tmp_path / "calls.log"
    env_file = tmp_path / "env-file-at-run"
    return Run(
        process.returncode,
        stdout,
        stderr,
        log.read_text().splitlines() if log.exists() else [],
        env_file.read_text() if env_file.exists() else None,
    )


def run(tmp_path: Path, timeout: str = "0", parameters: dict[str, str] | None = None, **env: str) -> Run:
    return finish(tmp_path, start(tmp_path, timeout, parameters, **env))


def called(run: Run, prefix: str) -> list[str]:
    return [call for call in run.calls if call.startswith(prefix)]


def test_a_deploy_logs_in_pulls_by_digest_replaces_the_container_and_waits_for_health(tmp_path: Path) -> None:
    result = run(tmp_path, timeout="300", OLD_CONTAINER="1", HEALTH_FAILS="2")
    assert result.code == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == f"healthy: {IMAGE}"
    assert called(result, "aws ecr get-login-password --region ap-northeast-2")
    assert called(
        result, "docker login --username AWS --password-stdin 123456789012.dkr.ecr.ap-northeast-2.amazonaws.com"
    )
    assert called(result, f"docker pull --quiet {IMAGE}")
    assert called(result, "docker stop --time 30 app") and called(result, "docker rm app")
    [docker_run] = called(result, "docker run")
    for option in (
        "--restart unless-stopped",
        "-p 8080:8080",
        "--log-driver awslogs",
        "awslogs-group=/harbormaster/api-dev",
        "awslogs-region=ap-northeast-2",
    ):
        assert option in docker_run
    assert docker_run.endswith(IMAGE)
    assert len(called(result, "curl -sf -o /dev/null http://127.0.0.1:8080/actuator/health")) == 3
    assert called(result, "sleep 5")
    # The old container is stopped only after the new image is pulled.
    assert result.calls.index(called(result, "docker pull")[0]) < result.calls.index(called(result, "docker stop")[0])


def test_a_failed_pull_exits_1_and_leaves_the_running_container_alone(tmp_path: Path) -> None:
    result = run(tmp_path, OLD_CONTAINER="1", PULL_FAILS="1")
    assert result.code == 1
    assert f"could not pull {IMAGE}" in result.stderr
    assert not called(result, "docker stop") and not called(result, "docker run")


def test_a_container_that_never_gets_healthy_exits_1_with_its_last_log_lines(tmp_path: Path) -> None:
    result = run(tmp_path, timeout="300", HEALTH_FAILS="1000", CONTAINER_EXITED="1")
    assert result.code == 1
    assert "container did not become healthy; last log lines:" in result.stderr
    assert "could not connect to the database" in result.stderr
    assert called(result, "docker logs --tail 50 container-id")  # the id `docker run -d` printed


def test_the_health_deadline_ends_the_wait(tmp_path: Path) -> None:
    result = run(tmp_path, timeout="0", HEALTH_FAILS="1000")
    assert result.code == 1
    assert "container did not become healthy" in result.stderr


def test_secure_strings_reach_the_container_through_a_private_file_and_are_never_printed(tmp_path: Path) -> None:
    result = run(tmp_path, timeout="300")
    assert result.code == 0
    assert result.env_file == f"DB_PASSWORD={SECRET}\nMODE=prod\n"
    assert SECRET not in result.stdout + result.stderr + "\n".join(result.calls)
    [fetch] = called(result, "aws ssm get-parameters-by-path")
    assert "--path /tpt-api/dev/ --recursive --with-decryption" in fetch
    assert not list(Path("/run").glob("harbormaster-env.*")), "the env file outlived the script"


def test_the_fence_is_read_under_the_instance_lock_before_anything_changes(tmp_path: Path) -> None:
    result = run(tmp_path, timeout="300")
    assert result.code == 0, result.stderr
    [read] = called(result, "aws dynamodb get-item")
    assert "--table-name harbormaster-Table-1ABC --consistent-read" in read
    assert '{"pk": {"S": "FENCE#api-dev"}, "sk": {"S": "DESIRED"}}' in read
    assert result.calls.index(read) < result.calls.index(called(result, "docker pull")[0])


@pytest.mark.parametrize("desired", ["20261203T010000Z-cccccccccccc", "-", "None"])
def test_a_command_for_a_release_that_is_no_longer_desired_exits_75_and_changes_nothing(
    tmp_path: Path, desired: str
) -> None:
    result = run(tmp_path, OLD_CONTAINER="1", DESIRED_RELEASE=desired)
    assert result.code == 75
    assert result.stdout.strip() == (
        f"superseded: {RELEASE} is no longer the desired release of api-dev (desired: {desired})"
    )
    assert not called(result, "docker"), "a superseded command must not touch the containers"


def test_deploys_on_one_instance_run_one_at_a_time(tmp_path: Path) -> None:
    """While another deploy holds /run/harbormaster-deploy.lock, the script waits in flock (the
    kernel lists it as a blocked waiter in /proc/locks) before it reads the fence or touches docker."""
    lock = Path("/run/harbormaster-deploy.lock")
    with lock.open("w") as held:  # another deploy is running
        fcntl.flock(held, fcntl.LOCK_EX)
        script = start(tmp_path, timeout="300")
        wait_for(lambda: _flock_waiters(lock) >= 1, what="the script waiting on the lock")
        calls = (tmp_path / "calls.log").read_text().splitlines()
        assert not [c for c in calls if c.startswith(("aws", "docker"))], calls
        fcntl.flock(held, fcntl.LOCK_UN)
    result = finish(tmp_path, script)
    assert result.code == 0, result.stderr
    assert called(result, "aws dynamodb get-item") and called(result, "docker run")


def _flock_waiters(lock: Path) -> int:
    """Processes blocked in flock on `lock`'s inode (the `->` entries of /proc/locks)."""
    inode = f":{lock.stat().st_ino} "
    return sum(1 for line in Path("/proc/locks").read_text().splitlines() if "-> FLOCK" in line and inode in line)


def test_shellcheck_finds_nothing() -> None:
    rendered = render({name: "x" for name in re.findall(r"\{\{\s*(\w+)\s*\}\}", script())})
    result = shellcheck(rendered)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(("parameter", "pattern"), sorted(document.PATTERNS.items()))
def test_the_configuration_checks_the_documents_own_patterns(parameter: str, pattern: str) -> None:
    template = yaml_parse((ROOT / "template.yaml").read_text())
    parameters = template["Resources"]["DeployDocument"]["Properties"]["Content"]["parameters"]
    assert parameters[parameter]["allowedPattern"] == pattern


def test_the_container_options_of_a_real_deploy_script_reach_docker_run(tmp_path: Path) -> None:
    """DEEPPLE's deploy_script.sh (seed 000): read-only mounts, its env file, a start grace period."""
    (tmp_path / "secrets").mkdir()
    (tmp_path / "certs").mkdir()
    (tmp_path / ".env").write_text("SPRING_PROFILES_ACTIVE=prod\n")
    volumes = f"{tmp_path}/secrets:/etc/credentials:ro,{tmp_path}/certs:/etc/certs:ro"
    result = run(
        tmp_path,
        timeout="300",
        parameters={
            "HostPort": "80",
            "ExtraPorts": "9090:9090,8125:8125/udp",
            "Volumes": volumes,
            "EnvFile": f"{tmp_path}/.env",
            "DockerArgs": "--memory=1g --cpus=1.5 --user=1000:1000 --add-host=db.internal:10.0.0.5 --init",
            "StartGraceSeconds": "15",
        },
    )
    assert result.code == 0, result.stderr
    [docker_run] = called(result, "docker run")
    for option in (
        "-p 80:8080",
        "-p 9090:9090",
        "-p 8125:8125/udp",
        f"-v {tmp_path}/secrets:/etc/credentials:ro",
        f"-v {tmp_path}/certs:/etc/certs:ro",
        f"--env-file {tmp_path}/.env",
        "--memory=1g --cpus=1.5 --user=1000:1000 --add-host=db.internal:10.0.0.5 --init",
    ):
        assert option in docker_run
    assert docker_run.endswith(IMAGE)
    # The grace period passes before the first health check, which reaches the host port.
    grace = result.calls.index("sleep 15")
    first_check = result.calls.index(called(result, "curl -sf -o /dev/null http://127.0.0.1:80/actuator/health")[0])
    assert result.calls.index(docker_run) < grace < first_check


@pytest.mark.parametrize(
    ("parameters", "missing"),
    [
        ({"Volumes": "/nonexistent/secrets:/etc/credentials:ro"}, "volume source /nonexistent/secrets"),
        ({"EnvFile": "/nonexistent/.env"}, "env file /nonexistent/.env"),
    ],
)
def test_a_missing_host_file_fails_before_the_running_container_is_touched(
    tmp_path: Path, parameters: dict[str, str], missing: str
) -> None:
    result = run(tmp_path, OLD_CONTAINER="1", parameters=parameters)
    assert result.code == 1
    assert f"{missing} does not exist on this instance" in result.stderr
    assert not called(result, "docker pull") and not called(result, "docker stop") and not called(result, "docker run")


def test_older_images_are_pruned_after_a_healthy_deploy_but_the_replaced_one_is_kept(tmp_path: Path) -> None:
    # 1111: the new image, 2222: the one the old container ran, 3333 and 4444: older.
    result = run(tmp_path, timeout="300", OLD_CONTAINER="1", IMAGES_PRESENT="1111 2222 3333 4444")
    assert result.code == 0, result.stderr
    assert called(result, "docker images -q --no-trunc 123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/tpt-api")
    assert called(result, "docker rmi") == ["docker rmi sha256:3333", "docker rmi sha256:4444"]
    assert "pruned 2 older image(s)" in result.stdout and "kept the replaced one (sha256:2222)" in result.stdout


def test_nothing_is_pruned_when_pruning_is_off_or_the_deploy_fails(tmp_path: Path) -> None:
    (tmp_path / "off").mkdir()
    (tmp_path / "failed").mkdir()
    off = run(tmp_path / "off", timeout="300", parameters={"PruneImages": "false"}, IMAGES_PRESENT="1111 3333")
    assert off.code == 0 and not called(off, "docker images") and not called(off, "docker rmi")
    failed = run(tmp_path / "failed", timeout="0", HEALTH_FAILS="1000", IMAGES_PRESENT="1111 3333")
    assert failed.code == 1 and not called(failed, "docker rmi")


TEAM_COMPOSE = """services:
  web: {image: tlesmes/teammoa-web:latest, env_file: [.env]}
  nginx: {image: nginx:1.25-alpine, ports: ["80:80"]}
  redis: {image: redis:7-alpine}
"""


def compose_project(tmp_path: Path) -> dict[str, str]:
    project = tmp_path / "TeamMoa"
    project.mkdir()
    (project / "docker-compose.prod.yml").write_text(TEAM_COMPOSE)
    return {
        "ComposeProjectDir": str(project),
        "ComposeFile": "docker-compose.prod.yml",
        "ComposeService": "web",
        "EnvParametersPath": "",
        "ContainerPort": "80",
        "HealthPath": "/health/",
    }


def test_a_compose_service_is_pinned_by_digest_in_an_override_and_recreated_alone(tmp_path: Path) -> None:
    """TeamMoa (seed 003): `docker compose pull web && up -d web`, health from compose's healthcheck."""
    parameters = compose_project(tmp_path)
    project = parameters["ComposeProjectDir"]
    result = run(
        tmp_path, timeout="300", parameters=parameters, OLD_CONTAINER="1", HAS_HEALTHCHECK="1", HEALTH_FAILS="2"
    )
    assert result.code == 0, result.stderr
    files = f"compose --project-directory {project} -f {project}/docker-compose.prod.yml"
    ups = [c for c in called(result, "docker compose") if " up " in c]
    assert ups == [f"docker {files} -f {project}/docker-compose.harbormaster.yml up -d --no-deps web"]
    assert not called(result, "docker stop") and not called(result, "docker run") and not called(result, "docker rm ")
    override = (tmp_path / "override-at-up").read_text()
    assert f"services:\n  web:\n    image: {IMAGE}\n" in override
    assert (Path(project) / "docker-compose.prod.yml").read_text() == TEAM_COMPOSE, "the team's file is never edited"
    # Health is the service's own healthcheck (three looks), not an HTTP call.
    assert len(called(result, "docker ps -q --filter id=web-new --filter health=healthy")) == 3
    assert not called(result, "curl -sf -o /dev/null http://127.0.0.1")
    assert "kept the replaced one (sha256:2222)" in result.stdout


def test_a_compose_service_without_a_healthcheck_is_checked_on_the_health_path(tmp_path: Path) -> None:
    result = run(tmp_path, timeout="300", parameters=compose_project(tmp_path), HEALTH_FAILS="1")
    assert result.code == 0, result.stderr
    assert len(called(result, "curl -sf -o /dev/null http://127.0.0.1:80/health/")) == 2


def test_a_redeploy_keeps_the_previous_override_beside_the_new_one(tmp_path: Path) -> None:
    parameters = compose_project(tmp_path)
    override = Path(parameters["ComposeProjectDir"]) / "docker-compose.harbormaster.yml"
    override.write_text("services:\n  web:\n    image: previous@sha256:" + "a" * 64 + "\n")
    result = run(tmp_path, timeout="300", parameters=parameters)
    assert result.code == 0, result.stderr
    assert "previous@sha256:" in override.with_name(override.name + ".previous").read_text()
    assert IMAGE in override.read_text()


def test_a_compose_service_that_never_gets_healthy_exits_1_with_its_logs(tmp_path: Path) -> None:
    result = run(tmp_path, timeout="0", parameters=compose_project(tmp_path), HAS_HEALTHCHECK="1", HEALTH_FAILS="1000")
    assert result.code == 1
    assert "container did not become healthy" in result.stderr and "could not connect to the database" in result.stderr
    assert called(result, "docker logs --tail 50 web-new")


def test_an_unknown_compose_service_or_file_changes_nothing(tmp_path: Path) -> None:
    parameters = compose_project(tmp_path)
    unknown = run(tmp_path, parameters={**parameters, "ComposeService": "api"})
    assert unknown.code == 1 and "has no service api" in unknown.stderr
    missing = run(tmp_path, parameters={**parameters, "ComposeFile": "compose.yaml"})
    assert missing.code == 1 and "no compose file at" in missing.stderr
    override = Path(parameters["ComposeProjectDir"]) / "docker-compose.harbormaster.yml"
    assert not override.exists()
    assert not [c for c in unknown.calls + missing.calls if " up " in c or c.startswith("docker pull")]


def test_compose_v1_is_used_where_the_v2_plugin_is_missing(tmp_path: Path) -> None:
    """DEEPPLE's hosts install the standalone docker-compose binary."""
    result = run(tmp_path, timeout="300", parameters=compose_project(tmp_path), COMPOSE_V1="1")
    assert result.code == 0, result.stderr
    assert [c for c in called(result, "docker-compose") if " up -d --no-deps web" in c]


def test_a_compose_service_gets_its_parameters_through_a_root_only_file_the_override_names(tmp_path: Path) -> None:
    parameters = {**compose_project(tmp_path), "EnvParametersPath": "/teammoa/prod/"}
    secrets = Path("/etc/harbormaster/compose-test.env")
    try:
        result = run(
            tmp_path, timeout="300", parameters={**parameters, "Environment": "compose-test"}, DESIRED_RELEASE=RELEASE
        )
        assert result.code == 0, result.stderr
        assert secrets.read_text() == f"DB_PASSWORD={SECRET}\nMODE=prod\n"
        assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
        assert f"    env_file:\n      - {secrets}\n" in (tmp_path / "override-at-up").read_text()
        assert SECRET not in result.stdout + result.stderr + "\n".join(result.calls)
    finally:
        secrets.unlink(missing_ok=True)
