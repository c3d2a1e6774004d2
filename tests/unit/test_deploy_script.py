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
case "$1" in
  login) cat > /dev/null ;;
  pull) [ -z "${PULL_FAILS:-}" ] || { echo "pull access denied" >&2; exit 1; } ;;
  inspect) [ -n "${OLD_CONTAINER:-}" ] || exit 1 ;;
  run) for a in "$@"; do [ "$prev" = "--env-file" ] && cp "$a" "$STUB_DIR/env-file-at-run"; prev="$a"; done
       echo container-id ;;
  ps) [ -n "${CONTAINER_EXITED:-}" ] || echo container-id ;;
  logs) echo "Error: could not connect to the database"; echo "last line of the app" ;;
esac
""",
    "sleep": 'echo "sleep $*" >> "$STUB_LOG"\n',
}


def script() -> str:
    template = yaml_parse((ROOT / "template.yaml").read_text())
    [step] = template["Resources"]["DeployDocument"]["Properties"]["Content"]["mainSteps"]
    [text] = step["inputs"]["runCommand"]
    return str(text)


def render(parameters: dict[str, str]) -> str:
    """What SSM runs: `{{ Name }}` replaced by the parameter's value."""
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: parameters[m.group(1)], script())


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    calls: list[str]
    env_file: str | None


def start(tmp_path: Path, timeout: str = "0", **env: str) -> subprocess.Popen[str]:
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


def run(tmp_path: Path, timeout: str = "0", **env: str) -> Run:
    return finish(tmp_path, start(tmp_path, timeout, **env))


def called(run: Run, prefix: str) -> list[str]:
    return [call for call in run.calls if call.startswith(prefix)]


def test_a_deploy_logs_in_pulls_by_digest_replaces_the_container_and_waits_for_health(tmp_path: Path) -> None:
    result = run(tmp_path, timeout="300", OLD_CONTAINER="1", HEALTH_FAILS="2")
    assert result.code == 0, result.stderr
    assert result.stdout.strip() == f"healthy: {IMAGE}"
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
    assert called(result, "docker logs --tail 50 app")


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
