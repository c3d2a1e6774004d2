"""A rollout's progress: after each batch, `deploy.progress` (or `rollback.progress`) on the alert
topic, so the release's Slack message (bot mode) shows batch n/m and the instances done.

Published by the batch step itself: no extra state-machine transition per batch. Best effort: the
event only moves a message along that the release's outcome will set anyway, so a failed publish
is logged, and never fails the batch.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from harbormaster.deploy.models import BatchTask
from harbormaster.notify.events import HarbormasterEvent
from harbormaster.notify.publisher import publish
from harbormaster.observability import logger


def progress_event(task: BatchTask) -> HarbormasterEvent | None:
    """The event for a batch that has just ended (`done`), or None when there is nothing to tell."""
    progress = task.settings.progress
    if progress is None or task.phase != "done":
        return None
    done = task.instances_done if task.instances_done is not None else 0
    return HarbormasterEvent(
        type=f"{progress.kind}.progress",
        severity="info",
        route="deployments",
        environment=task.settings.environment,
        release_id=task.settings.release_id,
        image=progress.image,
        trigger="rollback" if progress.kind == "rollback" else None,
        phase="rollout",
        details={
            "batch": task.batch + 1,
            "batches": progress.batches,
            "instances_done": min(done, progress.instances_total),
            "instances_total": progress.instances_total,
        },
    )


def announce(before: BatchTask, after: BatchTask) -> str | None:
    """Publish the progress of a batch that this step ended; the message id, or None."""
    if before.phase == "done" or (event := progress_event(after)) is None:
        return None
    try:
        return publish(event)
    except (ClientError, BotoCoreError):
        logger.warning("the batch's progress event was not published", exc_info=True)
        return None
