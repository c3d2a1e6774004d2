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

PATTERNS = {
    "ContainerName": CONTAINER_NAME,
    "HealthPath": HEALTH_PATH,
    "EnvParametersPath": ENV_PARAMETERS_PATH,
    "LogGroup": LOG_GROUP,
}

_WHAT = {
    CONTAINER_NAME: "a container name (letters, digits, _ . -; up to 63, starting with a letter or digit)",
    HEALTH_PATH: "a path without query string or spaces (letters, digits, / _ . -)",
    ENV_PARAMETERS_PATH: "a Parameter Store path like /app/dev/ (segments of letters, digits, _ . -; ends with /)",
    LOG_GROUP: "a log group name (letters, digits, / _ . -)",
}


def check(value: str, pattern: str) -> str:
    """`value` if the document accepts it, else a ValueError that says what is expected."""
    if re.fullmatch(pattern, value) is None:
        raise ValueError(f"{value!r} is not {_WHAT[pattern]}: the deploy document's allowedPattern is {pattern}")
    return value
