"""Configuration as code: `harbormaster.yaml`, validated by pydantic models."""

from harbormaster.config.errors import ConfigError, ConfigIssue
from harbormaster.config.loader import CONFIG_ENV, config_path, load_config, parse_config
from harbormaster.config.models import (
    Ec2Target,
    EcsTarget,
    Environment,
    HarbormasterConfig,
    Schedule,
    Slack,
    SlackRoute,
)
from harbormaster.config.types import parse_duration

__all__ = [
    "CONFIG_ENV",
    "ConfigError",
    "ConfigIssue",
    "Ec2Target",
    "EcsTarget",
    "Environment",
    "HarbormasterConfig",
    "Schedule",
    "Slack",
    "SlackRoute",
    "config_path",
    "load_config",
    "parse_config",
    "parse_duration",
]
