"""`AWS-RunShellScript` on a simulated instance: the commands really run, under bash, with `docker`
and `aws` replaced by stubs that answer as that instance would.

What an instance can do is a set of capabilities; a test takes one away to build a broken world
(`fleet.without(instance_id, "docker")`):

    docker          the Docker daemon answers (`docker info`, `docker version`), with the compose
                    plugin: `docker compose -f FILE config --services` lists the services of the
                    instance's compose project (`fleet.compose`), else fails as compose does
    ecr-pull        the instance role may log in to ECR and pull (GetAuthorizationToken, BatchGetImage)
    parameter-read  the instance role may read the environment's SSM parameters (GetParametersByPath)
    fence-read      the instance role may read the environment's fence item (DynamoDB GetItem)

The stubs print what the real tools print on failure (bash's "command not found", the AWS CLI's
AccessDeniedException) and exit with the same codes (127, 254).
"""

from __future__ import annotations

import stat
import subprocess
import tempfile
from pathlib import Path

CAPABILITIES = frozenset({"docker", "ecr-pull", "parameter-read", "fence-read"})
TIMEOUT_SECONDS = 30

_DOCKER = r"""#!/bin/bash
if [ -z "$HM_DOCKER" ]; then echo "bash: docker: command not found" >&2; exit 127; fi
case "$1 $2" in
  "compose version") echo "Docker Compose version v2.29.7" ;;
  "compose -f")
    if [ "$3" = "$HM_COMPOSE_FILE" ] && [ "$4 $5" = "config --services" ]; then
      tr ',' '\n' <<<"$HM_COMPOSE_SERVICES"
    else
      echo "open $3: no such file or directory" >&2; exit 14
    fi ;;
  info*|version*) echo "Server Version: 27.3.1" ;;
  *) echo "docker $*" ;;
esac
"""

_AWS = r"""#!/bin/bash
denied() {
  role="arn:aws:sts::123456789012:assumed-role/instance-role/$HM_INSTANCE"
  echo "An error occurred (AccessDeniedException) when calling the $1 operation: User: $role" \
       "is not authorized to perform: $2 because no identity-based policy allows the $2 action" >&2
  exit 254
}
case "$1 $2" in
  "ecr get-login-password")
    [ -n "$HM_ECR" ] || denied GetAuthorizationToken ecr:GetAuthorizationToken; echo "password" ;;
  "ecr batch-get-image")
    [ -n "$HM_ECR" ] || denied BatchGetImage ecr:BatchGetImage; echo '{"images": [], "failures": []}' ;;
  "dynamodb get-item")
    [ -n "$HM_FENCE" ] || denied GetItem dynamodb:GetItem; echo '{}' ;;
  "ssm get-parameters-by-path")
    [ -n "$HM_PARAMETERS" ] || denied GetParametersByPath ssm:GetParametersByPath; echo '{"Parameters": []}' ;;
  *) echo "aws $*" ;;
esac
"""


def run(
    instance_id: str, commands: list[str], capabilities: frozenset[str], compose: tuple[str, list[str]] | None = None
) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `commands` run as one script on the instance, whose compose
    project (if any) is its compose file and its services."""
    with tempfile.TemporaryDirectory(prefix="harbormaster-instance-") as directory:
        stubs = Path(directory)
        for name, body in (("docker", _DOCKER), ("aws", _AWS)):
            path = stubs / name
            path.write_text(body)
            path.chmod(path.stat().st_mode | stat.S_IEXEC)
        done = subprocess.run(  # noqa: S603 - the engine's own commands, on the simulated instance
            ["/bin/bash", "-c", "\n".join(commands)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            cwd=directory,
            env={
                "PATH": f"{stubs}:/usr/bin:/bin",
                "HM_INSTANCE": instance_id,
                "HM_DOCKER": "1" if "docker" in capabilities else "",
                "HM_ECR": "1" if "ecr-pull" in capabilities else "",
                "HM_PARAMETERS": "1" if "parameter-read" in capabilities else "",
                "HM_FENCE": "1" if "fence-read" in capabilities else "",
                "HM_COMPOSE_FILE": compose[0] if compose else "",
                "HM_COMPOSE_SERVICES": ",".join(compose[1]) if compose else "",
            },
            check=False,
        )
    return done.returncode, done.stdout, done.stderr
