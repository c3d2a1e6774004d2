"""Configuration as code: `harbormaster.yaml`, validated by pydantic models."""

from typing import TYPE_CHECKING

from harbormaster.lazy import exports

if TYPE_CHECKING:
    from harbormaster.config.errors import (
        ConfigError as ConfigError,
        ConfigIssue as ConfigIssue,
    )
    from harbormaster.config.loader import (
        CONFIG_ENV as CONFIG_ENV,
        config_path as config_path,
        load_config as load_config,
        parse_config as parse_config,
    )
    from harbormaster.config.models import (
        Ec2Target as Ec2Target,
        EcsTarget as EcsTarget,
        Environment as Environment,
        HarbormasterConfig as HarbormasterConfig,
        Schedule as Schedule,
        Slack as Slack,
        SlackRoute as SlackRoute,
    )
    from harbormaster.config.types import (
        parse_duration as parse_duration,
    )

_EXPORTS = {  # name → the submodule that defines it
    "CONFIG_ENV": "loader",
    "ConfigError": "errors",
    "ConfigIssue": "errors",
    "Ec2Target": "models",
    "EcsTarget": "models",
    "Environment": "models",
    "HarbormasterConfig": "models",
    "Schedule": "models",
    "Slack": "models",
    "SlackRoute": "models",
    "config_path": "loader",
    "load_config": "loader",
    "parse_config": "loader",
    "parse_duration": "types",
}
__getattr__, __dir__ = exports(__name__, _EXPORTS)
