"""Read and validate `harbormaster.yaml` once per process (once per Lambda cold start)."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from harbormaster.config.errors import ConfigError, ConfigIssue
from harbormaster.config.models import HarbormasterConfig

CONFIG_ENV = "HARBORMASTER_CONFIG"
# Where the layer's Makefile bundles the file (layers are mounted at /opt).
LAYER_CONFIG_PATH = "/opt/harbormaster.yaml"


def config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or LAYER_CONFIG_PATH)


def parse_config(text: str, source: str = "harbormaster.yaml") -> HarbormasterConfig:
    """Validate configuration text; raise ConfigError naming file, key path and line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigIssue(source, "", f"not valid YAML: {problem}", line)]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([ConfigIssue(source, "", "the file must hold a mapping (environments, ...)", 1)])
    try:
        return HarbormasterConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([_issue(source, root, error) for error in exc.errors(include_url=False)]) from None


@functools.cache
def load_config(path: str | None = None) -> HarbormasterConfig:
    """The configuration at `path`, `$HARBORMASTER_CONFIG` or the layer's copy, parsed once."""
    file = Path(path) if path else config_path()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigIssue(str(file), "", f"cannot read the file: {exc.strerror}")]) from None
    return parse_config(text, str(file))


def _issue(source: str, root: yaml.Node | None, error: Any) -> ConfigIssue:
    loc = [part for part in error["loc"] if not _is_union_tag(part)]
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    elif error["type"] == "missing":
        message = "required key is missing"
    elif error["type"] == "union_tag_invalid":
        message = f"unknown target type {error['input'].get('type')!r}; expected 'ec2' or 'ecs'"
    elif error["type"] == "union_tag_not_found":
        message = "target needs a 'type': 'ec2' or 'ecs'"
    key_path = ".".join(str(part) for part in loc)
    return ConfigIssue(source, key_path, message, _line_of(root, loc))


def _is_union_tag(part: Any) -> bool:
    # pydantic puts the discriminator value ("ec2") or validator names in the location.
    return isinstance(part, str) and (part in {"ec2", "ecs"} or "[" in part or part.startswith("function-"))


def _line_of(root: yaml.Node | None, loc: list[Any]) -> int | None:
    """The 1-based line of the deepest node of `loc` that exists in the YAML document."""
    node, line = root, (root.start_mark.line + 1 if root is not None else None)
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == str(part)), None)
            key = next((k for k, _ in node.value if k.value == str(part)), None)
            if match is None:
                break
            line = (key or match).start_mark.line + 1
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line
