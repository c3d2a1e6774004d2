"""Checks before anything changes: the image's scan findings and the guard alarms."""

from __future__ import annotations

from datetime import datetime

from botocore.exceptions import ClientError

from harbormaster.accounts import HOME, Scope, scoped_client
from harbormaster.config.models import Environment
from harbormaster.deploy import guard_alarms
from harbormaster.deploy.exceptions import DeployError
from harbormaster.notify.events import ImageRef


class PreflightBlocked(DeployError):
    """A preflight check refused the deploy."""


class ScanInProgress(Exception):
    """The image's scan has not finished yet: nothing was changed; Prepare is retried later.

    A push event arrives while scan-on-push is still running, so the gate waits (bounded by
    `scan.wait_seconds` from the push) instead of judging an image with no findings yet."""


def check_scan(
    environment: Environment, image: ImageRef, pushed_at: datetime, now: datetime, registry: Scope = HOME
) -> list[str]:
    """Block on findings of the configured severities; return warnings; raise ScanInProgress
    while the scan runs and the wait is not over. The findings are read in the image's registry."""
    try:
        findings = scoped_client("ecr", registry).describe_image_scan_findings(
            repositoryName=image.repository, imageId={"imageDigest": image.digest}
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ScanNotFoundException":
            raise
        if environment.scan.require_scan:
            raise PreflightBlocked(f"{image.short} has no scan and scan.require_scan is on") from None
        return [f"{image.short} has not been scanned"]
    status = (findings.get("imageScanStatus") or {}).get("status", "COMPLETE")
    if status in {"IN_PROGRESS", "PENDING"}:
        waited = (now - pushed_at).total_seconds()
        if waited < environment.scan.wait_seconds:
            raise ScanInProgress(f"{image.short}: scan {status} after {waited:.0f}s")
        if environment.scan.require_scan:
            raise PreflightBlocked(
                f"{image.short}: the scan is still {status} after {environment.scan.wait_seconds}s "
                "and scan.require_scan is on"
            )
        return [f"{image.short}: the scan did not finish in {environment.scan.wait_seconds}s; deployed without it"]
    if status != "COMPLETE":
        if environment.scan.require_scan:
            raise PreflightBlocked(f"{image.short}: the scan ended {status} and scan.require_scan is on")
        return [f"{image.short}: the scan ended {status}: {findings['imageScanStatus'].get('description', '')}"]
    counts = findings.get("imageScanFindings", {}).get("findingSeverityCounts", {})
    blocking = {severity: counts[severity] for severity in environment.scan.block_on if counts.get(severity)}
    if blocking:
        listed = ", ".join(f"{n} {severity}" for severity, n in blocking.items())
        raise PreflightBlocked(f"{image.short} has {listed} finding(s) (scan.block_on)")
    return []


def check_alarms(environment: Environment, scope: Scope = HOME) -> list[str]:
    """Guard alarms already in ALARM: block, warn or ignore, per `preflight_alarms`."""
    if not environment.guard_alarms or environment.preflight_alarms == "ignore":
        return []
    firing = list(guard_alarms.in_alarm(environment.guard_alarms, scope))
    if not firing:
        return []
    message = f"guard alarm(s) already in ALARM: {', '.join(sorted(firing))}"
    if environment.preflight_alarms == "block":
        raise PreflightBlocked(message + " (preflight_alarms: block)")
    return [message]
