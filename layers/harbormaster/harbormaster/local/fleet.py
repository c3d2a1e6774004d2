"""A simulated fleet: EC2 instances that "run" a container image, behind ALB target groups.

moto keeps the resources (instances, tags, target groups, SSM commands); the fleet decides what
moto cannot know: which image each instance runs (changed by the SSM commands sent to it),
whether its container answers the health check, and how long ALB states last. Faults are a
first-class API: a bad image, a failing command, a target that never turns healthy, throttling
on a named API call, an instance terminated mid-way.

The deploy document's contract with the fleet: the command's `ImageUri` parameter is the image
to run; with `ComposeService`, the image of that service of the instance's compose project (the
project's other services keep theirs and are never recreated), and a command for a project or
service the host does not have fails as the document does. A command succeeds when the instance
is running and the image is not bad; it fails with exit code 1 and the container's last log lines
otherwise. Before anything, as the document does
under its per-instance flock, it reads the environment's fence (`FENCE#<env> / DESIRED` in
`FenceTable`) and exits 75 ("superseded"), changing nothing, when `ReleaseId` is not the desired
release. Commands on one instance never overlap here (they run one at a time under the fleet's
lock), which is what the document's flock guarantees on a real instance.
"""

from __future__ import annotations

import inspect
import threading
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from unittest import mock

import boto3
import botocore.session
from botocore import xform_name

from harbormaster import clock
from harbormaster.local import instance_shell, ssm_agents, ssm_commands, ssm_events, ssm_rules
from harbormaster.local.ecs_services import EcsServices

if TYPE_CHECKING:
    from harbormaster.local.timers import Timers

REGION = "ap-northeast-2"
ACCOUNT = "123456789012"
INSTANCE_CAPABILITIES = frozenset({"ssm-agent", *instance_shell.CAPABILITIES})
_BACKENDS = {
    "elbv2": ("moto.elbv2.models", "ELBv2Backend"),
    "ssm": ("moto.ssm.models", "SimpleSystemManagerBackend"),
    "ec2": ("moto.ec2.models", "EC2Backend"),
    "ecs": ("moto.ecs.models", "EC2ContainerServiceBackend"),
    "autoscaling": ("moto.autoscaling.models", "AutoScalingBackend"),
    "rds": ("moto.rds.models", "RDSBackend"),
    "cloudwatch": ("moto.cloudwatch.models", "CloudWatchBackend"),
    "stepfunctions": ("moto.stepfunctions.parser.models", "StepFunctionsParserBackend"),
}


@dataclass(frozen=True)
class TimelinePoint:
    """The ALB's view of one target group just after something changed."""

    at: float
    cause: str
    target_group: str
    registered: frozenset[str]
    healthy: frozenset[str]
    images: dict[str, str]


@dataclass
class ComposeProject:
    """A Docker Compose project on an instance: each service's image, and how often each was recreated."""

    project_dir: str
    file: str
    services: dict[str, str]
    recreated: Counter[str] = field(default_factory=Counter)


@dataclass
class Faults:
    bad_images: set[str] = field(default_factory=set)
    failing_commands: Counter[str] = field(default_factory=Counter)
    never_healthy: set[str] = field(default_factory=set)
    terminate_on_command: set[str] = field(default_factory=set)
    throttles: Counter[tuple[str, str]] = field(default_factory=Counter)
    missing: dict[str, set[str]] = field(default_factory=dict)  # instance → capabilities taken away
    undelivered: set[str] = field(default_factory=set)  # instances whose agent does not pick commands up
    failing_starts: dict[str, tuple[str, str]] = field(default_factory=dict)  # instance → (code, message)


class Fleet:
    """Create with a running engine (or any active `mock_aws`); `install()` hooks it into moto."""

    def __init__(self, region: str = REGION) -> None:
        self.region = region
        self.faults = Faults()
        self.images: dict[str, str] = {}
        self.timeline: list[TimelinePoint] = []
        self.commands: list[tuple[str, str, str]] = []  # (instance, image, outcome)
        self.superseded: list[tuple[str, str, str]] = []  # (instance, release, desired): refused by the fence
        self._target_groups: dict[str, str] = {}  # arn → name
        # When each target entered `initial` / `draining`, on the engine's clock.
        self._registered_at: dict[tuple[str, str], datetime] = {}
        self._deregistered_at: dict[tuple[str, str], datetime] = {}
        self._patches: list[Any] = []
        self._queued: dict[str, list[Any]] = {}  # instance → commands waiting for its agent, oldest first
        self._instance_index: dict[str, Any] = {}  # instance id → moto instance (see _instance_state)
        self._lock = threading.RLock()
        self._ec2: Any = boto3.client("ec2", region_name=region)
        self._elbv2: Any = boto3.client("elbv2", region_name=region)
        self._dynamodb: Any = boto3.client("dynamodb", region_name=region)
        self.ecs = EcsServices(self.faults, region)
        self.command_seconds = 0  # how long a deploy command runs, on the engine's clock (0: done at once)
        self.announced: list[dict[str, Any]] = []  # Run Command's events (local/ssm_events.py), in order
        self.lose_events = False  # a test's lost events: announced to nobody
        self._outbox: list[dict[str, Any]] = []  # announced, not yet taken by the engine's bus
        self._running: dict[str, tuple[datetime, Any]] = {}  # command id → (when it ends, the command)
        self._timers: Timers | None = None
        self.projects: dict[str, ComposeProject] = {}  # instance → its compose project
        self.parameters: dict[str, dict[str, str]] = {}  # instance → the last deploy command's parameters
        self.replacing: set[str] = set()  # instances whose deploy command is running: container down
        self.down: list[frozenset[str]] = []  # after each change: the instances whose container is not serving

    def use_timers(self, timers: Timers) -> None:
        """The engine's timers: commands and ECS deployments end at their time on its clock."""
        self._timers = self.ecs.timers = timers

    def take_events(self) -> list[dict[str, Any]]:
        """What Run Command and ECS announced since the last call, for the engine's bus."""
        with self._lock:
            events, self._outbox = self._outbox, []
        return [*events, *self.ecs.take_events()]

    # ------------------------------------------------------------------ building the world
    def target_group(
        self,
        name: str,
        port: int = 8080,
        health_path: str = "/health",
        environment: str | None = None,
        deregistration_delay: int = 300,
        health_check_interval: int = 30,
        healthy_threshold: int = 5,
    ) -> str:
        """A target group with AWS's defaults unless told: 300 s draining, healthy after 5 checks 30 s apart."""
        vpc = self._ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        tags = [{"Key": "harbormaster:environment", "Value": environment}] if environment else []
        arn: str = self._elbv2.create_target_group(
            Name=name,
            Protocol="HTTP",
            Port=port,
            VpcId=vpc,
            TargetType="instance",
            HealthCheckPath=health_path,
            HealthCheckIntervalSeconds=health_check_interval,
            HealthyThresholdCount=healthy_threshold,
            **({"Tags": tags} if tags else {}),
        )["TargetGroups"][0]["TargetGroupArn"]
        self._elbv2.modify_target_group_attributes(
            TargetGroupArn=arn,
            Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": str(deregistration_delay)}],
        )
        self._target_groups[arn] = name
        return arn

    def launch(
        self, count: int, image: str, tags: dict[str, str] | None = None, target_group: str | None = None
    ) -> list[str]:
        """Start `count` instances already running `image`, registered (healthy) in `target_group`."""
        tag_list = [{"Key": k, "Value": v} for k, v in (tags or {}).items()]
        reservation = self._ec2.run_instances(
            ImageId="ami-12c6146b",
            MinCount=count,
            MaxCount=count,
            InstanceType="t4g.small",
            TagSpecifications=[{"ResourceType": "instance", "Tags": tag_list}] if tag_list else [],
        )
        ids = [instance["InstanceId"] for instance in reservation["Instances"]]
        with self._lock:
            for instance_id in ids:
                self.images[instance_id] = image
        if target_group:
            self._elbv2.register_targets(TargetGroupArn=target_group, Targets=[{"Id": i} for i in ids])
            with self._lock:
                for instance_id in ids:  # already in service: no "initial" phase
                    self._registered_at.pop((target_group, instance_id), None)
            self._snapshot("launch")
        return ids

    def compose(self, instance_ids: list[str], project_dir: str, file: str, services: dict[str, str]) -> None:
        """Give each instance a compose project running `services` (name → image)."""
        with self._lock:
            for instance_id in instance_ids:
                self.projects[instance_id] = ComposeProject(project_dir, file, dict(services))

    # ------------------------------------------------------------------ faults
    def bad_image(self, image: str) -> None:
        """Containers of `image` never pass their health check: the deploy command fails, and an ECS
        deployment of it ends FAILED by the circuit breaker."""
        self.faults.bad_images.add(image)

    def fail_next_command(self, instance_id: str, times: int = 1) -> None:
        self.faults.failing_commands[instance_id] += times

    def fail_starts(
        self,
        instance_id: str,
        code: str = "Client.InternalError",
        message: str = "Client.InternalError: Client error on launch",
    ) -> None:
        """StartInstances is accepted for this instance, which then falls back to stopped with this
        state reason, as AWS does when a volume's KMS key cannot be used (until `fix_starts`)."""
        self.faults.failing_starts[instance_id] = (code, message)

    def fix_starts(self, instance_id: str) -> None:
        self.faults.failing_starts.pop(instance_id, None)

    def never_healthy(self, instance_id: str) -> None:
        """The command succeeds but the ALB never sees this target healthy."""
        self.faults.never_healthy.add(instance_id)

    def without(self, instance_id: str, *capabilities: str) -> None:
        """Take capabilities away from an instance: "ssm-agent" (not registered with SSM: not listed
        by DescribeInstanceInformation, SendCommand refused) or those of `instance_shell`
        ("docker", "ecr-pull", "parameter-read", "fence-read")."""
        unknown = set(capabilities) - INSTANCE_CAPABILITIES
        if unknown:
            raise ValueError(f"unknown capabilities {sorted(unknown)}; known: {sorted(INSTANCE_CAPABILITIES)}")
        with self._lock:
            self.faults.missing.setdefault(instance_id, set()).update(capabilities)

    def has(self, instance_id: str, capability: str) -> bool:
        return capability not in self.faults.missing.get(instance_id, set())

    def hold_delivery(self, instance_id: str) -> None:
        """Commands sent to this instance stay Pending (its agent is busy or slow to poll) until
        `deliver` runs them, or CancelCommand cancels them."""
        with self._lock:
            self.faults.undelivered.add(instance_id)

    def waiting(self, instance_id: str) -> list[str]:
        """The ImageUri of each command waiting for this instance's agent, oldest first."""
        with self._lock:
            return [str((c.parameters or {}).get("ImageUri", [""])[0]) for c in self._queued.get(instance_id, [])]

    def deliver(self, instance_id: str) -> None:
        """The agent picks up what waited for it, in order (each command checks the fence then)."""
        with self._lock:
            self.faults.undelivered.discard(instance_id)
            waiting = self._queued.pop(instance_id, [])
        for command in waiting:
            self._run(command, only=instance_id)

    def terminate_when_commanded(self, instance_id: str) -> None:
        self.faults.terminate_on_command.add(instance_id)

    def throttle(self, service: str, operation: str, times: int) -> None:
        """The next `times` calls of `service`'s `operation` (e.g. elbv2 DescribeTargetHealth) throttle."""
        if service not in _BACKENDS:
            raise ValueError(f"throttling is simulated for {sorted(_BACKENDS)}, not {service!r}")
        self.faults.throttles[(service, operation)] += times
        self._hook_throttle(service, operation)

    def terminate(self, instance_id: str) -> None:
        self._ec2.terminate_instances(InstanceIds=[instance_id])
        self._snapshot(f"terminate {instance_id}")

    # ------------------------------------------------------------------ what the ALB sees
    def is_healthy(self, instance_id: str) -> bool:
        state = self._instance_state(instance_id)
        image = self.images.get(instance_id)
        return (
            state == "running"
            and image is not None
            and image not in self.faults.bad_images
            and instance_id not in self.faults.never_healthy
        )

    def max_down_seen(self, instance_ids: list[str]) -> int:
        """The most of `instance_ids` whose container was not serving at the same time (no load
        balancer needed: the container's own health)."""
        wanted = set(instance_ids)
        return max((len(down & wanted) for down in self.down), default=0)

    def min_healthy_seen(self, target_group: str) -> int:
        points = [p for p in self.timeline if p.target_group == target_group]
        return min((len(p.healthy & p.registered) for p in points), default=0)

    # ------------------------------------------------------------------ moto hooks
    def install(self) -> Fleet:
        from moto.ec2.models.instances import InstanceBackend, StateReason
        from moto.elbv2.models import ELBv2Backend, FakeHealthStatus, FakeTargetGroup
        from moto.ssm.models import SimpleSystemManagerBackend

        fleet = self
        original_send = SimpleSystemManagerBackend.send_command
        original_health = FakeTargetGroup.health_for
        original_register = ELBv2Backend.register_targets
        original_deregister = ELBv2Backend.deregister_targets

        signature = inspect.signature(original_send)
        patchers: list[Any] = []

        def send_command(backend: Any, *args: Any, **kwargs: Any) -> Any:
            requested = signature.bind(backend, *args, **kwargs).arguments
            wanted = list(requested.get("instance_ids") or [])  # moto extends this very list in place
            agentless = [i for i in wanted if not fleet.has(i, "ssm-agent")]
            ssm_rules.check_send_command(
                backend, requested.get("document_name"), wanted, requested.get("parameters"), agentless
            )
            command = original_send(backend, *args, **kwargs)
            if not requested.get("targets"):
                # moto treats "no Targets" as a filter matching every instance; AWS runs on InstanceIds only.
                command.instance_ids = wanted
                command.invocations = [i for i in command.invocations if i["InstanceId"] in wanted]
                command.target_count = command.completed_count = len(wanted)
            if fleet.command_seconds and command.document_name != "AWS-RunShellScript":
                fleet._run_later(command)
            else:
                fleet._run(command)
            return command

        def health_for(group: Any, target: dict[str, Any], ec2_backend: Any) -> Any:
            status = original_health(group, target, ec2_backend)
            return fleet._health(group, target, status, FakeHealthStatus)

        def register_targets(backend: Any, target_group_arn: str, instances: list[dict[str, Any]]) -> Any:
            result = original_register(backend, target_group_arn, instances)
            with fleet._lock:
                for target in instances:
                    fleet._registered_at[(target_group_arn, target["Id"])] = clock.now()
                    fleet._deregistered_at.pop((target_group_arn, target["Id"]), None)
            fleet._snapshot("register " + ",".join(t["Id"] for t in instances))
            return result

        def deregister_targets(backend: Any, target_group_arn: str, instances: list[dict[str, Any]]) -> Any:
            result = original_deregister(backend, target_group_arn, instances)
            with fleet._lock:
                for target in instances:
                    fleet._deregistered_at[(target_group_arn, target["Id"])] = clock.now()
                    fleet._registered_at.pop((target_group_arn, target["Id"]), None)
            fleet._snapshot("deregister " + ",".join(t["Id"] for t in instances))
            return result

        original_start = InstanceBackend.start_instances

        def start_instances(backend: Any, instance_ids: list[str]) -> Any:
            started = original_start(backend, instance_ids)
            for instance, _ in started:
                if failure := fleet.faults.failing_starts.get(instance.id):
                    # Accepted, then back to stopped with the reason: AWS answers `pending` and stops
                    # it moments later; here it is stopped by the time anyone looks.
                    instance._state.name, instance._state.code = "stopped", 80
                    instance.state_reason = StateReason(failure[1], failure[0])
            return started

        for owner, name, replacement in (
            (InstanceBackend, "start_instances", start_instances),
            (SimpleSystemManagerBackend, "send_command", send_command),
            (FakeTargetGroup, "health_for", health_for),
            (ELBv2Backend, "register_targets", register_targets),
            (ELBv2Backend, "deregister_targets", deregister_targets),
        ):
            patchers.append(mock.patch.object(owner, name, replacement))
        agents = ssm_agents.patches(lambda instance_id: fleet.has(instance_id, "ssm-agent"))
        queue = ssm_commands.patches(self._cancelled, before_read=self._end_due_commands)
        for patcher in [*patchers, *agents, *queue, *self.ecs.patches()]:
            patcher.start()
            self._patches.append(patcher)
        return self

    def uninstall(self) -> None:
        for patcher in reversed(self._patches):
            patcher.stop()
        self._patches.clear()

    def _run_later(self, command: Any) -> None:
        """The agents run it now; its outcome shows `command_seconds` later (a timer, or the first
        read of the command after that time)."""
        for invocation in command.invocations:
            invocation.update(_result("InProgress", -1, "", ""))
        command.status = command.status_details = "InProgress"
        ends = clock.now() + timedelta(seconds=self.command_seconds)
        with self._lock:
            self._running[command.command_id] = (ends, command)
            self.replacing.update(i["InstanceId"] for i in command.invocations)
        self._snapshot(f"command {command.command_id} started")
        if self._timers is not None:
            self._timers.at(ends, self._end_due_commands)

    def _end_due_commands(self) -> None:
        now = clock.now()
        with self._lock:
            due = [c for ends, c in self._running.values() if ends <= now]
            for command in due:
                del self._running[command.command_id]
        for command in due:
            self._run(command)

    def _run(self, command: Any, only: str | None = None) -> None:
        before = {i["InstanceId"]: i.get("Status") for i in command.invocations}
        try:
            self._run_invocations(command, only)
        finally:
            self._announce(command, before)

    def _announce(self, command: Any, before: dict[str, Any]) -> None:
        """Run Command's events for each invocation that ended just now, and for the command if it did."""
        events = [
            ssm_events.invocation_event(command, i["InstanceId"], i["Status"], ACCOUNT, self.region)
            for i in command.invocations
            if i["Status"] in ssm_events.FINAL and before.get(i["InstanceId"]) != i["Status"]
        ]
        if events and command.status in ssm_events.FINAL:
            events.append(ssm_events.command_event(command, ACCOUNT, self.region))
        with self._lock:
            self.announced.extend(events)
            if not self.lose_events:
                self._outbox.extend(events)

    def _run_invocations(self, command: Any, only: str | None) -> None:
        if command.document_name == "AWS-RunShellScript":
            self._run_shell(command)
            return
        parameters = command.parameters or {}
        image = parameters.get("ImageUri", [None])[0]
        for invocation in command.invocations:
            instance_id = invocation["InstanceId"]
            if only is not None and instance_id != only:
                continue
            with self._lock:
                if only is None and instance_id in self.faults.undelivered:
                    invocation.update(_result("Pending", -1, "", ""))
                    self._queued.setdefault(instance_id, []).append(command)
                    continue
                if invocation.get("Status") == "Cancelled":
                    continue
            outcome = self._outcome(instance_id, image, parameters)
            with self._lock:
                self.replacing.discard(instance_id)
            invocation.update(outcome)
            self.commands.append((instance_id, image or "", outcome["Status"]))
        command.status = command.status_details = ssm_commands.overall(command.invocations)
        self._snapshot(f"command {command.command_id}")

    def _cancelled(self, command: Any, instance_ids: list[str]) -> None:
        """CancelCommand reached these invocations before their agent ran them."""
        with self._lock:
            for instance_id in instance_ids:
                queued = self._queued.get(instance_id, [])
                self._queued[instance_id] = [c for c in queued if c is not command]
            if all(i["Status"] not in ssm_commands.UNFINISHED for i in command.invocations):
                self._running.pop(command.command_id, None)
        command.status = command.status_details = ssm_commands.overall(command.invocations)
        before = {
            i["InstanceId"]: "Pending" if i["InstanceId"] in instance_ids else i["Status"] for i in command.invocations
        }
        self._announce(command, before)

    def _run_shell(self, command: Any) -> None:
        """AWS-RunShellScript: the commands run under bash, with the instance's capabilities."""
        lines = list((command.parameters or {}).get("commands", []))
        failed = False
        for invocation in command.invocations:
            instance_id = invocation["InstanceId"]
            capabilities = frozenset(c for c in instance_shell.CAPABILITIES if self.has(instance_id, c))
            project = self.projects.get(instance_id)
            compose = (f"{project.project_dir}/{project.file}", list(project.services)) if project else None
            code, stdout, stderr = instance_shell.run(instance_id, lines, capabilities, compose)
            invocation.update(_result("Success" if code == 0 else "Failed", code, stdout, stderr))
            failed |= code != 0
        command.status = "Failed" if failed else "Success"
        command.status_details = command.status

    def _outcome(self, instance_id: str, image: str | None, parameters: dict[str, list[str]]) -> dict[str, Any]:
        with self._lock:
            if instance_id in self.faults.terminate_on_command:
                self.faults.terminate_on_command.discard(instance_id)
                self._ec2.terminate_instances(InstanceIds=[instance_id])
            if self._instance_state(instance_id) != "running":
                return _result("Undeliverable", -1, "", "the instance is not running")
            if "ReleaseId" in parameters:
                superseded = self._fence_refuses(instance_id, parameters)
                if superseded is not None:
                    return superseded
            if self.faults.failing_commands[instance_id] > 0:
                self.faults.failing_commands[instance_id] -= 1
                return _result("Failed", 1, "", "docker: error pulling image (simulated failure)")
            if image is None:
                return _result("Success", 0, "no ImageUri: nothing to run", "")
            self.parameters[instance_id] = {name: values[0] for name, values in parameters.items() if values}
            service = self.parameters[instance_id].get("ComposeService")
            if service and (refused := self._compose_refuses(instance_id, self.parameters[instance_id])):
                return refused
            previous = self.images.get(instance_id)
            self.images[instance_id] = image
            if service:
                project = self.projects[instance_id]
                project.services[service] = image
                project.recreated[service] += 1
            if image in self.faults.bad_images:
                logs = f"Error: application failed to start ({image})\nhealth check timed out"
                return _result("Failed", 1, "", f"container did not become healthy; last log lines:\n{logs}")
            return _result("Success", 0, f"replaced {previous} with {image}; healthy", "")

    def _compose_refuses(self, instance_id: str, parameters: dict[str, str]) -> dict[str, Any] | None:
        """The document's checks before a compose deploy changes anything, with its messages."""
        project = self.projects.get(instance_id)
        team_file = f"{parameters.get('ComposeProjectDir', '')}/{parameters.get('ComposeFile', '')}"
        if project is None or team_file != f"{project.project_dir}/{project.file}":
            return _result("Failed", 1, "", f"no compose file at {team_file}")
        if parameters["ComposeService"] not in project.services:
            return _result("Failed", 1, "", f"{team_file} has no service {parameters['ComposeService']}")
        return None

    def _fence_refuses(self, instance_id: str, parameters: dict[str, list[str]]) -> dict[str, Any] | None:
        """The deploy document's fence check: None when the command's release is the desired one."""
        release, environment = parameters["ReleaseId"][0], parameters["Environment"][0]
        if not self.has(instance_id, "fence-read"):
            role = f"arn:aws:sts::123456789012:assumed-role/instance-role/{instance_id}"
            return _result(
                "Failed",
                254,
                "",
                "An error occurred (AccessDeniedException) when calling the GetItem operation: "
                f"User: {role} is not authorized to perform: dynamodb:GetItem",
            )
        item = self._dynamodb.get_item(
            TableName=parameters["FenceTable"][0],
            Key={"pk": {"S": f"FENCE#{environment}"}, "sk": {"S": "DESIRED"}},
            ConsistentRead=True,
        ).get("Item")
        desired = item["release_id"]["S"] if item else "None"
        if desired == release:
            return None
        self.superseded.append((instance_id, release, desired))
        note = f"superseded: {release} is no longer the desired release of {environment} (desired: {desired})"
        return _result("Failed", 75, note, "")

    def _health(self, group: Any, target: dict[str, Any], status: Any, status_class: Any) -> Any:
        key = (group.arn, target["Id"])
        now = clock.now()
        with self._lock:
            if target["Id"] in group.targets:
                registered = self._registered_at.get(key)
                healthy_after = int(group.health_check_interval_seconds) * int(group.healthy_threshold_count)
                if registered is not None and now < registered + timedelta(seconds=healthy_after):
                    return _status(status_class, status, "initial", "Elb.RegistrationInProgress")
                if self._instance_state(target["Id"]) != "running":
                    return status  # moto reports terminated targets itself
                if self.is_healthy(target["Id"]):
                    return _status(status_class, status, "healthy", None)
                return _status(status_class, status, "unhealthy", "Target.ResponseCodeMismatch")
            deregistered = self._deregistered_at.get(key)
            delay = int(group.attributes.get("deregistration_delay.timeout_seconds", 300))
            if deregistered is not None and now < deregistered + timedelta(seconds=delay):
                return _status(status_class, status, "draining", "Target.DeregistrationInProgress")
        return status

    def _hook_throttle(self, service: str, operation: str) -> None:
        import importlib

        module_name, class_name = _BACKENDS[service]
        backend_class = getattr(importlib.import_module(module_name), class_name)
        method_name = xform_name(operation)
        original = getattr(backend_class, method_name)
        if getattr(original, "_harbormaster_throttle", False):
            return
        fleet = self
        throttling_error = _throttling_error(service, module_name)

        def throttled(backend: Any, *args: Any, **kwargs: Any) -> Any:
            with fleet._lock:
                left = fleet.faults.throttles[(service, operation)]
                if left > 0:
                    fleet.faults.throttles[(service, operation)] -= 1
            if left > 0:
                raise throttling_error("Rate exceeded")
            return original(backend, *args, **kwargs)

        throttled._harbormaster_throttle = True  # type: ignore[attr-defined]
        # moto warns that some service models have no Throttling shape; that is the point here.
        warnings.filterwarnings("ignore", message=r"Exception\(Throttling", category=UserWarning)
        patcher = mock.patch.object(backend_class, method_name, throttled)
        patcher.start()
        self._patches.append(patcher)

    # ------------------------------------------------------------------ helpers
    def _registered(self, target_group: str) -> set[str]:
        from moto.elbv2.models import elbv2_backends

        account = target_group.split(":")[4]  # no API call: the simulator must not add to what is measured
        group = elbv2_backends[account][self.region].target_groups.get(target_group)
        return set(group.targets) if group else set()

    def _instance_state(self, instance_id: str) -> str | None:
        """No API call (the simulator must not add to what is measured), and an index rather than a
        scan of every reservation: the ALB asks for each target on every look."""
        instance = self._instance_index.get(instance_id)
        if instance is None:
            from moto.ec2.models import ec2_backends

            self._instance_index = {
                instance.id: instance
                for account_backends in ec2_backends.values()
                if (backend := account_backends.get(self.region)) is not None
                for reservation in backend.reservations.values()
                for instance in reservation.instances
            }
            instance = self._instance_index.get(instance_id)
        return str(instance.state) if instance is not None else None

    def _snapshot(self, cause: str) -> None:
        with self._lock:
            self.down.append(frozenset(i for i in self.images if i in self.replacing or not self.is_healthy(i)))
            for arn in self._target_groups:
                registered = frozenset(self._registered(arn))
                self.timeline.append(
                    TimelinePoint(
                        at=time.monotonic(),
                        cause=cause,
                        target_group=arn,
                        registered=registered,
                        healthy=frozenset(i for i in registered if self.is_healthy(i)),
                        images=dict(self.images),
                    )
                )


def _throttling_error(service: str, backend_module: str) -> type[Exception]:
    """The error AWS answers when it throttles `service`, serialised by moto for that service
    (moto finds the service from the exception's module)."""
    from moto.core.exceptions import ServiceException

    protocol = botocore.session.get_session().get_service_model(service).metadata["protocol"]
    code = "ThrottlingException" if protocol == "json" else "Throttling"
    module = ".".join(backend_module.split(".")[:2]) + ".exceptions"  # moto.<service>.exceptions
    return type(code, (ServiceException,), {"__module__": module, "code": code})


def _result(status: str, code: int, stdout: str, stderr: str) -> dict[str, Any]:
    return {
        "Status": status,
        "StatusDetails": status,
        "ResponseCode": code,
        "StandardOutputContent": stdout,
        "StandardErrorContent": stderr,
    }


def _status(status_class: Any, base: Any, state: str, reason: str | None) -> Any:
    return status_class(base.instance_id, base.port, base.health_check_port, state, reason, None)
