"""Value types used by the configuration: durations, percentages, batch sizes, tag globs."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_DURATION_PART = re.compile(r"(\d+)\s*(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> timedelta:
    """`30s`, `5m`, `24h`, `1h30m`, `2d`, a bare number of seconds, or a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("a duration must be like 30s, 5m, 24h or 1h30m, not a boolean")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return timedelta(seconds=value)
    if not isinstance(value, str):
        raise ValueError(f"a duration must be like 30s, 5m, 24h or 1h30m, got {type(value).__name__}")
    text = value.strip().lower()
    if text.isdigit():
        return timedelta(seconds=int(text))
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if not text or pos != len(text):
        raise ValueError(f"{value!r} is not a duration; use e.g. 30s, 5m, 24h or 1h30m")
    return timedelta(seconds=total)


def _parse_percent(value: Any) -> float:
    original = value
    if isinstance(value, bool):
        raise ValueError("a percentage must be like 50%")
    if isinstance(value, str) and value.strip().endswith("%"):
        number = value.strip()[:-1].strip()
        try:
            value = float(number)
        except ValueError:
            raise ValueError(f"{value!r} is not a percentage; use e.g. 50%") from None
    elif isinstance(value, str):
        raise ValueError(f"{value!r} is not a percentage; use e.g. 50%")
    if not isinstance(value, int | float) or not 0 <= value <= 100:
        raise ValueError(f"{original!r} is not a percentage between 0% and 100%")
    return float(value)


def _format_seconds(value: timedelta) -> str:
    return f"{int(value.total_seconds())}s"


Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(_format_seconds)]
"""A duration written as `30s`, `5m`, `24h`, `1h30m` (or seconds as a number)."""

Percent = Annotated[float, BeforeValidator(_parse_percent), PlainSerializer(lambda v: f"{v:g}%")]
"""A percentage written as `50%` (stored as 50.0)."""


def _parse_batch(value: Any) -> str | int:
    if isinstance(value, bool):
        raise ValueError("a batch is a number of instances (e.g. 1) or a percentage (e.g. 25%)")
    if isinstance(value, int):
        if value < 1:
            raise ValueError("a batch must hold at least 1 instance")
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return _parse_batch(int(text))
        percent = _parse_percent(text)
        if percent <= 0:
            raise ValueError("a batch percentage must be above 0%")
        return f"{percent:g}%"
    raise ValueError("a batch is a number of instances (e.g. 1) or a percentage (e.g. 25%)")


BatchSize = Annotated[int | str, BeforeValidator(_parse_batch)]
"""How many instances a rollout batch holds: a count (`1`) or a share of the fleet (`25%`)."""

_TAG_GLOB = re.compile(r"^[A-Za-z0-9_.\-*?\[\]!]{1,128}$")


def _check_tag_glob(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"a tag glob must be a string, got {type(value).__name__}")
    if not _TAG_GLOB.match(value):
        raise ValueError(f"{value!r} is not a tag glob: use tag characters (A-Z a-z 0-9 _ . -) and * ? [...]")
    depth = 0
    for char in value:
        if char == "[":
            if depth:
                raise ValueError(f"{value!r} is not a tag glob: nested '['")
            depth = 1
        elif char == "]":
            if not depth:
                raise ValueError(f"{value!r} is not a tag glob: ']' without '['")
            depth = 0
    if depth:
        raise ValueError(f"{value!r} is not a tag glob: '[' is never closed")
    return value


TagGlob = Annotated[str, BeforeValidator(_check_tag_glob)]
"""A shell-style glob on image tags (`v*`, `dev-*`, `release-[0-9]*`)."""
