"""After a failure: put every instance the release touched back on the previous image."""

from __future__ import annotations

from harbormaster.deploy.models import DeployPlan, InstanceTask
from harbormaster.state import ledger


def revert_tasks(plan: DeployPlan) -> tuple[list[InstanceTask], str | None]:
    """The instance tasks that restore the previous image, and a warning when none can."""
    release = ledger.get_release(plan.request.environment, plan.release_id) or {}
    if release.get("status") == "ROLLED_BACK":
        return [], None  # an alarm stopped this release: the rollback deploy owns the fleet now
    touched = set(release.get("touched", []))
    if not touched:
        return [], None
    if plan.previous is None:
        return [], (
            f"{len(touched)} instance(s) were taken out of service and there is no previous "
            f"known-good release to restore: {', '.join(sorted(touched))}"
        )
    template = next((task for batch in plan.batches for task in batch), None)
    if template is None:
        return [], None
    tasks = [
        template.model_copy(
            update={
                "instance_id": instance_id,
                "image_uri": plan.previous.image_uri,
                "phase": "start",
                "record_touch": False,
                "command_id": None,
                "deadline": None,
                "note": None,
                "batch": 0,
            }
        )
        for instance_id in sorted(touched)
    ]
    return tasks, None
