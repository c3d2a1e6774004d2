"""A rollback someone asked for (CLI or Slack button): to a named release or the one before."""

from __future__ import annotations

from harbormaster.config import HarbormasterConfig
from harbormaster.rollback.service import running_rollback, start_rollback
from harbormaster.state.ledger import Ledger
from harbormaster.state.status import ReleaseStatus


class RollbackRefused(Exception):
    """Nothing to roll back, or nothing to roll back to."""


def manual_rollback(
    config: HarbormasterConfig,
    state_machine_arn: str,
    environment: str,
    to: str | None,
    actor: str,
    expected_current: str | None = None,
) -> str:
    """Roll the current release back to `to` (release id or tag), by default to the release before
    it; return the rollback's execution ARN. With `expected_current`, refuse unless that release is
    still the current one (a second click on the same button must not roll back further)."""
    if environment not in config.environments:
        raise RollbackRefused(f"environment {environment!r} is not in the configuration")
    ledger = Ledger()
    current = ledger.current(environment)
    if not current:
        raise RollbackRefused(f"{environment} has no current release to roll back")
    if expected_current and current.release_id != expected_current:
        named = ledger.release(environment, expected_current)
        raise RollbackRefused(
            f"{expected_current} is no longer the current release of {environment} "
            f"({named.status if named else 'unknown'})"
        )
    bad = ledger.release(environment, current.release_id)
    if bad is None:
        raise RollbackRefused(f"the current release {current.release_id} of {environment} has no record")
    candidates = [
        r
        for r in ledger.history(environment, 200)
        if r.status == ReleaseStatus.SUCCEEDED and r.release_id != current.release_id
    ]
    if to:
        target = next((r for r in candidates if to in {r.release_id, r.tag}), None)
    else:
        previous = bad.previous_release_id
        target = next((r for r in candidates if r.release_id == previous), candidates[0] if candidates else None)
    if target is None:
        which = f" {to}" if to else ""
        raise RollbackRefused(f"no earlier successful release{which} of {environment} to roll back to")
    if running := running_rollback(environment):
        raise RollbackRefused(f"a rollback of {environment} is already running: {running}")
    # The same claim as an alarm's: two clicks, a click and the CLI, or a click and an alarm roll a
    # release back once (the current release stays current until the rollback finishes).
    if not ledger.claim_rollback(environment, bad.release_id, f"manual:{actor}"):
        claimed = ledger.release(environment, bad.release_id)
        by = claimed.rollback_claimed_by if claimed and claimed.rollback_claimed_by else "someone"
        raise RollbackRefused(f"{bad.release_id} is already being rolled back ({by})")
    return start_rollback(environment, bad, target, f"manual rollback by {actor}", f"manual:{actor}", state_machine_arn)
