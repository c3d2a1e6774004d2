"""An ECS service through one deployment, one step per call:

    start ─register revision (or reuse a known-good one), UpdateService→ rolling ─COMPLETED→ done
                                                                         └─FAILED / deadline→ failed

While rolling, the execution does not poll: it parks on a task token (`park`) until ECS announces
the deployment's end (`ECS Deployment State Change`, handled by `deploy.wake`), then takes one more
step to read the outcome. Should the event be lost, the park's timeout (`wait_seconds`) looks
anyway: FALLBACK_SECONDS after the update, then twice as long each time, never past the deadline.
So a deployment costs the same transitions whatever its duration, but for a look every doubling
(none before 10 minutes, two in an hour).

Fenced by the environment's desired release (`state.fence`): a step acts only while its release
holds the environment, and checks again after UpdateService. A step that finds it lost the
environment meanwhile is `superseded`: it puts back the revision it replaced and changes nothing
more; an owner still rolling sees that the primary deployment is not its revision and applies it
again.

The deployment circuit breaker (with rollback) is always on, so a deployment whose tasks never
become healthy ends FAILED and ECS itself restores the previous revision; the step notices and
says so (`ecs_rolled_back`), and the revert then has nothing left to do. The desired count is never
touched: a service scaled to zero by a schedule gets the new revision and stays at zero.

A service in another account (the task's `scope`) is reached through that account's spoke role;
its deployment events reach this account's bus through the rule spoke.yaml sets up there.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from harbormaster import clock
from harbormaster.accounts import HOME, Scope, scoped_client
from harbormaster.deploy.exceptions import DeployError
from harbormaster.deploy.models import ServiceTask
from harbormaster.deploy.targets import ENVIRONMENT_TAG
from harbormaster.deploy.wake import wake_one
from harbormaster.state.fence import Fence
from harbormaster.state.ledger import Ledger
from harbormaster.state.waiting import Waiting

FALLBACK_SECONDS = 600  # the first look at a deployment whose end no event announced

# Fields of DescribeTaskDefinition that RegisterTaskDefinition accepts back unchanged.
_REGISTERABLE = (
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "inferenceAccelerators",
    "ephemeralStorage",
    "runtimePlatform",
)


def describe_service(cluster: str, service: str, scope: Scope = HOME) -> dict[str, Any]:
    """The ACTIVE service, with its tags; DeployError when it is missing or being deleted."""
    described = scoped_client("ecs", scope).describe_services(cluster=cluster, services=[service], include=["TAGS"])
    found = [s for s in described["services"] if s.get("status") == "ACTIVE"]
    if not found:
        where = "" if scope.is_home else f" of {scope}"
        raise DeployError(f"ECS service {service!r} is not active in cluster {cluster!r}{where}")
    return dict(found[0])


def check_service(environment: str, cluster: str, service: str, scope: Scope = HOME) -> dict[str, Any]:
    """The service, if it is tagged for the environment (the IAM policy relies on the same tag)."""
    found = describe_service(cluster, service, scope)
    tags = {t["key"]: t["value"] for t in found.get("tags", [])}
    if tags.get(ENVIRONMENT_TAG) != environment:
        raise DeployError(
            f"ECS service {service!r} is not tagged {ENVIRONMENT_TAG}={environment} "
            f"(found {tags.get(ENVIRONMENT_TAG)!r}); nothing was changed"
        )
    return found


def service_key(cluster: str, service: str) -> str:
    """How the ledger's `touched` names a service (instances are named by their id)."""
    return f"ecs:{cluster}/{service}"


def step(task: ServiceTask, now: datetime | None = None) -> ServiceTask:
    moment = now or clock.now()
    if task.phase == "start":
        return _start(task, moment)
    if task.phase == "rolling":
        return _rolling(task, moment)
    return task  # done, skipped and failed are final


def _start(task: ServiceTask, now: datetime) -> ServiceTask:
    if lost := _not_owner(task):
        return _finish(task, "superseded", lost)
    service = describe_service(task.cluster, task.service, task.scope)
    running = str(service["taskDefinition"])
    target = task.task_definition_arn or _register_revision(task.scope, running, task.container, task.image_uri)
    if task.record_touch:
        Ledger().update(
            task.environment, task.release_id, task_definition_arn=target, previous_task_definition_arn=running
        )
    if running == target:
        return _finish(task, "done", f"the service already runs {_short(target)}")
    configuration = dict(service.get("deploymentConfiguration") or {})
    configuration["deploymentCircuitBreaker"] = {"enable": True, "rollback": True}
    updated = scoped_client("ecs", task.scope).update_service(
        cluster=task.cluster,
        service=task.service,
        taskDefinition=target,
        deploymentConfiguration=configuration,
    )["service"]
    if task.record_touch:
        Ledger().add_touched(task.environment, task.release_id, service_key(task.cluster, task.service))
    if lost := _not_owner(task):
        # Lost the environment between the check and the update: undo this stale update. A newer
        # owner still rolling re-applies its own revision anyway; one that already finished does not.
        scoped_client("ecs", task.scope).update_service(
            cluster=task.cluster, service=task.service, taskDefinition=running, deploymentConfiguration=configuration
        )
        return _finish(task, "superseded", f"{lost}; put {_short(running)} back")
    return task.model_copy(
        update={
            "phase": "rolling",
            "task_definition_arn": target,
            "previous_task_definition_arn": task.previous_task_definition_arn or running,
            "deployment_id": _primary(updated).get("id"),
            "service_arn": updated.get("serviceArn"),
            "deadline": now + timedelta(seconds=task.timeout_seconds),
            "wait_seconds": _fallback(task, now + timedelta(seconds=task.timeout_seconds), now, 0),
        }
    )


def _rolling(task: ServiceTask, now: datetime) -> ServiceTask:
    service = describe_service(task.cluster, task.service, task.scope)
    deployment = next(
        (d for d in service.get("deployments", []) if d.get("id") == task.deployment_id),
        _primary(service) if _primary(service).get("taskDefinition") == task.task_definition_arn else {},
    )
    state = deployment.get("rolloutState")
    primary = _primary(service)
    overwritten = primary and primary.get("taskDefinition") != task.task_definition_arn
    if deployment and state != "FAILED" and overwritten:  # ours is still there, unfailed, but not primary
        # A stale step of an older release updated the service after this one did: apply ours again.
        if lost := _not_owner(task):
            return _finish(task, "superseded", lost)
        return _start(task.model_copy(update={"phase": "start"}), now)
    if state == "COMPLETED" and deployment.get("taskDefinition") == task.task_definition_arn:
        if task.record_touch:
            Ledger().count_done(task.environment, task.release_id)
        return _finish(task, "done", f"{_short(task.task_definition_arn)} COMPLETED")
    if state == "FAILED" or not deployment:
        reason = deployment.get("rolloutStateReason") or "the deployment is gone"
        running = str(service["taskDefinition"])
        if running != task.task_definition_arn:
            # The circuit breaker already put the service back; record what ECS did instead of redoing it.
            note = (
                f"ECS deployment failed ({reason}); ECS's circuit breaker rolled the service back to {_short(running)}"
            )
            return _finish(task, "failed", note, ecs_rolled_back=True)
        return _finish(task, "failed", f"ECS deployment failed: {reason}")
    if now >= (task.deadline or now):
        return _finish(
            task, "failed", f"the ECS deployment was not COMPLETED within {task.timeout_seconds}s (state {state})"
        )
    return task.model_copy(update={"wait_seconds": _fallback(task, task.deadline, now, task.wait_seconds)})


def park(task: ServiceTask, token: str, now: datetime | None = None) -> str:
    """Keep `token` for the service's next deployment event, then look once: a deployment that
    ended before the token was kept announced it to nobody, so this step wakes the execution
    itself. Returns what happened (`parked`, `woken`, or `claimed`: the event's handler was first)."""
    moment = now or clock.now()
    if task.phase != "rolling" or not task.service_arn:
        raise DeployError(f"only a rolling deployment parks (phase {task.phase}, service {task.service_arn})")
    waiting = Waiting()
    parked = waiting.park(task.service_arn, task.release_id, token, moment, until=task.deadline or moment)
    if _still_rolling(task):
        return "parked"
    return "woken" if wake_one(parked, "already over", waiting) else "claimed"


def _still_rolling(task: ServiceTask) -> bool:
    """The deployment is ours, primary and IN_PROGRESS: nothing for the next step to act on yet."""
    service = describe_service(task.cluster, task.service, task.scope)
    primary = _primary(service)
    return primary.get("id") == task.deployment_id and primary.get("rolloutState") == "IN_PROGRESS"


def _fallback(task: ServiceTask, deadline: datetime | None, now: datetime, previous: int) -> int:
    """Seconds to wait for an event before looking anyway: FALLBACK_SECONDS (or `poll_seconds` if
    longer), then twice the previous wait; never past the deadline, at least 1 (Step Functions'
    smallest task timeout)."""
    remaining = int(((deadline or now) - now).total_seconds())
    return max(1, min(max(FALLBACK_SECONDS, task.poll_seconds, 2 * previous), remaining))


def _register_revision(scope: Scope, running: str, container: str, image_uri: str) -> str:
    """A new revision of the running task definition, identical but for `container`'s image."""
    ecs = scoped_client("ecs", scope)
    described = ecs.describe_task_definition(taskDefinition=running, include=["TAGS"])
    definition = described["taskDefinition"]
    names = [c["name"] for c in definition["containerDefinitions"]]
    if container not in names:
        raise DeployError(f"{_short(running)} has no container {container!r} (it has {', '.join(names)})")
    fields = {key: definition[key] for key in _REGISTERABLE if definition.get(key) not in (None, [], {})}
    fields["containerDefinitions"] = [
        {**c, "image": image_uri} if c["name"] == container else c for c in definition["containerDefinitions"]
    ]
    if described.get("tags"):
        fields["tags"] = described["tags"]
    return str(ecs.register_task_definition(**fields)["taskDefinition"]["taskDefinitionArn"])


def _primary(service: dict[str, Any]) -> dict[str, Any]:
    return next((dict(d) for d in service.get("deployments", []) if d.get("status") == "PRIMARY"), {})


def _not_owner(task: ServiceTask) -> str | None:
    """Why this step must not touch the service: its release no longer holds the environment."""
    desired = Fence().desired(task.environment)
    if desired == task.release_id:
        return None
    return f"{task.release_id} no longer holds {task.environment} (desired: {desired or 'none'}): service left as it is"


def _finish(task: ServiceTask, phase: str, note: str, ecs_rolled_back: bool = False) -> ServiceTask:
    return task.model_copy(update={"phase": phase, "wait_seconds": 0, "note": note, "ecs_rolled_back": ecs_rolled_back})


def _short(task_definition_arn: str | None) -> str:
    """`family:revision` from a task definition ARN."""
    return (task_definition_arn or "?").rsplit("/", 1)[-1]
