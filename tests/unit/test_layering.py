"""What ships in the Lambda layer never imports what does not: the layer's Makefile removes
`harbormaster.cli` and `harbormaster.local` (they run on operators' machines), so a shipped module
importing them, even inside a function, fails on AWS only, where the engine cannot see it."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "layers" / "harbormaster" / "harbormaster"
NOT_SHIPPED = ("harbormaster.cli", "harbormaster.local")


def _not_shipped(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in NOT_SHIPPED)


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return found


def test_no_shipped_module_imports_the_cli_or_the_engine() -> None:
    offending = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).parts[0] in {"cli", "local"}:
            continue
        offending += [
            f"{path.relative_to(ROOT)}:{line} imports {module}"
            for line, module in _imports(path)
            if _not_shipped(module)
        ]
    assert not offending, offending


def test_no_handler_imports_the_cli_or_the_engine() -> None:
    offending = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted((ROOT / "functions").glob("*/app.py"))
        for line, module in _imports(path)
        if _not_shipped(module)
    ]
    assert not offending, offending
