"""Container log lines quoted in alerts: the last few only, with what looks like a secret masked.

>>> redact("DB_PASSWORD=hunter2 connecting to postgres://app:s3cret@db:5432/app")
'DB_PASSWORD=[redacted] connecting to postgres://app:[redacted]@db:5432/app'
"""

from __future__ import annotations

import re

MASK = "[redacted]"
_RULES: list[tuple[re.Pattern[str], str]] = [
    # key=value / key: value where the key names a secret
    (
        re.compile(
            r"(?i)\b([A-Z0-9_.-]*(?:pass(?:word|wd)?|secret|token|api[_-]?key|private[_-]?key|credential|auth)"
            r"[A-Z0-9_.-]*)(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|\S+)"
        ),
        rf"\1\2{MASK}",
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {MASK}"),  # Authorization headers
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+@"), rf"\1{MASK}@"),  # credentials in URLs
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), MASK),  # AWS access key ids
    (re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*"), MASK),  # JWTs
    (re.compile(r"(?<!sha256:)\b[A-Za-z0-9+/]{40,}={0,2}(?![A-Za-z0-9+/=])"), MASK),  # long blobs, not digests
]


def redact(text: str) -> str:
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def last_lines(output: str, count: int) -> str:
    """The last `count` non-empty lines of `output`, redacted (nothing when `count` is 0)."""
    if count <= 0:
        return "(log lines not quoted: container.log_lines_in_alerts is 0)"
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return redact("\n".join(lines[-count:]))
