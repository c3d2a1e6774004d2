"""The doctor's instance probe: linted with shellcheck, run under bash with a stub `aws` that
records its arguments, and its output parsed. It must only read, and never print a secret."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

from harbormaster.doctor import probe
from tests.conftest import shellcheck

AWS_STUB = r"""#!/bin/bash
echo "aws $*" >> "$STUB_LOG"
case "$1 $2" in
  "ecr get-login-password") echo "ecr-password-never-shown" ;;
  "ssm get-parameters-by-path") [ -z "${DENY_PARAMETERS:-}" ] || { echo "AccessDeniedException: no" >&2; exit 254; }
                                echo '{"Parameters": [{"Value": "db-password-never-shown"}]}' ;;
esac
"""
DOCKER_STUB = """#!/bin/bash
echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2
exit 1
"""


def run(tmp_path: Path, lines: list[str], **env: str) -> tuple[str, list[str]]:
    stubs = tmp_path / "bin"
    stubs.mkdir(exist_ok=True)
    for name, body in (("aws", AWS_STUB), ("docker", DOCKER_STUB)):
        path = stubs / name
        path.write_text(body)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "calls.log"
    done = subprocess.run(
        ["/bin/bash", "-c", "\n".join(lines)],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": f"{stubs}:/usr/bin:/bin", "STUB_LOG": str(log), **env},
        check=False,
    )
    return done.stdout, log.read_text().splitlines()


def test_the_probe_reads_only_and_never_prints_a_secret(tmp_path: Path) -> None:
    lines = probe.script("ap-northeast-2", "tpt-api; rm -rf /", "/tpt-api/dev/")
    stdout, calls = run(tmp_path, lines, DENY_PARAMETERS="1")
    results = probe.parse(stdout)
    assert results["ecr-pull"] is None and "AccessDeniedException" in str(results["parameter-read"])
    assert "Is the docker daemon running?" in str(results["docker"])  # reported; the other checks still ran
    assert "never-shown" not in stdout
    assert calls == [
        "aws ecr get-login-password --region ap-northeast-2",
        "aws ecr batch-get-image --region ap-northeast-2 --repository-name tpt-api; rm -rf / "
        "--image-ids imageTag=harbormaster-doctor",  # one argument: quoted, not run
        "aws ssm get-parameters-by-path --region ap-northeast-2 --path /tpt-api/dev/ --recursive "
        "--with-decryption --max-items 1",
    ]


def test_without_a_parameters_path_nothing_is_read_from_ssm(tmp_path: Path) -> None:
    stdout, calls = run(tmp_path, probe.script("ap-northeast-2", "tpt-api", None))
    assert not any("ssm" in call for call in calls) and "parameter-read" not in probe.parse(stdout)


def test_parse_keeps_the_first_failure_and_ignores_other_lines() -> None:
    stdout = "noise\nHM-CHECK ecr-pull ok\nHM-CHECK ecr-pull fail denied\nHM-CHECK unknown ok\nHM-CHECK docker fail\n"
    assert probe.parse(stdout) == {"ecr-pull": "denied", "docker": "failed"}


def test_shellcheck_finds_nothing() -> None:
    compose = probe.ComposeService("/home/ubuntu/TeamMoa/docker-compose.prod.yml", "web")
    result = shellcheck("\n".join(probe.script("ap-northeast-2", "tpt-api", "/tpt-api/dev/", compose=compose)))
    assert result.returncode == 0, result.stdout
