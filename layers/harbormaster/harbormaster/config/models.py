"""The shape of `harbormaster.yaml`. Every model forbids unknown keys so typos are caught."""

from __future__ import annotations

import re
from datetime import date, timedelta
from fnmatch import fnmatchcase
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from harbormaster.config import document
from harbormaster.config.types import BatchSize, Duration, Percent, TagGlob
from harbormaster.model import Model

_ARN_TARGET_GROUP = r"^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup/[\w-]{1,32}/[0-9a-f]+$"
_REPOSITORY = r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$"
_HHMM = re.compile(r"^([01]?\d|2[0-3]):[0-5]\d$")


class _Model(Model):
    model_config = ConfigDict(extra="forbid", frozen=True)


ACCOUNT_ID = r"^\d{12}$"
REGION = r"^[a-z]{2}(-[a-z]+)+-\d$"


def _quoted_account(value: object) -> object:
    """YAML reads bare digits as a number (and drops a leading zero): account ids are quoted."""
    if isinstance(value, int):
        raise ValueError(f"write the account id in quotes ('{value:012d}'): YAML reads bare digits as a number")
    return value


AccountId = Annotated[str, BeforeValidator(_quoted_account), Field(pattern=ACCOUNT_ID)]
RegionName = Annotated[str, Field(pattern=REGION)]


class Registry(_Model):
    """Where an environment's ECR repository lives (default: this account and region). Pushes to
    it reach this account's event bus through the rule spoke.yaml sets up in that account."""

    account: AccountId | None = None
    region: RegionName | None = None


class InstanceSelector(_Model):
    """Instances chosen by their EC2 tags (all must match)."""

    tag: dict[str, str] = Field(min_length=1)


class Ec2Target(_Model):
    """Containers on EC2 instances, behind an ALB target group or without a load balancer.

    Without a target group the instances come from the Auto Scaling group and/or the tag selector,
    nothing is deregistered or registered, and an instance is healthy when its container (or
    compose service) passes its health check on the instance."""

    type: Literal["ec2"]
    target_group_arn: Annotated[str, Field(pattern=_ARN_TARGET_GROUP)] | None = None
    target_group_name: Annotated[str, Field(pattern=r"^[a-zA-Z0-9-]{1,32}$")] | None = None
    auto_scaling_group: str | None = None
    instances: InstanceSelector | None = None

    @model_validator(mode="after")
    def _instances_known(self) -> Ec2Target:
        if self.target_group_arn is not None and self.target_group_name is not None:
            raise ValueError("give one of target_group_arn or target_group_name, not both")
        if not self.has_load_balancer and self.auto_scaling_group is None and self.instances is None:
            raise ValueError("without a target group, name the instances: auto_scaling_group and/or instances.tag")
        return self

    @property
    def has_load_balancer(self) -> bool:
        return self.target_group_arn is not None or self.target_group_name is not None


class EcsTarget(_Model):
    """An ECS service whose task definition carries the container image."""

    type: Literal["ecs"]
    cluster: str = Field(min_length=1)
    service: str = Field(min_length=1)
    container: str = Field(min_length=1)
    # How long ECS may take to reach COMPLETED before Harbormaster calls the deployment failed.
    deployment_timeout_seconds: int = Field(default=1800, ge=1, le=21600)


Target = Annotated[Ec2Target | EcsTarget, Field(discriminator="type")]


def _host_path(value: str, what: str) -> str:
    """An absolute, normalised host path: no `.`/`..` segments, no `//`, not `/` itself."""
    parts = value.split("/")
    if not value.startswith("/") or value == "/" or "" in parts[1:] or {".", ".."} & set(parts):
        raise ValueError(f"{what} {value!r} must be an absolute path without . or .. segments (and not /)")
    return value


DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")


def _volume(value: str) -> str:
    """`HOST:CONTAINER` or `HOST:CONTAINER:ro|rw`, both paths absolute."""
    document.check(value, document.VOLUMES)
    host, container, *_ = value.split(":")
    _host_path(host, "the host path")
    _host_path(container, "the container path")
    if host.rstrip("/") in DOCKER_SOCKETS or host in ("/var/run", "/run"):
        raise ValueError(f"{value!r} mounts the Docker socket: that hands the host's root to the container")
    return value


def _port_mapping(value: str) -> str:
    """`HOST:CONTAINER` or `HOST:CONTAINER/udp`, both ports 1-65535."""
    document.check(value, document.EXTRA_PORTS)
    for port in value.split("/", 1)[0].split(":"):
        if not 1 <= int(port) <= 65535:
            raise ValueError(f"{value!r}: port {port} is out of range (1-65535)")
    return value


def _docker_arg(value: str) -> str:
    if re.fullmatch(r"--[a-z-]+ \S+", value):
        raise ValueError(f"{value!r}: write the option and its value as one item, {value.replace(' ', '=', 1)!r}")
    return document.check(value, document.DOCKER_ARG)


Volume = Annotated[str, AfterValidator(_volume)]
PortMapping = Annotated[str, AfterValidator(_port_mapping)]
DockerArg = Annotated[str, AfterValidator(_docker_arg)]
Port = Annotated[int, Field(ge=1, le=65535)]


class Compose(_Model):
    """A service of a Docker Compose project on the instance. Harbormaster pins the service's image
    by digest in an override file it owns (`docker-compose.harbormaster.yml` in the project
    directory) and recreates that service only (`docker compose up -d --no-deps`): the team's
    compose file is never edited, the project's other services never restarted."""

    project_dir: str
    file: str = "docker-compose.yml"
    service: str

    @field_validator("project_dir")
    @classmethod
    def _project_dir(cls, value: str) -> str:
        return _host_path(document.check(value, document.HOST_PATH), "project_dir")

    @field_validator("file")
    @classmethod
    def _file(cls, value: str) -> str:
        document.check(value, document.COMPOSE_FILE)
        if not value or {".", ".."} & set(value.split("/")) or "//" in value or value.endswith("/"):
            raise ValueError(f"{value!r} must name a file inside project_dir (no . or .. segments)")
        return value

    @field_validator("service")
    @classmethod
    def _service(cls, value: str) -> str:
        if not value:
            raise ValueError("name the compose service to deploy")
        return document.check(value, document.COMPOSE_SERVICE)


class Container(_Model):
    """The container the deploy document runs. Values are checked against the document's own
    `allowedPattern`s, so nothing that validates here is refused by SSM later.

    `port` is the container's port, published on `host_port` (the same by default), where the
    target group and the health check reach it; `ports` publishes more (`"9090:9090"`). With
    `compose`, the compose file owns ports, volumes and logging: `port` is where `health_path`
    answers on the host when the service has no healthcheck of its own."""

    name: str = "app"
    port: Port = 8080
    host_port: Port | None = None
    health_path: str = "/health"
    env_parameters_path: str | None = None
    env_file: str | None = None  # an env file already on the instance (docker run --env-file)
    log_group: str | None = None
    # How many of the container's last log lines a failed deploy quotes in Slack (secrets redacted).
    log_lines_in_alerts: int = Field(default=5, ge=0, le=50)
    volumes: list[Volume] = Field(default_factory=list, max_length=20)
    ports: list[PortMapping] = Field(default_factory=list, max_length=20)
    docker_args: list[DockerArg] = Field(default_factory=list, max_length=20)
    # How long the application may take to start before its health is checked at all.
    start_grace_seconds: int = Field(default=0, ge=0, le=3600)
    # After a healthy deploy, remove the repository's other images but the one just replaced
    # (kept for a fast revert), so the disk does not fill up.
    prune_images: bool = True
    compose: Compose | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return document.check(value, document.CONTAINER_NAME)

    @field_validator("health_path")
    @classmethod
    def _health_path(cls, value: str) -> str:
        return document.check(value, document.HEALTH_PATH)

    @field_validator("env_parameters_path")
    @classmethod
    def _env_parameters_path(cls, value: str | None) -> str | None:
        return None if value is None else document.check(value, document.ENV_PARAMETERS_PATH)

    @field_validator("env_file")
    @classmethod
    def _env_file(cls, value: str | None) -> str | None:
        return None if value is None else _host_path(document.check(value, document.HOST_PATH), "env_file")

    @field_validator("log_group")
    @classmethod
    def _log_group(cls, value: str | None) -> str | None:
        return None if value is None else document.check(value, document.LOG_GROUP)

    @model_validator(mode="after")
    def _consistent(self) -> Container:
        if self.compose is not None:
            owned = [
                key
                for key in ("volumes", "ports", "docker_args", "env_file", "log_group", "host_port")
                if getattr(self, key)
            ]
            if owned:
                raise ValueError(
                    f"with compose, the compose file defines {', '.join(owned)}: set them there "
                    "(Harbormaster only pins the service's image)"
                )
            return self
        published = [self.published_port, *(int(p.split(":")[0]) for p in self.ports)]
        protocols = [("tcp", self.published_port)] + [
            (p.partition("/")[2] or "tcp", int(p.split(":")[0])) for p in self.ports
        ]
        if len(set(protocols)) != len(protocols):
            raise ValueError(f"a host port is published twice: {sorted(published)}")
        names = [arg.split("=")[0] for arg in self.docker_args]
        if len(set(names)) != len(names):
            raise ValueError(f"a docker option is given twice: {sorted(names)}")
        return self

    @property
    def published_port(self) -> int:
        """Where the container answers on the instance: the target group's port and the health check's."""
        return self.host_port or self.port

    def document_parameters(self, environment: str) -> dict[str, str]:
        """The deploy document's parameters that describe this container (defaults left out)."""
        compose = self.compose
        values = {
            "ContainerName": self.name,
            "ContainerPort": str(self.port),
            "HostPort": str(self.host_port or ""),
            "HealthPath": self.health_path,
            "EnvParametersPath": self.env_parameters_path or "",
            "EnvFile": self.env_file or "",
            "LogGroup": self.log_group or f"/harbormaster/{environment}",
            "ExtraPorts": ",".join(self.ports),
            "Volumes": ",".join(self.volumes),
            "DockerArgs": " ".join(self.docker_args),
            "StartGraceSeconds": str(self.start_grace_seconds),
            "PruneImages": "true" if self.prune_images else "false",
            "ComposeProjectDir": compose.project_dir if compose else "",
            "ComposeFile": compose.file if compose else "",
            "ComposeService": compose.service if compose else "",
        }
        return {name: value for name, value in values.items() if value}


class Rollout(_Model):
    batch: BatchSize = 1
    min_healthy: Percent = 50.0
    drain_seconds: int = Field(default=30, ge=0, le=3600)
    health_timeout_seconds: int = Field(default=300, ge=1, le=3600)
    command_timeout_seconds: int = Field(default=600, ge=30, le=7200)
    # 0 re-checks at once: for tests and the local engine; keep the default in production.
    poll_seconds: int = Field(default=5, ge=0, le=300)

    @field_validator("min_healthy")
    @classmethod
    def _leaves_room(cls, value: float) -> float:
        if value >= 100:
            raise ValueError("min_healthy must be below 100%, or no instance could ever be taken out")
        return value


Severity = Literal["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED"]


class ScanGate(_Model):
    """Refuse images whose ECR scan found vulnerabilities of these severities."""

    block_on: list[Severity] = Field(default_factory=lambda: list[Severity](["CRITICAL"]))
    require_scan: bool = False
    # How long after the push to wait for a scan-on-push scan still IN_PROGRESS (then: require_scan
    # refuses the image, otherwise it deploys with a warning).
    wait_seconds: int = Field(default=300, ge=0, le=3600)


class Approval(_Model):
    required: bool = False
    approvers: list[str] = Field(default_factory=list)
    min_approvals: int = Field(default=1, ge=1)
    timeout: Duration = timedelta(hours=24)

    @model_validator(mode="after")
    def _approvers_cover_quorum(self) -> Approval:
        if self.required and len(set(self.approvers)) < self.min_approvals:
            raise ValueError(
                f"approval needs {self.min_approvals} approver(s) but only {len(set(self.approvers))} listed"
            )
        return self


class Rollback(_Model):
    """Automatic rollback to the last known-good image, and how fast it rolls."""

    on_alarm: bool = True
    window: Duration = timedelta(minutes=30)
    batch: BatchSize = "50%"
    health_timeout_seconds: int = Field(default=120, ge=1, le=3600)
    drain_seconds: int = Field(default=5, ge=0, le=3600)


class Environment(_Model):
    repository: str
    tags: list[TagGlob] = Field(min_length=1)
    target: Target
    container: Container = Container()
    rollout: Rollout = Rollout()
    approval: Approval = Approval()
    guard_alarms: list[str] = Field(default_factory=list)
    preflight_alarms: Literal["block", "warn", "ignore"] = "block"
    scan: ScanGate = ScanGate()
    bake: Duration = timedelta(0)
    rollback: Rollback = Rollback()
    # Where the environment lives, its service and guard alarms (default: this account and region);
    # another account is reached through its spoke role (spoke.yaml).
    account: AccountId | None = None
    region: RegionName | None = None
    registry: Registry = Registry()

    @model_validator(mode="after")
    def _command_outlives_the_health_check(self) -> Environment:
        needed = self.container.start_grace_seconds + self.rollout.health_timeout_seconds
        if needed >= self.rollout.command_timeout_seconds:
            raise ValueError(
                f"rollout.command_timeout_seconds ({self.rollout.command_timeout_seconds}) must exceed "
                f"container.start_grace_seconds + rollout.health_timeout_seconds ({needed}): "
                "SSM would stop the deploy command before its health check ends"
            )
        if self.container.compose is not None and self.target.type != "ec2":
            raise ValueError("container.compose is for EC2 hosts; an ECS service runs its task definition")
        if (self.account or self.region) and self.target.type != "ecs":
            raise ValueError(
                "account/region: only an ECS environment may live in another account or region "
                "(EC2 hosts run the hub's SSM document and read the hub's parameters)"
            )
        return self

    @field_validator("repository")
    @classmethod
    def _ecr_name(cls, value: str) -> str:
        if not re.match(_REPOSITORY, value) or len(value) > 256:
            raise ValueError(f"{value!r} is not an ECR repository name (lowercase letters, digits, . _ - /)")
        return value

    def matches(self, repository: str, tag: str | None) -> bool:
        """Does a push of `repository:tag` belong to this environment?"""
        return (
            repository == self.repository
            and tag is not None
            and any(fnmatchcase(tag, pattern) for pattern in self.tags)
        )


class Period(_Model):
    """An Instance Scheduler-compatible period; the scheduler evaluates the expressions."""

    begintime: str | None = None
    endtime: str | None = None
    weekdays: list[str | int] | str | None = None
    monthdays: list[str | int] | str | None = None
    months: list[str | int] | str | None = None

    @field_validator("begintime", "endtime")
    @classmethod
    def _wall_clock(cls, value: str | None) -> str | None:
        if value is not None and not _HHMM.match(value):
            raise ValueError(f"{value!r} is not a time of day; use H:MM or HH:MM")
        return value


MAX_HOLIDAY_RANGE_DAYS = 366


def holiday_dates(items: Any) -> Any:
    """Dates and inclusive ranges (`2026-12-31..2027-01-02`) as the list of dates they cover."""
    if not isinstance(items, list):
        return items  # pydantic says why
    dates: list[Any] = []
    for item in items:
        if isinstance(item, str) and ".." in item:
            first_text, _, last_text = item.partition("..")
            try:
                first, last = date.fromisoformat(first_text.strip()), date.fromisoformat(last_text.strip())
            except ValueError:
                raise ValueError(f"{item!r} is not a date range; use YYYY-MM-DD..YYYY-MM-DD") from None
            days = (last - first).days
            if not 0 <= days < MAX_HOLIDAY_RANGE_DAYS:
                raise ValueError(f"{item!r}: a range runs forward, at most {MAX_HOLIDAY_RANGE_DAYS} days")
            dates.extend(first + timedelta(days=n) for n in range(days + 1))
        else:
            dates.append(item)
    return dates


class Spokes(_Model):
    """How the hub reaches other accounts (spoke.yaml deployed in each): the role each spoke holds,
    and the external id its trust policy expects."""

    role_name: str = Field(default="harbormaster-spoke", pattern=r"^[\w+=,.@-]{1,64}$")
    external_id: str = Field(default="harbormaster", pattern=r"^[\w+=,.@:/-]+$", min_length=2, max_length=1224)


class ChangeCalendar(_Model):
    """A calendar kept in AWS Systems Manager Change Calendar: while it is CLOSED (an event of a
    DEFAULT_OPEN calendar), the schedules that name it are stopped, as on a holiday."""

    change_calendar: str = Field(pattern=r"^(arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:document/)?[A-Za-z0-9_.-]{3,128}$")


class Schedule(_Model):
    """Instance Scheduler-compatible; see harbormaster.schedule.evaluate for the rules.

    `holidays` (dates, or ranges `YYYY-MM-DD..YYYY-MM-DD`) and the named `calendars` shared with
    other schedules are stopped all day; the configuration merges the calendars into `holidays`."""

    timezone: str = "UTC"
    periods: list[Period] = Field(default_factory=list)
    holidays: list[date] = Field(default_factory=list)
    calendars: list[str] = Field(default_factory=list)
    # Filled from the Change Calendars among `calendars` (see HarbormasterConfig.calendars).
    change_calendars: list[str] = Field(default_factory=list)
    enforced: bool = False
    override_status: Literal["running", "stopped"] | None = None
    description: str | None = None
    hibernate: bool = False  # EC2: hibernate instead of stop where the instance supports it
    keep_max: Duration = Field(default=timedelta(hours=12))  # the longest `schedule keep` override
    # Slack users (U…/W… ids) who may keep it on or off from Slack; empty: anyone in the workspace.
    members: list[Annotated[str, Field(pattern=r"^[UW][A-Z0-9]{2,20}$")]] = Field(default_factory=list)
    # Where its resources live: account ids and regions (empty: this account, this region); every
    # account and region pair is covered, other accounts through their spoke role.
    accounts: list[AccountId] = Field(default_factory=list, max_length=100)
    regions: list[RegionName] = Field(default_factory=list, max_length=30)

    @field_validator("keep_max")
    @classmethod
    def _keep_max_bounds(cls, value: timedelta) -> timedelta:
        if not timedelta(minutes=1) <= value <= timedelta(days=7):
            raise ValueError("keep_max is between 1m and 7 days")
        return value

    _holiday_ranges = field_validator("holidays", mode="before")(holiday_dates)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        import zoneinfo  # on use: it imports sysconfig (~15 ms), and only schedules need it

        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Asia/Seoul)") from None
        return value

    @model_validator(mode="after")
    def _evaluable(self) -> Schedule:
        from harbormaster.schedule.evaluate import validate  # the scheduler owns the period syntax

        validate(self)
        return self


AlertSeverity = Literal["critical", "warning", "success", "info"]
MENTION_PATTERN = r"^(here|channel|everyone|[UW][A-Z0-9]{2,20}|S[A-Z0-9]{2,20})$"


CHANNEL_ID = r"^[CGD][A-Z0-9]{6,20}$"


class SlackRoute(_Model):
    """A Slack destination: an incoming webhook (its URL lives in Secrets Manager, never in this
    file) or, with the Slack app's bot token (`slack.bot_token_secret`), a channel id.

    `mention` (opt-in): who the route's messages notify, `here`, `channel`, `everyone`, a user id
    (`U…`/`W…`) or a user group id (`S…`); only for the severities in `mention_on`. Mentions written
    inside a payload stay escaped: these are the only live ones."""

    webhook_secret: str | None = Field(default=None, min_length=1)
    channel: Annotated[str, Field(pattern=CHANNEL_ID)] | None = None
    mention: list[Annotated[str, Field(pattern=MENTION_PATTERN)]] = Field(default_factory=list, max_length=10)
    mention_on: list[AlertSeverity] = Field(default_factory=lambda: list[AlertSeverity](["critical"]))

    @model_validator(mode="after")
    def _one_destination(self) -> SlackRoute:
        if (self.webhook_secret is None) == (self.channel is None):
            raise ValueError("give a route exactly one of webhook_secret or channel (a channel id like C0123ABCD)")
        return self


class Slack(_Model):
    routes: dict[str, SlackRoute] = Field(default_factory=dict)
    default_route: str | None = None
    messages_per_second: float = Field(default=1.0, gt=0)  # per webhook; Slack allows 1
    retry_backoff_seconds: float = Field(default=0.5, ge=0, le=30)  # 5xx and network errors
    # Secrets Manager name of the Slack app's signing secret (for the Approve/Reject/Rollback buttons).
    signing_secret: str | None = Field(default=None, min_length=1)
    # Secrets Manager name of the Slack app's bot token (xoxb-…): routes with a `channel` post with it,
    # one message per deploy updated in place and alarms threaded (slack/conversation.py).
    bot_token_secret: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _default_route_exists(self) -> Slack:
        if self.default_route is not None and self.default_route not in self.routes:
            raise ValueError(f"default_route {self.default_route!r} is not one of the routes")
        channels = sorted(name for name, route in self.routes.items() if route.channel)
        if channels and self.bot_token_secret is None:
            raise ValueError(f"routes {channels} post to a channel: set slack.bot_token_secret (the app's bot token)")
        return self

    def route_name(self, name: str | None) -> str | None:
        """The route to use for `name`: `deployments.api-prod` (a route for one environment) if
        configured, else `deployments`, else the default route, else None."""
        for candidate in (name, name.split(".", 1)[0] if name else None, self.default_route):
            if candidate and candidate in self.routes:
                return candidate
        return None

    def route(self, name: str | None) -> SlackRoute | None:
        found = self.route_name(name)
        return self.routes[found] if found else None


class HarbormasterConfig(_Model):
    environments: dict[str, Environment] = Field(default_factory=dict)
    schedules: dict[str, Schedule] = Field(default_factory=dict)
    # Holidays shared by several schedules (a country's public holidays, a company's closures): a
    # list of dates, or an SSM Change Calendar read at each run (`{change_calendar: NAME or ARN}`).
    calendars: dict[str, Annotated[list[date], BeforeValidator(holiday_dates)] | ChangeCalendar] = Field(
        default_factory=dict
    )
    slack: Slack = Slack()
    spokes: Spokes = Spokes()

    @model_validator(mode="after")
    def _merge_calendars(self) -> HarbormasterConfig:
        """Each schedule's holidays with those of the calendars it names."""
        merged: dict[str, Schedule] = {}
        for name, schedule in self.schedules.items():
            unknown = [c for c in schedule.calendars if c not in self.calendars]
            if unknown:
                known = ", ".join(sorted(self.calendars)) or "none defined"
                raise ValueError(f"schedules.{name}.calendars: unknown calendar(s) {unknown} (known: {known})")
            named = [self.calendars[c] for c in schedule.calendars]
            shared = {day for days in named if isinstance(days, list) for day in days}
            ssm = [c.change_calendar for c in named if isinstance(c, ChangeCalendar)]
            merged[name] = schedule.model_copy(
                update={"holidays": sorted(set(schedule.holidays) | shared), "change_calendars": ssm}
            )
        object.__setattr__(self, "schedules", merged)  # frozen: the merged copies replace the parsed ones
        return self

    @field_validator("environments", "schedules", "calendars")
    @classmethod
    def _names(cls, value: dict[str, object]) -> dict[str, object]:
        for name in value:
            if not re.match(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$", name):
                raise ValueError(f"{name!r} is not a valid name (letters, digits, - and _; max 63)")
        return value

    def environments_for_push(self, repository: str, tag: str | None) -> list[str]:
        """Names of the environments a push of `repository:tag` deploys to."""
        return [name for name, env in self.environments.items() if env.matches(repository, tag)]
