"""A read-only look from inside the instances: is Docker there, and may the instance role pull the
image and read the environment's parameters? Asking the instance itself (rather than simulating
IAM) also catches what policies alone do not show: permission boundaries, SCPs, missing VPC
endpoints, a daemon that is installed but stopped.

The probe is `AWS-RunShellScript`, sent once to up to 50 instances, and prints one line per check:

    HM-CHECK docker ok
    HM-CHECK ecr-pull fail An error occurred (AccessDeniedException) when calling ...

It changes nothing: `docker info`, `aws ecr get-login-password` (the password is never printed),
`aws ecr batch-get-image` of a tag that need not exist, `aws ssm get-parameters-by-path` with
`--max-items 1` (values are never printed), `aws dynamodb get-item` of the environment's fence
(what every deploy command reads first), and for a Compose service `docker compose -f FILE config
--services` (the v2 plugin, else `docker-compose`): the file is there and names the service.
"""

from __future__ import annotations

import shlex
from contextlib import suppress
from typing import Any, NamedTuple

from botocore.exceptions import WaiterError

from harbormaster.clients import client

CHECKS = ("docker", "ecr-pull", "parameter-read", "fence-read", "compose")
MARK = "HM-CHECK"
BATCH = 50  # SendCommand takes up to 50 instance ids
WAIT = {"Delay": 2, "MaxAttempts": 60}  # the command_executed waiter: up to 2 minutes per instance


class Fence(NamedTuple):
    """Where the environment's fence lives: the stack's table and the environment's name."""

    table: str
    environment: str


class ComposeService(NamedTuple):
    """The compose file (absolute) and the service a Compose environment deploys."""

    file: str
    service: str


_COMPOSE_SERVICE = [
    "compose_service() {",
    "  if docker compose version >/dev/null 2>&1; then c=(docker compose)",
    "  elif command -v docker-compose >/dev/null; then c=(docker-compose)",
    '  else echo "neither the docker compose plugin nor docker-compose is installed" >&2; return 1; fi',
    '  services=$("${c[@]}" -f "$1" config --services) || return 1',
    '  grep -qx "$2" <<<"$services" || { echo "$1 has no service $2" >&2; return 1; }',
    "}",
]


def script(
    region: str,
    repository: str,
    parameters_path: str | None,
    fence: Fence | None = None,
    compose: ComposeService | None = None,
) -> list[str]:
    """The probe's lines (AWS-RunShellScript `commands`)."""
    region_q, repository_q = shlex.quote(region), shlex.quote(repository)
    lines = [
        "set -u",
        "check() {",
        "  name=$1; shift",
        '  if out=$("$@" 2>&1 >/dev/null); then echo "' + MARK + ' $name ok"',
        '  else echo "' + MARK + ' $name fail $(printf \'%s\' "$out" | tail -n 1 | cut -c1-300)"; fi',
        "}",
        "check docker docker info",
        f"check ecr-pull aws ecr get-login-password --region {region_q}",
        f"check ecr-pull aws ecr batch-get-image --region {region_q} --repository-name {repository_q}"
        " --image-ids imageTag=harbormaster-doctor",
    ]
    if parameters_path:
        lines.append(
            f"check parameter-read aws ssm get-parameters-by-path --region {region_q}"
            f" --path {shlex.quote(parameters_path)} --recursive --with-decryption --max-items 1"
        )
    if fence:
        key = '{"pk": {"S": "FENCE#%s"}, "sk": {"S": "DESIRED"}}' % fence.environment  # noqa: UP031 - JSON braces
        lines.append(
            f"check fence-read aws dynamodb get-item --region {region_q} --table-name {shlex.quote(fence.table)}"
            f" --key {shlex.quote(key)} --consistent-read"
        )
    if compose:
        lines += [
            *_COMPOSE_SERVICE,
            f"check compose compose_service {shlex.quote(compose.file)} {shlex.quote(compose.service)}",
        ]
    return lines


def parse(stdout: str) -> dict[str, str | None]:
    """check → None when it passed, else the reason (a check that failed twice keeps the first)."""
    results: dict[str, str | None] = {}
    for line in stdout.splitlines():
        parts = line.split(" ", 3)
        if len(parts) < 3 or parts[0] != MARK or parts[1] not in CHECKS:
            continue
        name, outcome = parts[1], parts[2]
        if outcome == "ok":
            results.setdefault(name, None)
        else:
            reason = parts[3] if len(parts) > 3 else "failed"
            if results.get(name) is None:
                results[name] = reason
    return results


def run(
    instance_ids: list[str],
    region: str,
    repository: str,
    parameters_path: str | None,
    fence: Fence | None = None,
    compose: ComposeService | None = None,
) -> dict[str, Any]:
    """instance → parsed checks, or the command's error text when the probe did not run."""
    ssm = client("ssm")
    outcome: dict[str, Any] = {}
    lines = script(region, repository, parameters_path, fence, compose)
    for start in range(0, len(instance_ids), BATCH):
        batch = instance_ids[start : start + BATCH]
        command = ssm.send_command(
            InstanceIds=batch,
            DocumentName="AWS-RunShellScript",
            Comment="harbormaster doctor: read-only checks",
            Parameters={"commands": lines, "executionTimeout": ["60"]},
            TimeoutSeconds=60,
        )["Command"]["CommandId"]
        waiter = ssm.get_waiter("command_executed")
        for instance_id in batch:
            with suppress(WaiterError):  # a failed or timed-out probe still says what it can, below
                waiter.wait(CommandId=command, InstanceId=instance_id, WaiterConfig=WAIT)
            invocation = ssm.get_command_invocation(CommandId=command, InstanceId=instance_id)
            checks = parse(invocation.get("StandardOutputContent", ""))
            if checks:
                outcome[instance_id] = checks
            else:
                outcome[instance_id] = (
                    f"the probe did not run ({invocation['Status']}): "
                    f"{invocation.get('StandardErrorContent', '').strip()[:300]}"
                )
    return outcome
