"""Package exports that import their module on first use (PEP 562), so a handler loads only what
its path needs: a Lambda cold start pays for every module imported, and most of the package is
not on any one handler's path.

    # harbormaster/deploy/__init__.py
    __getattr__, __dir__ = exports(__name__, {"DeployPlan": "models", "prepare": "prepare"})
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def exports(package: str, names: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A module `__getattr__` and `__dir__` that resolve `names` (export → submodule) lazily."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    def __dir__() -> list[str]:
        return sorted(names)

    return __getattr__, __dir__
