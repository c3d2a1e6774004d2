"""The deploy document's `allowedPattern`s (template.yaml, DeployDocument), for the configuration.

SSM refuses a SendCommand whose parameter breaks its pattern, so the configuration is checked
against the very same patterns before anything deploys. A test keeps both copies equal.
"""

from __future__ import annotations

import re

CONTAINER_NAME = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$"
HEALTH_PATH = r"^/[A-Za-z0-9/_.-]*$"
ENV_PARAMETERS_PATH = r"^(/([A-Za-z0-9_.-]+/)+)?$"
LOG_GROUP = r"^[A-Za-z0-9/_.-]{1,512}$"
HOST_PATH = r"^((/[A-Za-z0-9_.-]+)+)?$"
_VOLUME = r"/[A-Za-z0-9_./-]+:/[A-Za-z0-9_./-]+(:(ro|rw))?"
VOLUMES = rf"^({_VOLUME}(,{_VOLUME})*)?$"
_PORT_MAPPING = r"[0-9]{1,5}:[0-9]{1,5}(/(tcp|udp))?"
EXTRA_PORTS = rf"^({_PORT_MAPPING}(,{_PORT_MAPPING})*)?$"
# `docker run` options a deploy may add: resources, user, hosts, ulimits; nothing that widens what
# the container may do to the host (no --privileged, --cap-add, --network, --pid, --volume).
DOCKER_ARG_NAMES = (
    "memory",
    "memory-reservation",
    "memory-swap",
    "cpus",
    "cpu-shares",
    "pids-limit",
    "shm-size",
    "user",
    "add-host",
    "ulimit",
)
DOCKER_FLAGS = ("init", "read-only")
_DOCKER_ARG = rf"--({'|'.join(DOCKER_ARG_NAMES)})=[A-Za-z0-9_.:=@+-]+|--({'|'.join(DOCKER_FLAGS)})"
DOCKER_ARG = rf"^({_DOCKER_ARG})$"
DOCKER_ARGS = rf"^(({_DOCKER_ARG})( ({_DOCKER_ARG}))*)?$"
COMPOSE_FILE = r"^([A-Za-z0-9_-][A-Za-z0-9_./-]*)?$"
COMPOSE_SERVICE = r"^([a-zA-Z0-9][a-zA-Z0-9_.-]{0,62})?$"

PATTERNS = {
    "ContainerName": CONTAINER_NAME,
    "HealthPath": HEALTH_PATH,
    "EnvParametersPath": ENV_PARAMETERS_PATH,
    "LogGroup": LOG_GROUP,
    "EnvFile": HOST_PATH,
    "Volumes": VOLUMES,
    "ExtraPorts": EXTRA_PORTS,
    "DockerArgs": DOCKER_ARGS,
    "ComposeProjectDir": HOST_PATH,
    "ComposeFile": COMPOSE_FILE,
    "ComposeService": COMPOSE_SERVICE,
}

_WHAT = {
    CONTAINER_NAME: "a container name (letters, digits, _ . -; up to 63, starting with a letter or digit)",
    HEALTH_PATH: "a path without query string or spaces (letters, digits, / _ . -)",
    ENV_PARAMETERS_PATH: "a Parameter Store path like /app/dev/ (segments of letters, digits, _ . -; ends with /)",
    LOG_GROUP: "a log group name (letters, digits, / _ . -)",
    HOST_PATH: "an absolute host path like /home/ec2-user/app (letters, digits, _ . -)",
    VOLUMES: "a volume HOST:CONTAINER or HOST:CONTAINER:ro with absolute paths (letters, digits, / _ . -)",
    EXTRA_PORTS: "a port mapping HOST:CONTAINER, optionally /tcp or /udp",
    DOCKER_ARG: (
        "an allowed docker run option: "
        + ", ".join(f"--{name}=VALUE" for name in DOCKER_ARG_NAMES)
        + ", "
        + ", ".join(f"--{flag}" for flag in DOCKER_FLAGS)
        + " (values of letters, digits, _ . : = @ + -)"
    ),
    COMPOSE_FILE: "a compose file path inside the project directory (letters, digits, / _ . -)",
    COMPOSE_SERVICE: "a compose service name (letters, digits, _ . -)",
}


def check(value: str, pattern: str) -> str:
    """`value` if the document accepts it, else a ValueError that says what is expected."""
    if re.fullmatch(pattern, value) is None:
        raise ValueError(f"{value!r} is not {_WHAT[pattern]}: the deploy document's allowedPattern is {pattern}")
    return value
