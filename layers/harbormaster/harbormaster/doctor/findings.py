"""One line of a doctor report: what was checked, how it stands, and how to fix it."""

from __future__ import annotations

from enum import StrEnum

from pydantic import ConfigDict

from harbormaster.model import Model


class Status(StrEnum):
    OK = "ok"
    WARNING = "warning"  # deploys work, but not as configured (e.g. a deadline raised)
    PROBLEM = "problem"  # a deploy would fail


class Finding(Model):
    model_config = ConfigDict(frozen=True)

    scope: str  # an environment, "stack" or "slack"
    check: str
    status: Status
    detail: str
    fix: str | None = None


def blocking(findings: list[Finding]) -> bool:
    return any(finding.status is Status.PROBLEM for finding in findings)


def report(findings: list[Finding]) -> str:
    """One line per check; a fix, indented, under each that is not ok."""
    marks = {Status.OK: "ok     ", Status.WARNING: "warning", Status.PROBLEM: "PROBLEM"}
    lines = []
    for finding in findings:
        lines.append(f"{marks[finding.status]}  {finding.scope:<16} {finding.check:<22} {finding.detail}")
        if finding.fix and finding.status is not Status.OK:
            lines.append(f"{'':>9}{'':<16} {'':<22} fix: {finding.fix}")
    problems = sum(f.status is Status.PROBLEM for f in findings)
    warnings = sum(f.status is Status.WARNING for f in findings)
    lines.append(f"\n{problems} problem(s), {warnings} warning(s): " + ("a deploy would fail" if problems else "ready"))
    return "\n".join(lines)
