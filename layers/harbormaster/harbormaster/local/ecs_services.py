"""Simulated ECS services: deployments that roll out, complete or fail, on top of moto.

moto keeps clusters, task definitions and services, but its UpdateService only swaps the task
definition: no new deployment, no rolloutState, no circuit breaker. This module adds what ECS
does: UpdateService with a new revision starts a PRIMARY deployment IN_PROGRESS; `rollout_seconds`
later on the engine's clock it is COMPLETED (never, if an image is stalled), or FAILED if a
container image is bad (the fleet's `bad_image` fault) — and with the circuit breaker's rollback
on, ECS puts the service back on the last completed revision by itself. A service at desired
count 0 completes with no tasks.

A service registered with Application Auto Scaling is held at its scalable target's minimum: a
desired count below it is scaled back out to it (AWS scales out to the minimum when the current
capacity is below it), so setting a service to 0 without lowering the minimum does not stick.

Each change of state is announced as ECS announces it, an `ECS Deployment State Change` event
(SERVICE_DEPLOYMENT_IN_PROGRESS / _COMPLETED / _FAILED), left in `outbox` for the engine to put on
its bus. The deployment ends at its time whether anyone looks (a timer) or not (DescribeServices
after that time sees it ended).

Services of every account of the engine's world roll out alike; each event carries its service's
account, so a spoke's event lands on the spoke's bus (and reaches the hub only if a rule there
forwards it). An image in another account's ECR is pulled only if that repository's policy lets the
service's account (or its organization) `ecr:BatchGetImage`; else its tasks stop with
CannotPullContainerError and the deployment fails, as on AWS.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any
from unittest import mock
from uuid import uuid4

import boto3

from harbormaster import clock

if TYPE_CHECKING:
    from harbormaster.local.fleet import Faults
    from harbormaster.local.timers import Timers

CIRCUIT_BREAKER_REASON = "ECS deployment circuit breaker: tasks failed to start."


@dataclass
class _Rolling:
    deployment: dict[str, Any]
    due: datetime
    previous: str | None
    rollback: bool
    backend: Any = field(repr=False)
    service_key: str = ""  # cluster:service, as the backend keys it


class EcsServices:
    def __init__(self, faults: Faults, region: str, rollout_seconds: int = 30) -> None:
        self.faults = faults
        self.region = region
        self.rollout_seconds = rollout_seconds  # how long a deployment takes to end, on the engine's clock
        self.timers: Timers | None = None  # the engine's: ends each deployment at its time
        self.stalled_images: set[str] = set()
        self.history: list[tuple[str, str, str]] = []  # (service, task definition, COMPLETED|FAILED|ROLLED_BACK)
        self.announced: list[dict[str, Any]] = []  # every event announced, in order
        self.outbox: list[dict[str, Any]] = []  # those not yet taken by the engine's bus
        self.lose_events = False  # a test's lost events: announced to nobody
        self._rolling: dict[str, _Rolling] = {}  # account:cluster:service → the deployment in progress
        self._lock = threading.RLock()

    def _ecs(self, account: str | None) -> Any:
        """ECS in `account` (None: the engine's own), as its administrators would call it."""
        if account is None:
            return boto3.client("ecs", region_name=self.region)
        from harbormaster.local.organization import session_in

        return session_in(account, self.region).client("ecs")

    # ------------------------------------------------------------------ building the world
    def service(
        self,
        cluster: str,
        name: str,
        image: str,
        container: str = "web",
        desired: int = 2,
        environment: str | None = None,
        tags: dict[str, str] | None = None,
        account: str | None = None,
    ) -> str:
        """A Fargate service running `image` in `container`, tagged for `environment` (and with
        `tags`), in `account` (default: the engine's); returns its ARN."""
        ecs = self._ecs(account)
        ecs.create_cluster(clusterName=cluster)
        owner = account or boto3.client("sts", region_name=self.region).get_caller_identity()["Account"]
        all_tags = {**({"harbormaster:environment": environment} if environment else {}), **(tags or {})}
        tags_list = [{"key": k, "value": v} for k, v in all_tags.items()]
        definition = ecs.register_task_definition(
            family=f"{cluster}-{name}",
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="256",
            memory="512",
            executionRoleArn=f"arn:aws:iam::{owner}:role/ecsTaskExecutionRole",
            containerDefinitions=[
                {"name": container, "image": image, "essential": True, "portMappings": [{"containerPort": 8080}]},
                {"name": "log-router", "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable"},
            ],
            **({"tags": tags_list} if tags_list else {}),
        )["taskDefinition"]["taskDefinitionArn"]
        return str(
            ecs.create_service(
                cluster=cluster,
                serviceName=name,
                taskDefinition=definition,
                desiredCount=desired,
                launchType="FARGATE",
                **({"tags": tags_list} if tags_list else {}),
            )["service"]["serviceArn"]
        )

    def image_of(self, cluster: str, service: str, container: str = "web", account: str | None = None) -> str:
        """The image `container` runs in the service's current revision."""
        ecs = self._ecs(account)
        found = ecs.describe_services(cluster=cluster, services=[service])["services"][0]
        definition = ecs.describe_task_definition(taskDefinition=found["taskDefinition"])["taskDefinition"]
        return str(next(c["image"] for c in definition["containerDefinitions"] if c["name"] == container))

    def stall(self, image: str) -> None:
        """Deployments of `image` stay IN_PROGRESS forever (tasks that never reach steady state)."""
        self.stalled_images.add(image)

    # ------------------------------------------------------------------ moto hooks
    def patches(self) -> list[Any]:
        from moto.ecs.models import EC2ContainerServiceBackend

        simulator = self
        original_update = EC2ContainerServiceBackend.update_service
        original_describe = EC2ContainerServiceBackend.describe_services

        def update_service(backend: Any, properties: dict[str, Any]) -> Any:
            wanted = properties.get("task_definition")
            breaker = (properties.get("deployment_configuration") or {}).get("deploymentCircuitBreaker") or {}
            cluster = backend._get_cluster(properties.get("cluster", "default")).name
            key = f"{cluster}:{properties['service'].split('/')[-1]}"
            before = backend.services[key].task_definition if key in backend.services else None
            service = original_update(backend, properties)
            if wanted:
                service.task_definition = backend.describe_task_definition(wanted).arn
                if service.task_definition != before:
                    rollback = bool(breaker.get("enable") and breaker.get("rollback"))
                    simulator._start(backend, service, key, before, rollback)
            return service

        def describe_services(backend: Any, cluster_str: str, names: list[str]) -> Any:
            cluster = backend._get_cluster(cluster_str).name
            for name in names:
                key = f"{cluster}:{name.split('/')[-1]}"
                simulator._advance(f"{backend.account_id}:{key}")
                if key in backend.services:
                    simulator._hold_at_minimum(backend, backend.services[key], cluster)
            return original_describe(backend, cluster_str, names)

        return [
            mock.patch.object(EC2ContainerServiceBackend, "update_service", update_service),
            mock.patch.object(EC2ContainerServiceBackend, "describe_services", describe_services),
        ]

    def _hold_at_minimum(self, backend: Any, service: Any, cluster: str) -> None:
        """Application Auto Scaling's minimum: a desired count below it is scaled out to it."""
        from moto.applicationautoscaling.models import applicationautoscaling_backends

        scaling = applicationautoscaling_backends[backend.account_id][self.region]
        target = scaling.targets.get("ecs:service:DesiredCount", {}).get(f"service/{cluster}/{service.name}")
        if target is not None and service.desired_count < int(target.min_capacity):
            service.desired_count = int(target.min_capacity)

    def _start(self, backend: Any, service: Any, key: str, previous: str | None, rollback: bool) -> None:
        now = clock.now()
        deployment = {
            "id": _deployment_id(),
            "status": "PRIMARY",
            "taskDefinition": service.task_definition,
            "desiredCount": service.desired_count,
            "pendingCount": service.desired_count,
            "runningCount": 0,
            "failedTasks": 0,
            "createdAt": now,
            "updatedAt": now,
            "launchType": service.launch_type,
            "rolloutState": "IN_PROGRESS",
            "rolloutStateReason": "ECS deployment in progress.",
        }
        with self._lock:
            for older in service.deployments:
                older["status"] = "ACTIVE"
            service.deployments.insert(0, deployment)
            due = now + timedelta(seconds=self.rollout_seconds)
            rolling_key = f"{backend.account_id}:{key}"  # the same cluster and service may exist in two accounts
            self._rolling[rolling_key] = _Rolling(deployment, due, previous, rollback, backend, key)
            self._announce(service, deployment, "SERVICE_DEPLOYMENT_IN_PROGRESS")
        if self.timers is not None:
            self.timers.at(due, lambda: self._advance(rolling_key))

    def _advance(self, key: str) -> None:
        """End the deployment of `key` if its time has come (and its image is not stalled)."""
        with self._lock:
            rolling = self._rolling.get(key)
            if rolling is None or rolling.deployment["status"] != "PRIMARY":
                return
            backend = rolling.backend
            now = clock.now()
            if now < rolling.due or self._uses(backend, rolling.deployment["taskDefinition"], self.stalled_images):
                return
            del self._rolling[key]
            service = backend.services[rolling.service_key]
            deployment = rolling.deployment
            failing = self._uses(backend, deployment["taskDefinition"], self.faults.bad_images)
            if service.desired_count > 0 and (failing or self._cannot_pull(backend, deployment["taskDefinition"])):
                deployment.update(
                    rolloutState="FAILED",
                    rolloutStateReason=CIRCUIT_BREAKER_REASON,
                    failedTasks=max(10, service.desired_count),
                    pendingCount=0,
                    updatedAt=now,
                )
                self.history.append((service.name, deployment["taskDefinition"], "FAILED"))
                self._announce(service, deployment, "SERVICE_DEPLOYMENT_FAILED")
                if rolling.rollback and rolling.previous:
                    # The circuit breaker's rollback: a new deployment of the last completed revision.
                    deployment["status"] = "INACTIVE"
                    service.task_definition = rolling.previous
                    restored = _completed(rolling.previous, service, now)
                    service.deployments = [restored]
                    service.events.insert(0, {"id": str(uuid4()), "createdAt": now, "message": _rolled_back(service)})
                    self.history.append((service.name, rolling.previous, "ROLLED_BACK"))
                    self._announce(service, restored, "SERVICE_DEPLOYMENT_IN_PROGRESS", _rolling_back(restored))
                    self._announce(service, restored, "SERVICE_DEPLOYMENT_COMPLETED")
                return
            deployment.update(
                rolloutState="COMPLETED",
                rolloutStateReason="ECS deployment completed.",
                runningCount=service.desired_count,
                pendingCount=0,
                updatedAt=now,
            )
            service.deployments = [deployment]
            service.running_count = service.desired_count
            self.history.append((service.name, deployment["taskDefinition"], "COMPLETED"))
            self._announce(service, deployment, "SERVICE_DEPLOYMENT_COMPLETED")

    def _announce(self, service: Any, deployment: dict[str, Any], name: str, reason: str | None = None) -> None:
        """The `ECS Deployment State Change` event ECS sends (see the samples in
        tests/fixtures/shared-events/aws/ecs-deployment-state-change-*.json)."""
        default = {
            "SERVICE_DEPLOYMENT_IN_PROGRESS": f"ECS deployment {deployment['id']} in progress.",
            "SERVICE_DEPLOYMENT_COMPLETED": f"ECS deployment {deployment['id']} completed.",
            "SERVICE_DEPLOYMENT_FAILED": str(deployment.get("rolloutStateReason")),
        }
        event = {
            "source": "aws.ecs",
            "detail-type": "ECS Deployment State Change",
            "account": service.arn.split(":")[4],
            "resources": [service.arn],
            "detail": {
                "eventType": "ERROR" if name == "SERVICE_DEPLOYMENT_FAILED" else "INFO",
                "eventName": name,
                "deploymentId": deployment["id"],
                "updatedAt": clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
                "reason": reason or default[name],
            },
        }
        self.announced.append(event)
        if not self.lose_events:
            self.outbox.append(event)

    def take_events(self) -> list[dict[str, Any]]:
        """The events announced since the last call (the engine puts them on its bus)."""
        with self._lock:
            events, self.outbox = self.outbox, []
            return events

    def _cannot_pull(self, backend: Any, task_definition: str) -> bool:
        """Does a container's image sit in another account's ECR that does not let this one pull?"""
        definition = backend.describe_task_definition(task_definition)
        for container in definition.container_definitions:
            found = _ECR_IMAGE.match(str(container.get("image", "")))
            if (
                found
                and found["registry"] != backend.account_id
                and not _pull_allowed(backend.account_id, **found.groupdict())
            ):
                return True
        return False

    @staticmethod
    def _uses(backend: Any, task_definition: str, images: set[str]) -> bool:
        definition = backend.describe_task_definition(task_definition)
        return any(c.get("image") in images for c in definition.container_definitions)


_ECR_IMAGE = re.compile(
    r"^(?P<registry>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<repository>[^:@]+)"
)


def _pull_allowed(puller: str, registry: str, region: str, repository: str) -> bool:
    """Does the repository's policy allow `puller` ecr:BatchGetImage (by account, or by organization)?"""
    from moto.ecr.models import ecr_backends

    from harbormaster.local.policies import listed, names_account, principals, statements
    from harbormaster.local.sts_rules import org_of

    found = ecr_backends[registry][region].repositories.get(repository)
    if found is None or not found.policy:
        return False
    for statement in statements(found.policy):
        actions = listed(statement, "Action")
        if statement.get("Effect") != "Allow" or not any(fnmatchcase("ecr:BatchGetImage", a) for a in actions):
            continue
        if names_account(statement, puller):
            return True
        organization = (statement.get("Condition") or {}).get("StringEquals", {}).get("aws:PrincipalOrgID")
        if "*" in principals(statement) and organization is not None and organization == org_of(puller):
            return True
    return False


def _deployment_id() -> str:
    return f"ecs-svc/{uuid4().int % 10**19}"


def _rolling_back(restored: dict[str, Any]) -> str:
    return f"ECS deployment circuit breaker: rolling back to deploymentId {restored['id']}."


def _completed(task_definition: str, service: Any, now: datetime) -> dict[str, Any]:
    return {
        "id": _deployment_id(),
        "status": "PRIMARY",
        "taskDefinition": task_definition,
        "desiredCount": service.desired_count,
        "pendingCount": 0,
        "runningCount": service.desired_count,
        "failedTasks": 0,
        "createdAt": now,
        "updatedAt": now,
        "launchType": service.launch_type,
        "rolloutState": "COMPLETED",
        "rolloutStateReason": "ECS deployment completed (circuit breaker rollback).",
    }


def _rolled_back(service: Any) -> str:
    return f"(service {service.name}) rolling back to deployment with task definition {service.task_definition}"
