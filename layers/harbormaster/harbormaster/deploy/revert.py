"""After a failure: put every instance the release touched back on the previous image, or the
ECS service back on the revision it ran before."""

from __future__ import annotations

from harbormaster.deploy import commands, ecs
from harbormaster.deploy.models import BatchSettings, DeployPlan, ServiceTask
from harbormaster.state import fence
from harbormaster.state.ledger import Ledger, now_iso
from harbormaster.state.status import ReleaseStatus


def revert_batches(plan: DeployPlan) -> tuple[BatchSettings | None, list[list[str]], str | None]:
    """The settings and batches that restore the previous image, and a warning when none can.

    The batches are the rollout's own, newest first: the batch that failed (its instances are out
    of service or unhealthy already) goes back first, then each earlier batch, one at a time, so a
    revert never has more instances out than the rollout allowed (`min_healthy`). An instance that
    cannot be put back does not stop the others (`keep_going`): Finalize names it."""
    if plan.target_type == "ecs" or plan.rollout is None:
        return None, [], None  # see revert_service
    release = Ledger().release(plan.request.environment, plan.release_id)
    if release is None or release.status == ReleaseStatus.ROLLED_BACK:
        return None, [], None  # an alarm stopped this release: the rollback deploy owns the fleet now
    touched = set(release.touched)
    if not touched:
        return None, [], None
    if plan.previous is None:
        return (
            None,
            [],
            (
                f"{len(touched)} instance(s) were taken out of service and there is no previous "
                f"known-good release to restore: {', '.join(sorted(touched))}"
            ),
        )
    if not fence.Fence().hand_to_revert(plan.request.environment, plan.release_id, plan.previous.digest, now_iso()):
        return None, [], None  # the release lost the environment meanwhile: its new owner covers the fleet
    commands.cancel_in_flight(plan.request.environment, plan.release_id)  # they are refused now anyway
    planned = [[instance_id for instance_id in batch if instance_id in touched] for batch in plan.batches]
    unplanned = sorted(touched - {instance for batch in planned for instance in batch})  # e.g. a fleet change
    batches = [sorted(batch) for batch in [*reversed(planned), unplanned] if batch]
    settings = plan.rollout.model_copy(
        update={
            "release_id": fence.revert_of(plan.release_id),
            "image_uri": plan.previous.image_uri,
            "record_touch": False,
            "keep_going": True,
            "progress": None,  # the revert's end is told by deploy.failed
        }
    )
    return settings, batches, None


def revert_service(plan: DeployPlan) -> ServiceTask | None:
    """The service task that restores the revision the service ran before this release; a
    `skipped` task (with the reason as note) when there is nothing to do."""
    if plan.ecs is None:
        return None
    nothing = plan.ecs.model_copy(update={"phase": "skipped", "wait_seconds": 0, "record_touch": False})
    release = Ledger().release(plan.request.environment, plan.release_id)
    if release is not None and release.status == ReleaseStatus.ROLLED_BACK:
        return nothing.model_copy(update={"note": "the rollback deploy owns the service now"})
    previous = release.previous_task_definition_arn if release else None
    touched = set(release.touched) if release else set()
    if not previous or ecs.service_key(plan.ecs.cluster, plan.ecs.service) not in touched:
        return nothing.model_copy(update={"note": "the service was not changed"})
    running = ecs.describe_service(plan.ecs.cluster, plan.ecs.service, plan.ecs.scope)["taskDefinition"]
    if running == previous:
        return nothing.model_copy(
            update={"note": f"the service already runs {previous.rsplit('/', 1)[-1]} again (ECS circuit breaker)"}
        )
    return plan.ecs.model_copy(
        update={
            "task_definition_arn": previous,
            "phase": "start",
            "record_touch": False,
            "deployment_id": None,
            "deadline": None,
            "note": None,
            "ecs_rolled_back": False,
        }
    )
