"""What operators are shown, in the terminal (`harbormaster status`, `history`) and in Slack
(`/harbormaster status`, `history`): rows read from the ledger and the lock, and plain-text tables."""

from __future__ import annotations

from typing import Any

from harbormaster.config import HarbormasterConfig
from harbormaster.state.ledger import Ledger
from harbormaster.state.lock import DeployLock


class OperatorError(Exception):
    """The command cannot do what was asked (unknown environment, image, stack)."""


def history_rows(environment: str, limit: int = 20) -> list[dict[str, Any]]:
    return [release.model_dump(mode="json", exclude_none=True) for release in Ledger().history(environment, limit)]


def status_rows(config: HarbormasterConfig, only: str | None = None) -> list[dict[str, Any]]:
    rows = []
    for name in [only] if only else sorted(config.environments):
        if name not in config.environments:
            raise OperatorError(f"environment {name!r} is not in the configuration")
        ledger = Ledger()
        current = ledger.current(name)
        holder = DeployLock().holder(name)
        running = ledger.release(name, str(holder["release_id"])) if holder else None
        rows.append(
            {
                "environment": name,
                "current_release": current.release_id if current else None,
                "current_image": _short(current.tag, current.digest) if current else None,
                "deploying": _short(running.tag, running.digest) if running else None,
                "progress": f"{running.instances_done}/{running.instances_total}" if running else None,
            }
        )
    return rows


def _short(tag: str | None, digest: str | None) -> str | None:
    if not digest:
        return None
    return f"{tag or '-'} ({digest[:19]})"


def _cell(value: Any, width: int = 100) -> str:
    """One line per row: newlines shown as ⏎, long text cut."""
    text = "-" if value is None else str(value).replace("\n", " ⏎ ")
    return text if len(text) <= width else text[: width - 1] + "…"


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A plain-text table, columns as given."""
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) if cells else len(c) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)
