"""Service adapters for the scheduler: find the resources tagged `harbormaster:schedule=<name>`
(paginated), and stop or start them. Each adapter returns the ids it could not act on, with why;
one failing resource never stops the others.

    ec2     StopInstances/StartInstances, many ids per call; a failing call is split in halves until
            the failing instance is found. Hibernate when asked, falling back to stop.
            Members of an Auto Scaling group are left to their group.
    asg     min/max/desired saved by the caller, set to 0/0/0; restored exactly
    rds     DB instances; read replicas and Aurora cluster members are skipped
    aurora  DB clusters
    ecs     services: desiredCount (and an Application Auto Scaling target's min/max) saved by the
            caller, set to 0; restored exactly
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from harbormaster.accounts import HOME, Scope, scoped_client
from harbormaster.schedule.models import Actual, Kind, Resource

SCHEDULE_TAG = "harbormaster:schedule"
ASG_MEMBER_TAG = "aws:autoscaling:groupName"
EC2_BATCH = 50
EC2_PAGE = 1000  # DescribeInstances' largest page (AWS recommends paging: an unpaged call can time out)
Failures = dict[str, str]  # resource id → reason


ECS_DIMENSION = "ecs:service:DesiredCount"


def discover(scope: Scope = HOME) -> tuple[list[Resource], list[tuple[Kind, str, str]]]:
    """Every tagged resource in `scope`, and the tagged ones deliberately skipped (kind, id, why)."""
    found: list[Resource] = []
    skipped: list[tuple[Kind, str, str]] = []
    for finder in (_ecs, _asgs, _ec2, _rds, _aurora):
        for item in finder(scope):
            if isinstance(item, Resource):
                found.append(item if scope.is_home else item.model_copy(update={"scope": scope}))
            else:
                skipped.append(item)
    return found, skipped


# ---------------------------------------------------------------------------- discovery
def _ec2(scope: Scope) -> Iterator[Resource | tuple[Kind, str, str]]:
    paginator = scoped_client("ec2", scope).get_paginator("describe_instances")
    filters = [
        {"Name": "tag-key", "Values": [SCHEDULE_TAG]},
        {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
    ]
    for page in paginator.paginate(Filters=filters, PaginationConfig={"PageSize": EC2_PAGE}):
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                tags = _tags(instance.get("Tags", []), "Key", "Value")
                if ASG_MEMBER_TAG in tags:
                    yield ("ec2", instance["InstanceId"], f"member of Auto Scaling group {tags[ASG_MEMBER_TAG]}")
                    continue
                state = instance["State"]["Name"]
                yield Resource(
                    kind="ec2",
                    id=instance["InstanceId"],
                    arn=instance["InstanceId"],
                    schedule=tags[SCHEDULE_TAG],
                    actual=_actual(state),
                    instance_type=instance.get("InstanceType"),
                    state_reason=(instance.get("StateReason") or {}).get("Message") if state == "stopped" else None,
                )


def _asgs(scope: Scope) -> Iterator[Resource | tuple[Kind, str, str]]:
    paginator = scoped_client("autoscaling", scope).get_paginator("describe_auto_scaling_groups")
    for page in paginator.paginate(Filters=[{"Name": "tag-key", "Values": [SCHEDULE_TAG]}]):
        for group in page["AutoScalingGroups"]:
            tags = _tags(group.get("Tags", []), "Key", "Value")
            if SCHEDULE_TAG not in tags:
                continue
            capacity = {"min": group["MinSize"], "max": group["MaxSize"], "desired": group["DesiredCapacity"]}
            yield Resource(
                kind="asg",
                id=group["AutoScalingGroupName"],
                arn=group.get("AutoScalingGroupARN") or group["AutoScalingGroupName"],
                schedule=tags[SCHEDULE_TAG],
                actual="running" if capacity["desired"] > 0 or capacity["min"] > 0 else "stopped",
                capacity=capacity,
            )


def _rds(scope: Scope) -> Iterator[Resource | tuple[Kind, str, str]]:
    for page in scoped_client("rds", scope).get_paginator("describe_db_instances").paginate():
        for db in page["DBInstances"]:
            tags = _tags(db.get("TagList", []), "Key", "Value")
            if SCHEDULE_TAG not in tags:
                continue
            if db.get("ReadReplicaSourceDBInstanceIdentifier"):
                yield ("rds", db["DBInstanceIdentifier"], "a read replica: its source decides")
                continue
            if db.get("DBClusterIdentifier"):
                yield ("rds", db["DBInstanceIdentifier"], f"a member of cluster {db['DBClusterIdentifier']}")
                continue
            yield Resource(
                kind="rds",
                id=db["DBInstanceIdentifier"],
                arn=db["DBInstanceArn"],
                schedule=tags[SCHEDULE_TAG],
                actual=_actual(db["DBInstanceStatus"]),
                instance_type=db.get("DBInstanceClass"),
            )


def _aurora(scope: Scope) -> Iterator[Resource | tuple[Kind, str, str]]:
    for page in scoped_client("rds", scope).get_paginator("describe_db_clusters").paginate():
        for cluster in page["DBClusters"]:
            tags = _tags(cluster.get("TagList", []), "Key", "Value")
            if SCHEDULE_TAG not in tags:
                continue
            yield Resource(
                kind="aurora",
                id=cluster["DBClusterIdentifier"],
                arn=cluster["DBClusterArn"],
                schedule=tags[SCHEDULE_TAG],
                actual=_actual(cluster["Status"]),
            )


def _ecs(scope: Scope) -> Iterator[Resource | tuple[Kind, str, str]]:
    ecs = scoped_client("ecs", scope)
    for clusters in ecs.get_paginator("list_clusters").paginate():
        for cluster in clusters["clusterArns"]:
            for services in ecs.get_paginator("list_services").paginate(cluster=cluster):
                arns = services["serviceArns"]
                for start in range(0, len(arns), 10):  # DescribeServices takes at most 10
                    chunk = arns[start : start + 10]
                    described = ecs.describe_services(cluster=cluster, services=chunk, include=["TAGS"])["services"]
                    scaled = _scalable_targets(scope, cluster.rsplit("/", 1)[-1], [s["serviceName"] for s in described])
                    for service in described:
                        tags = _tags(service.get("tags", []), "key", "value")
                        if SCHEDULE_TAG not in tags or service.get("status") != "ACTIVE":
                            continue
                        service_id = f"{cluster.rsplit('/', 1)[-1]}/{service['serviceName']}"
                        yield Resource(
                            kind="ecs",
                            id=service_id,
                            arn=service["serviceArn"],
                            schedule=tags[SCHEDULE_TAG],
                            actual="running" if service["desiredCount"] > 0 else "stopped",
                            capacity={"desired": service["desiredCount"], **scaled.get(service_id, {})},
                        )


def _scalable_targets(scope: Scope, cluster: str, services: list[str]) -> dict[str, dict[str, int]]:
    """`cluster/service` → {min, max} of the services registered with Application Auto Scaling."""
    if not services:
        return {}
    targets = scoped_client("application-autoscaling", scope).describe_scalable_targets(
        ServiceNamespace="ecs",
        ResourceIds=[f"service/{cluster}/{name}" for name in services],  # at most 10 here (AWS: 50)
        ScalableDimension=ECS_DIMENSION,
    )["ScalableTargets"]
    return {
        t["ResourceId"].removeprefix("service/"): {"min": int(t["MinCapacity"]), "max": int(t["MaxCapacity"])}
        for t in targets
    }


# ---------------------------------------------------------------------------- actions
def stop_ec2(ids: list[str], hibernate: bool = False, scope: Scope = HOME) -> Failures:
    ec2 = scoped_client("ec2", scope)

    def stop(batch: list[str]) -> None:
        if not hibernate:
            ec2.stop_instances(InstanceIds=batch)
            return
        try:
            ec2.stop_instances(InstanceIds=batch, Hibernate=True)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in {"UnsupportedHibernationConfiguration", "UnsupportedOperation"}:
                raise
            ec2.stop_instances(InstanceIds=batch)  # not configured for hibernation: a plain stop

    return _in_batches(ids, stop)


def start_ec2(ids: list[str], scope: Scope = HOME) -> Failures:
    return _in_batches(ids, lambda batch: scoped_client("ec2", scope).start_instances(InstanceIds=batch))


def set_asg(name: str, capacity: dict[str, int], scope: Scope = HOME) -> None:
    scoped_client("autoscaling", scope).update_auto_scaling_group(
        AutoScalingGroupName=name,
        MinSize=capacity["min"],
        MaxSize=capacity["max"],
        DesiredCapacity=capacity["desired"],
    )


def set_ecs(service_id: str, capacity: dict[str, int], scope: Scope = HOME) -> None:
    """The desired count, and first the scalable target's min/max when the service has one (else
    Application Auto Scaling scales a service set below its minimum back out)."""
    cluster, service = service_id.split("/", 1)
    if "min" in capacity:
        scoped_client("application-autoscaling", scope).register_scalable_target(
            ServiceNamespace="ecs",
            ResourceId=f"service/{service_id}",
            ScalableDimension=ECS_DIMENSION,
            MinCapacity=capacity["min"],
            MaxCapacity=capacity["max"],
        )
    scoped_client("ecs", scope).update_service(cluster=cluster, service=service, desiredCount=capacity["desired"])


def stop_rds(identifier: str, scope: Scope = HOME) -> None:
    scoped_client("rds", scope).stop_db_instance(DBInstanceIdentifier=identifier)


def start_rds(identifier: str, scope: Scope = HOME) -> None:
    scoped_client("rds", scope).start_db_instance(DBInstanceIdentifier=identifier)


def stop_aurora(identifier: str, scope: Scope = HOME) -> None:
    scoped_client("rds", scope).stop_db_cluster(DBClusterIdentifier=identifier)


def start_aurora(identifier: str, scope: Scope = HOME) -> None:
    scoped_client("rds", scope).start_db_cluster(DBClusterIdentifier=identifier)


def calendar_closed(names: list[str], at: datetime) -> str | None:
    """When the SSM Change Calendars `names` (in this account) are CLOSED at `at`: until when
    (or "further notice"); None while they are OPEN. One GetCalendarState for all of them."""
    answer = scoped_client("ssm", HOME).get_calendar_state(CalendarNames=names, AtTime=at.isoformat())
    if answer["State"] == "OPEN":
        return None
    return str(answer.get("NextTransitionTime") or "further notice")


def database_available(resource: Resource) -> bool:
    """Is this database up now (a fresh look, after starting it)?"""
    rds = scoped_client("rds", resource.scope)
    if resource.kind == "rds":
        status = rds.describe_db_instances(DBInstanceIdentifier=resource.id)["DBInstances"][0]["DBInstanceStatus"]
    else:
        status = rds.describe_db_clusters(DBClusterIdentifier=resource.id)["DBClusters"][0]["Status"]
    return str(status) == "available"


def _in_batches(ids: list[str], call: Callable[[list[str]], Any]) -> Failures:
    """Call with up to EC2_BATCH ids at a time; a batch that fails is split in halves until the
    failing ids are found (throttling is already absorbed by the clients' adaptive retries)."""
    failures: Failures = {}

    def attempt(batch: list[str]) -> None:
        try:
            call(batch)
        except ClientError as exc:
            if len(batch) == 1:
                failures[batch[0]] = f"{exc.response['Error']['Code']}: {exc.response['Error'].get('Message', '')}"
                return
            middle = len(batch) // 2
            attempt(batch[:middle])
            attempt(batch[middle:])

    for start in range(0, len(ids), EC2_BATCH):
        attempt(ids[start : start + EC2_BATCH])
    return failures


def _actual(status: str) -> Actual:
    """EC2 running and RDS available → running; stopped → stopped; anything else (pending, starting,
    stopping, ...) → transitioning, which the reconciler leaves alone this run."""
    if status in {"running", "available"}:
        return "running"
    return "stopped" if status == "stopped" else "transitioning"


def _tags(tags: Iterable[dict[str, str]], key: str, value: str) -> dict[str, str]:
    return {tag[key]: tag[value] for tag in tags}
