"""Policy documents as the engine's rules read them (STS trust, event bus and ECR repository
policies, key policies): a policy may write one action, resource or principal as a string or a
list, and its `Statement` as one object or a list."""

from __future__ import annotations

import json
from typing import Any


def statements(policy: dict[str, Any] | str) -> list[dict[str, Any]]:
    """The statements of a policy (a document or its JSON text)."""
    document = json.loads(policy) if isinstance(policy, str) else policy
    found = document.get("Statement", [])
    return found if isinstance(found, list) else [found]


def listed(statement: dict[str, Any], key: str) -> list[str]:
    """`Action`, `Resource`, … of a statement as a list."""
    value = statement.get(key)
    return [value] if isinstance(value, str) else list(value or [])


def principals(statement: dict[str, Any], kind: str = "AWS") -> list[str]:
    """The statement's principals of `kind` (`AWS`, `Service`); `"*"` when it names everyone."""
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    value = principal.get(kind) if isinstance(principal, dict) else None
    return [value] if isinstance(value, str) else list(value or [])


def names_account(statement: dict[str, Any], account: str) -> bool:
    """Does the statement's AWS principal name `account` (its id or its root)?"""
    return any(p == account or p.endswith(f":iam::{account}:root") for p in principals(statement))
