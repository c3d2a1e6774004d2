"""The prepare phase: check the request against the configuration, ECR, the scan and the guard
alarms; take the environment's lock (or queue behind the running deploy); record the release;
and plan the batches."""

from __future__ import annotations

from datetime import datetime

from botocore.exceptions import ClientError

from harbormaster import clock
from harbormaster.accounts import Scope, environment_scope, registry_scope, scoped_client
from harbormaster.config import Environment, HarbormasterConfig
from harbormaster.config.models import EcsTarget, Rollout
from harbormaster.deploy import alb_timing, ecs, targets
from harbormaster.deploy.exceptions import DeployError, ImageNotFound, UnknownEnvironment
from harbormaster.deploy.models import (
    BatchSettings,
    DeployPlan,
    DeployRequest,
    PreviousRelease,
    RolloutProgress,
    ServiceTask,
)
from harbormaster.deploy.plan import PlanError, plan_batches
from harbormaster.deploy.preflight import check_alarms, check_scan
from harbormaster.state import lock
from harbormaster.state.ledger import Ledger, Release, now_iso
from harbormaster.state.lock import DeployLock
from harbormaster.state.status import ReleaseStatus

_LOCK_ATTEMPTS = 5  # the lock changing hands this often while one Prepare runs means something is wrong


def _skipped(request: DeployRequest, base: Release, reason: str, moment: datetime) -> DeployPlan:
    """Record the release SKIPPED before anything was touched (no lock taken)."""
    Ledger().record(base.replace(status=ReleaseStatus.SKIPPED, reason=reason, finished_at=moment.isoformat()))
    return DeployPlan(request=request, outcome="skipped", release_id=base.release_id, reason=reason)


def _already_running(request: DeployRequest) -> str | None:
    """The current release, when a push asks for the digest it already runs (the same image pushed
    under another tag, or again) and no other deploy is under way: while one is, the push waits
    in the queue like any other and is judged when it runs. Manual deploys and rollbacks redeploy
    it anyway."""
    if request.trigger != "push" or request.force or DeployLock().holder(request.environment):
        return None
    current = Ledger().current(request.environment)
    return current.release_id if current and current.digest == request.image.digest else None


def release_id_for(request: DeployRequest, now: datetime) -> str:
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{request.image.digest.split(':', 1)[-1][:12]}"


def prepare(
    request: DeployRequest, config: HarbormasterConfig, execution_arn: str, now: datetime | None = None
) -> DeployPlan:
    moment = now or clock.now()
    environment = config.environments.get(request.environment)
    if environment is None:
        raise UnknownEnvironment(f"environment {request.environment!r} is not in the configuration")
    release_id = request.release_id or release_id_for(request, moment)
    base = _release(request, release_id, execution_arn)
    ledger = Ledger()
    locked = False
    quarantined = ledger.quarantined(request.environment, request.image.digest)
    if quarantined and request.trigger != "rollback" and not request.force:
        reason = f"quarantined: rolled back in {quarantined.release_id} ({quarantined.reason}); deploy --force"
        return _skipped(request, base, reason, moment)
    if (running := _already_running(request)) is not None:
        return _skipped(request, base, f"already running: release {running} deployed this image", moment)
    try:
        registry, home = registry_scope(environment, config.spokes), environment_scope(environment, config.spokes)
        image_uri = _image_uri(request, registry)
        warnings = check_scan(environment, request.image, request.requested_at, moment, registry)
        warnings += check_alarms(environment, home)
        queued = _lock_or_queue(request, base, execution_arn)
        if queued is not None:
            return queued
        locked = True
        # A rollback that fails is not rolled back further: it stops and says so.
        previous = None if request.trigger == "rollback" else _previous(request.environment)
        plan = _plan(request, environment, release_id, image_uri, previous, warnings, home)
        ledger.record(
            base.replace(
                status=ReleaseStatus.IN_PROGRESS,
                image_uri=image_uri,
                started_at=moment.isoformat(),
                instances_total=plan.instances_total,
                instances_done=0,
                previous_release_id=previous.release_id if previous else None,
                previous_image_uri=previous.image_uri if previous else None,
            )
        )
        return plan
    except (DeployError, PlanError) as exc:
        ledger.record(
            base.replace(status=ReleaseStatus.FAILED, phase="prepare", reason=str(exc), finished_at=moment.isoformat())
        )
        if locked:
            DeployLock().release(request.environment, execution_arn, release_id)
        raise


def _plan(
    request: DeployRequest,
    environment: Environment,
    release_id: str,
    image_uri: str,
    previous: PreviousRelease | None,
    warnings: list[str],
    scope: Scope,
) -> DeployPlan:
    rollout = environment.rollout
    if request.trigger == "rollback":  # the rollback strategy: larger batches, shorter timeouts
        rollout = rollout.model_copy(
            update={
                "batch": environment.rollback.batch,
                "drain_seconds": min(rollout.drain_seconds, environment.rollback.drain_seconds),
                "health_timeout_seconds": environment.rollback.health_timeout_seconds,
            }
        )
    plan = DeployPlan(
        request=request,
        outcome="deploy",
        release_id=release_id,
        image_uri=image_uri,
        target_type=environment.target.type,
        previous=previous,
        approval_required=environment.approval.required and request.trigger != "rollback",
        approval_timeout_seconds=int(environment.approval.timeout.total_seconds()),
        bake_seconds=int(environment.bake.total_seconds()),
        poll_seconds=rollout.poll_seconds,
        warnings=warnings,
    )
    if isinstance(environment.target, EcsTarget):
        service = _service_task(request, environment.target, release_id, image_uri, rollout, scope)
        return plan.model_copy(update={"ecs": service, "instances_total": 1})  # one service
    target = environment.target
    group = targets.target_group_arn(target) if target.has_load_balancer else None
    instance_ids = targets.instances(target, group)
    if request.trigger == "rollback" and request.rolls_back:
        # The whole environment: also what the rolled-back release took out of service.
        rolled_back = Ledger().release(request.environment, request.rolls_back)
        touched = rolled_back.touched if rolled_back else []
        instance_ids = sorted(set(instance_ids) | targets.running(touched))
    if not instance_ids:
        raise DeployError("the environment has no running instances to deploy to")
    total = len(instance_ids)
    container = environment.container
    if group is not None:
        timing = alb_timing.deadlines(alb_timing.read(group), rollout.drain_seconds, rollout.health_timeout_seconds)
    else:  # the deploy command itself waits for the container's health
        timing = alb_timing.Deadlines(
            drain_seconds=0,
            healthy_after_seconds=0,
            health_check_interval_seconds=alb_timing.DEFAULT_INTERVAL_SECONDS,
            health_timeout_seconds=rollout.health_timeout_seconds,
            warnings=[_downtime(total)],
        )
    plan = plan.model_copy(update={"warnings": [*plan.warnings, *timing.warnings]})
    batches = plan_batches(instance_ids, rollout.batch, rollout.min_healthy)
    settings = BatchSettings(
        environment=request.environment,
        release_id=release_id,
        image_uri=image_uri,
        target_group_arn=group,
        port=container.published_port,
        drain_seconds=timing.drain_seconds,
        poll_seconds=rollout.poll_seconds,
        healthy_after_seconds=timing.healthy_after_seconds,
        health_check_interval_seconds=timing.health_check_interval_seconds,
        health_timeout_seconds=timing.health_timeout_seconds,
        command_timeout_seconds=rollout.command_timeout_seconds,
        container=container.document_parameters(request.environment),
        log_lines_in_alerts=container.log_lines_in_alerts,
        progress=RolloutProgress(
            kind="rollback" if request.trigger == "rollback" else "deploy",
            image=request.image,
            batches=len(batches),
            instances_total=total,
        ),
    )
    return plan.model_copy(update={"rollout": settings, "batches": batches, "instances_total": total})


def _downtime(instances: int) -> str:
    """What a deploy without a load balancer costs, said in `deploy.started`."""
    if instances == 1:
        return "no load balancer: brief downtime while the only instance's container is replaced in place"
    return "no load balancer: each instance is briefly down while its container is replaced (one batch at a time)"


def _service_task(
    request: DeployRequest, target: EcsTarget, release_id: str, image_uri: str, rollout: Rollout, scope: Scope
) -> ServiceTask:
    service = ecs.check_service(request.environment, target.cluster, target.service, scope)
    return ServiceTask(
        scope=scope,
        environment=request.environment,
        release_id=release_id,
        cluster=target.cluster,
        service=str(service["serviceName"]),
        container=target.container,
        image_uri=image_uri,
        task_definition_arn=request.task_definition_arn,  # a rollback reuses the known-good revision
        timeout_seconds=target.deployment_timeout_seconds,
        poll_seconds=rollout.poll_seconds,
    )


def _lock_or_queue(request: DeployRequest, base: Release, execution_arn: str) -> DeployPlan | None:
    """Take the lock (None), or the plan of a request that waits behind its holder or was superseded.

    The lock can change hands between the two (the holder finishes): each is a transaction that
    fails then (`LockChanged`), and the other is tried again, a bounded number of times."""
    requested_at = request.requested_at.isoformat()
    for _ in range(_LOCK_ATTEMPTS):
        try:
            DeployLock().acquire(
                request.environment, execution_arn, base.release_id, request.image.digest, requested_at
            )
            return None
        except lock.LockHeld as held:
            try:
                return _queue(request, base, held)
            except lock.LockChanged:
                continue
        except lock.LockChanged:
            continue
    raise DeployError(f"the lock of {request.environment} changed hands {_LOCK_ATTEMPTS} times while this waited")


def _queue(request: DeployRequest, base: Release, held: lock.LockHeld) -> DeployPlan:
    """Wait behind the running deploy; only the newest waiting image is kept, and a push older
    than the running one is superseded by it (pushes are judged by push time, not arrival)."""
    owner = held.owner
    if request.trigger == "push" and held.requested_at and held.requested_at > request.requested_at.isoformat():
        reason = f"superseded by the newer image deploying in {owner.rsplit(':', 1)[-1]}"
        return _skipped(request, base, reason, clock.now())
    release_id = base.release_id
    waiting = {**request.model_dump(mode="json"), "release_id": release_id}  # keeps its id when it runs
    ledger = Ledger()
    ledger.record(base.replace(status=ReleaseStatus.PENDING, reason=f"waiting behind {owner.rsplit(':', 1)[-1]}"))
    replaced = DeployLock().queue_behind(request.environment, owner, waiting)
    if replaced is not None:
        newer = request.image.tag if replaced is not waiting else "a newer image already waiting"
        ledger.update(
            request.environment,
            str(replaced["release_id"]),
            status=ReleaseStatus.SKIPPED,
            reason=f"superseded by {newer}",
            finished_at=now_iso(),
        )
        if replaced is waiting:
            return DeployPlan(
                request=request, outcome="skipped", release_id=release_id, reason="a newer image is already waiting"
            )
    return DeployPlan(
        request=request, outcome="queued", release_id=release_id, reason=f"waiting behind {owner.rsplit(':', 1)[-1]}"
    )


def _previous(environment: str) -> PreviousRelease | None:
    current = Ledger().current(environment)
    return PreviousRelease.model_validate(current.model_dump()) if current else None


def _release(request: DeployRequest, release_id: str, execution_arn: str) -> Release:
    """What every record of this release says, whatever becomes of it (PENDING until then)."""
    return Release(
        environment=request.environment,
        release_id=release_id,
        status=ReleaseStatus.PENDING,
        repository=request.image.repository,
        tag=request.image.tag,
        digest=request.image.digest,
        trigger=request.trigger,
        actor=request.actor,
        execution_arn=execution_arn,
        requested_at=request.requested_at.isoformat(),
        rolls_back=request.rolls_back,
        trigger_reason=request.reason,
    )


def _image_uri(request: DeployRequest, registry: Scope) -> str:
    """`<registry>/<repository>@sha256:...` after checking the digest exists in ECR (in the
    registry's account, through its spoke role, when it is another)."""
    ecr = scoped_client("ecr", registry)
    image = request.image
    try:
        found = ecr.describe_images(repositoryName=image.repository, imageIds=[{"imageDigest": image.digest}])[
            "imageDetails"
        ]
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code in {"ImageNotFoundException", "RepositoryNotFoundException"}:
            raise ImageNotFound(f"{image.repository}@{image.digest} is not in ECR ({code})") from None
        raise
    if not found:
        raise ImageNotFound(f"{image.repository}@{image.digest} is not in ECR")
    registry = found[0]["registryId"]
    region = ecr.meta.region_name
    return f"{registry}.dkr.ecr.{region}.amazonaws.com/{image.repository}@{image.digest}"
