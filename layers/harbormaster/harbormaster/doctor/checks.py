"""The doctor's checks, each against the account the caller's credentials reach. Read-only except
for the instance probe (`probe.py`), a read-only shell command (skip it with `probe=False`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import Any

from botocore.exceptions import ClientError

from harbormaster.accounts import Scope, environment_scope, local, own_account, registry_scope, scoped_client
from harbormaster.clients import client
from harbormaster.config import Environment, HarbormasterConfig
from harbormaster.config.models import Ec2Target, EcsTarget, Spokes
from harbormaster.deploy import alb_timing, guard_alarms
from harbormaster.deploy.exceptions import DeployError
from harbormaster.deploy.targets import ENVIRONMENT_TAG, instances, target_group_arn
from harbormaster.doctor import probe
from harbormaster.doctor.findings import Finding, Status
from harbormaster.schedule.reconcile import configured_scopes

_SSM_AGENT_FIX = (
    "install and start the SSM agent, and give the instance profile the managed policy AmazonSSMManagedInstanceCore"
)
_PROBE_FIXES = {
    "docker": "install Docker and start it, e.g. `sudo dnf install -y docker && sudo systemctl enable --now docker`",
    "ecr-pull": "allow the instance role ecr:GetAuthorizationToken, and ecr:BatchGetImage and "
    "ecr:GetDownloadUrlForLayer on {repository} (e.g. the managed policy AmazonEC2ContainerRegistryReadOnly)",
    "parameter-read": "allow the instance role ssm:GetParametersByPath on parameter{path}* "
    "(and kms:Decrypt on the key of SecureString values)",
    "fence-read": "allow the instance role dynamodb:GetItem on table/{table} with the condition "
    '"ForAllValues:StringLike": {{"dynamodb:LeadingKeys": ["FENCE#*"]}} (every deploy command reads its fence)',
    "compose": "install Docker Compose, and check container.compose (project_dir, file, service) against the host",
}


def diagnose(
    config: HarbormasterConfig,
    environment: str | None = None,
    stack_outputs: dict[str, str] | None = None,
    probe_instances: bool = True,
) -> list[Finding]:
    """Every check for one environment (or all), plus the stack's and Slack's."""
    if environment is not None and environment not in config.environments:
        raise KeyError(f"environment {environment!r} is not in the configuration")
    findings = [_stack(stack_outputs), *_slack(config), *_spokes(config), *_spoke_events(config, stack_outputs)]
    fence_table = (stack_outputs or {}).get("TableName")
    for name in [environment] if environment else sorted(config.environments):
        findings.extend(_environment(name, config.environments[name], config.spokes, probe_instances, fence_table))
    return findings


def _stack(outputs: dict[str, str] | None) -> Finding:
    if outputs is None:
        return Finding(
            scope="stack",
            check="deployed",
            status=Status.PROBLEM,
            detail="no Harbormaster stack found",
            fix="sam build && sam deploy --guided (or name it with --stack / $HARBORMASTER_STACK)",
        )
    return Finding(scope="stack", check="deployed", status=Status.OK, detail=outputs.get("DeployStateMachineArn", ""))


def _slack(config: HarbormasterConfig) -> list[Finding]:
    findings = []
    secrets = {
        f"route {name}": route.webhook_secret
        for name, route in sorted(config.slack.routes.items())
        if route.webhook_secret is not None
    }
    if config.slack.bot_token_secret:
        secrets["bot token"] = config.slack.bot_token_secret
    if config.slack.signing_secret:
        secrets["signing secret"] = config.slack.signing_secret
    for what, name in secrets.items():
        exists = _secret_exists(name)
        findings.append(
            Finding(
                scope="slack",
                check=what,
                status=Status.OK if exists else Status.PROBLEM,
                detail=f"secret {name} " + ("exists" if exists else "does not exist"),
                fix=f"aws secretsmanager create-secret --name {name} --secret-string '<the value>'",
            )
        )
    gated = sorted(name for name, env in config.environments.items() if env.approval.required)
    if gated and not config.slack.signing_secret:
        findings.append(
            Finding(
                scope="slack",
                check="approval buttons",
                status=Status.PROBLEM,
                detail=f"{', '.join(gated)} need approval, but slack.signing_secret is not set: buttons are refused",
                fix="set slack.signing_secret to the Secrets Manager name of the Slack app's signing secret",
            )
        )
    return findings


def _spokes(config: HarbormasterConfig) -> list[Finding]:
    """Each other account a schedule or an environment names: can the hub assume its spoke role?"""
    findings = []
    accounts = {scope.account for scope in configured_scopes(config)}
    for environment in config.environments.values():
        accounts |= {environment.account, environment.registry.account}
    for account in sorted(a for a in accounts if a is not None):  # one look per account: roles are global
        scope = Scope(account=account, spokes=config.spokes)
        try:
            scoped_client("sts", scope).get_caller_identity()
            status, detail = Status.OK, f"{scope.spokes.role_name} assumed"
        except ClientError as exc:
            status, detail = Status.PROBLEM, f"cannot assume {scope.spokes.role_name}: {exc.response['Error']['Code']}"
        findings.append(
            Finding(
                scope=f"account {scope.account}",
                check="spoke role",
                status=status,
                detail=detail,
                fix="deploy spoke.yaml there (a StackSet over its OU) with this hub's account id, your "
                "organization id and spokes.external_id",
            )
        )
    return findings


def _spoke_events(config: HarbormasterConfig, outputs: dict[str, str] | None) -> list[Finding]:
    """Environments or registries in other accounts need their events admitted by this account's
    bus (the stack's OrganizationId); without it their forwards are refused, silently here."""
    elsewhere = sorted(
        name for name, env in config.environments.items() if env.account is not None or env.registry.account is not None
    )
    if not elsewhere or outputs is None:
        return []
    organization = outputs.get("SpokeEventsFrom", "none")
    if organization != "none":
        return [Finding(scope="stack", check="spoke events", status=Status.OK, detail=f"admitted from {organization}")]
    return [
        Finding(
            scope="stack",
            check="spoke events",
            status=Status.PROBLEM,
            detail=f"{', '.join(elsewhere)} live in or deploy from other accounts, but this account's event bus "
            "admits none of their events (pushes, ECS deployments, alarms): the stack's OrganizationId is empty",
            fix="sam deploy --parameter-overrides OrganizationId=o-… (your AWS Organizations id)",
        )
    ]


def _secret_exists(name: str) -> bool:
    try:
        client("secretsmanager").describe_secret(SecretId=name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            return False
        raise
    return True


def _environment(
    name: str, environment: Environment, spokes: Spokes, probe_instances: bool, fence_table: str | None
) -> list[Finding]:
    def found(check: str, status: Status, detail: str, fix: str | None = None) -> Finding:
        return Finding(scope=name, check=check, status=status, detail=detail, fix=fix)

    home, registry = environment_scope(environment, spokes), registry_scope(environment, spokes)
    try:
        findings = [_repository(environment, registry, found), *_alarms(environment, home, found)]
        if local(registry).account != local(home).account:
            findings.append(_registry_pull(environment, home, registry, found))
        target = environment.target
        if isinstance(target, EcsTarget):
            return [*findings, *_ecs(name, target, home, found)]
    except ClientError as exc:  # another account whose spoke role is missing or lacks a permission
        return [
            found(
                "reachable",
                Status.PROBLEM,
                f"cannot read the environment in {home} / its registry in {registry}: {exc.response['Error']['Code']}",
                "deploy spoke.yaml in that account (see the spoke role check above)",
            )
        ]
    return [*findings, *_ec2(name, environment, target, found, probe_instances, fence_table)]


Found = Callable[..., Finding]


def _repository(environment: Environment, registry: Scope, found: Found) -> Finding:
    try:
        [repository] = scoped_client("ecr", registry).describe_repositories(repositoryNames=[environment.repository])[
            "repositories"
        ]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "RepositoryNotFoundException":
            raise
        return found(
            "repository",
            Status.PROBLEM,
            f"ECR repository {environment.repository} does not exist",
            f"aws ecr create-repository --repository-name {environment.repository} "
            "--image-scanning-configuration scanOnPush=true",
        )
    scanning = (repository.get("imageScanningConfiguration") or {}).get("scanOnPush", False)
    if environment.scan.require_scan and not scanning:
        return found(
            "repository",
            Status.PROBLEM,
            f"scan.require_scan is set but {environment.repository} does not scan on push: "
            "every deploy would be refused",
            f"aws ecr put-image-scanning-configuration --repository-name {environment.repository} "
            "--image-scanning-configuration scanOnPush=true",
        )
    return found("repository", Status.OK, f"{repository['repositoryUri']}" + (" (scan on push)" if scanning else ""))


def _registry_pull(environment: Environment, home: Scope, registry: Scope, found: Found) -> Finding:
    """Can the service's account pull from the registry account? Its repository policy must say so
    (by account, or by organization), else every task stops with CannotPullContainerError."""
    puller = local(home).account or own_account()
    fix = (
        f"aws ecr set-repository-policy --repository-name {environment.repository} (in account "
        f"{registry.account or 'of the hub'}): allow ecr:BatchGetImage, ecr:GetDownloadUrlForLayer and "
        f"ecr:BatchCheckLayerAvailability to account {puller} (or to your organization with aws:PrincipalOrgID)"
    )
    ecr = scoped_client("ecr", registry)
    try:
        text = ecr.get_repository_policy(repositoryName=environment.repository)["policyText"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "RepositoryPolicyNotFoundException":
            raise
        return found(
            "registry pull", Status.PROBLEM, f"the repository has no policy: it does not let account {puller} pull", fix
        )
    if _lets_pull(json.loads(text), puller, _organization()):
        return found("registry pull", Status.OK, f"account {puller} may pull {environment.repository}")
    return found("registry pull", Status.PROBLEM, f"the repository policy does not let account {puller} pull", fix)


def _lets_pull(policy: dict[str, Any], account: str, organization: str | None) -> bool:
    statements = policy.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = statement.get("Action")
        actions = [actions] if isinstance(actions, str) else actions or []
        principal = statement.get("Principal")
        principals = principal.get("AWS") if isinstance(principal, dict) else principal
        principals = [principals] if isinstance(principals, str) else principals or []
        if statement.get("Effect") != "Allow" or not any(fnmatchcase("ecr:BatchGetImage", a) for a in actions):
            continue
        if any(p == account or p.endswith(f":iam::{account}:root") for p in principals):
            return True
        wanted = (statement.get("Condition") or {}).get("StringEquals", {}).get("aws:PrincipalOrgID")
        if "*" in principals and wanted is not None and wanted == organization:
            return True
    return False


def _organization() -> str | None:
    """The hub's organization (the spokes' too: their roles trust only it)."""
    try:
        return str(client("organizations").describe_organization()["Organization"]["Id"])
    except ClientError:
        return None


def _alarms(environment: Environment, scope: Scope, found: Found) -> list[Finding]:
    if not environment.guard_alarms:
        return [
            found(
                "guard alarms",
                Status.WARNING,
                "no guard_alarms: nothing rolls a bad release back on its own "
                "(alarms tagged harbormaster:guards still do)",
                "name the alarms that mean 'this release is bad' in guard_alarms",
            )
        ]
    missing = guard_alarms.missing(environment.guard_alarms, scope)
    if missing:
        return [
            found(
                "guard alarms",
                Status.PROBLEM,
                f"CloudWatch has no alarm named {', '.join(missing)}",
                "create the alarm(s), or correct guard_alarms (names or ARNs)",
            )
        ]
    return [found("guard alarms", Status.OK, f"{len(set(environment.guard_alarms))} found")]


def _ecs(name: str, target: EcsTarget, scope: Scope, found: Found) -> list[Finding]:
    ecs = scoped_client("ecs", scope)
    described = ecs.describe_services(cluster=target.cluster, services=[target.service], include=["TAGS"])
    services = [s for s in described.get("services", []) if s.get("status") == "ACTIVE"]
    if not services:
        return [
            found(
                "ecs service",
                Status.PROBLEM,
                f"no active service {target.service} in cluster {target.cluster}",
                "create the service, or correct target.cluster / target.service",
            )
        ]
    [service] = services
    findings = [found("ecs service", Status.OK, f"{service['serviceArn']} ({service.get('desiredCount', 0)} tasks)")]
    tags = {tag["key"]: tag["value"] for tag in service.get("tags", [])}
    findings.append(_tagged("ecs service tag", service["serviceArn"], tags, name, found, "ecs"))
    definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    containers = [c["name"] for c in definition.get("containerDefinitions", [])]
    if target.container not in containers:
        findings.append(
            found(
                "ecs container",
                Status.PROBLEM,
                f"the task definition has no container {target.container!r} (it has {', '.join(containers)})",
                "set target.container to the container whose image Harbormaster replaces",
            )
        )
    else:
        findings.append(found("ecs container", Status.OK, f"{target.container} in {definition['taskDefinitionArn']}"))
    return findings


def _tagged(check: str, arn: str, tags: dict[str, str], name: str, found: Found, service: str) -> Finding:
    """Harbormaster's IAM policies act only on resources tagged `harbormaster:environment`."""
    if ENVIRONMENT_TAG in tags:
        return found(check, Status.OK, f"{ENVIRONMENT_TAG}={tags[ENVIRONMENT_TAG]}")
    commands = {
        "elbv2": f"aws elbv2 add-tags --resource-arns {arn} --tags Key={ENVIRONMENT_TAG},Value={name}",
        "ecs": f"aws ecs tag-resource --resource-arn {arn} --tags key={ENVIRONMENT_TAG},value={name}",
        "ec2": f"aws ec2 create-tags --resources {arn} --tags Key={ENVIRONMENT_TAG},Value={name}",
    }
    return found(
        check,
        Status.PROBLEM,
        f"{arn.rsplit('/', 1)[-1]} is not tagged {ENVIRONMENT_TAG}: Harbormaster's role may not touch it",
        commands[service],
    )


def _ec2(
    name: str,
    environment: Environment,
    target: Ec2Target,
    found: Found,
    probe_instances: bool,
    fence_table: str | None,
) -> list[Finding]:
    findings: list[Finding] = []
    group = _target_group(name, environment, target, found, findings)
    if target.auto_scaling_group:
        groups = client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[target.auto_scaling_group])
        if not groups["AutoScalingGroups"]:
            findings.append(
                found(
                    "auto scaling group",
                    Status.PROBLEM,
                    f"no Auto Scaling group {target.auto_scaling_group}",
                    "correct target.auto_scaling_group",
                )
            )
    if group is None and not target.auto_scaling_group and not target.instances:
        return findings
    members = instances(target, group)
    if not members:
        findings.append(
            found(
                "instances",
                Status.PROBLEM,
                "no running instance found (target group, Auto Scaling group and tag selector)",
                "register instances in the target group, or set target.auto_scaling_group / target.instances.tag",
            )
        )
        return findings
    findings.append(found("instances", Status.OK, f"{len(members)} running: {', '.join(members)}"))
    findings.extend(_instance_tags(name, members, found))
    online = _ssm_online(members)
    for instance_id in members:
        if instance_id not in online:
            findings.append(
                found(
                    f"ssm {instance_id}",
                    Status.PROBLEM,
                    "not online in Systems Manager: commands cannot reach it",
                    _SSM_AGENT_FIX,
                )
            )
    reachable = [i for i in members if i in online]
    if reachable and probe_instances:
        findings.extend(_probe(name, environment, reachable, found, fence_table))
    elif reachable:
        findings.append(
            found("ssm", Status.OK, f"{len(reachable)} online (probe skipped: Docker and role not checked)")
        )
    return findings


def _target_group(
    name: str, environment: Environment, target: Ec2Target, found: Found, findings: list[Finding]
) -> str | None:
    if not (target.target_group_arn or target.target_group_name):
        return None
    try:
        arn = target_group_arn(target)
        [description] = client("elbv2").describe_tags(ResourceArns=[arn])["TagDescriptions"]
    except (DeployError, ClientError) as exc:
        findings.append(
            found(
                "target group",
                Status.PROBLEM,
                str(exc),
                "create the target group, or correct target.target_group_name / target_group_arn",
            )
        )
        return None
    findings.append(found("target group", Status.OK, arn))
    tags = {tag["Key"]: tag["Value"] for tag in description.get("Tags", [])}
    findings.append(_tagged("target group tag", arn, tags, name, found, "elbv2"))
    timing = alb_timing.read(arn)
    rollout = environment.rollout
    deadlines = alb_timing.deadlines(timing, rollout.drain_seconds, rollout.health_timeout_seconds)
    detail = (
        f"drain {timing.deregistration_delay_seconds}s, healthy after {timing.health_check_interval_seconds}s x "
        f"{timing.healthy_threshold_count}; deploys wait up to {deadlines.health_timeout_seconds}s for health"
    )
    if deadlines.warnings:
        findings.append(
            found(
                "target group timing",
                Status.WARNING,
                "; ".join(deadlines.warnings),
                f"raise rollout.health_timeout_seconds to {deadlines.health_timeout_seconds}, or shorten the "
                "group's health check (interval x healthy threshold)",
            )
        )
    else:
        findings.append(found("target group timing", Status.OK, detail))
    return arn


def _instance_tags(name: str, members: list[str], found: Found) -> list[Finding]:
    untagged = []
    for page in client("ec2").get_paginator("describe_instances").paginate(InstanceIds=members):
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                tags = {tag["Key"] for tag in instance.get("Tags", [])}
                if ENVIRONMENT_TAG not in tags:
                    untagged.append(instance["InstanceId"])
    if not untagged:
        return [found("instance tags", Status.OK, f"all tagged {ENVIRONMENT_TAG}")]
    return [
        found(
            "instance tags",
            Status.PROBLEM,
            f"{', '.join(sorted(untagged))} not tagged {ENVIRONMENT_TAG}: SendCommand would be refused",
            f"aws ec2 create-tags --resources {' '.join(sorted(untagged))} --tags Key={ENVIRONMENT_TAG},Value={name}",
        )
    ]


def _ssm_online(members: list[str]) -> set[str]:
    online: set[str] = set()
    paginator = client("ssm").get_paginator("describe_instance_information")
    for start in range(0, len(members), 50):  # the InstanceIds filter takes up to 50
        filters = [{"Key": "InstanceIds", "Values": members[start : start + 50]}]
        for page in paginator.paginate(Filters=filters, PaginationConfig={"PageSize": 50}):
            online.update(i["InstanceId"] for i in page["InstanceInformationList"] if i.get("PingStatus") == "Online")
    return online


def _probe(
    name: str, environment: Environment, reachable: list[str], found: Found, fence_table: str | None
) -> list[Finding]:
    region = client("ssm").meta.region_name
    path = environment.container.env_parameters_path
    fence = probe.Fence(fence_table, name) if fence_table else None
    spec = environment.container.compose
    compose = probe.ComposeService(f"{spec.project_dir}/{spec.file}", spec.service) if spec else None
    results = probe.run(reachable, region, environment.repository, path, fence, compose)
    findings = []
    for instance_id in reachable:
        outcome: Any = results.get(instance_id)
        if isinstance(outcome, str) or outcome is None:
            findings.append(found(f"probe {instance_id}", Status.PROBLEM, outcome or "no answer", _SSM_AGENT_FIX))
            continue
        for check, reason in outcome.items():
            fix = _PROBE_FIXES[check].format(repository=environment.repository, path=path, table=fence_table)
            status = Status.OK if reason is None else Status.PROBLEM
            findings.append(found(f"{check} {instance_id}", status, reason or "ok", fix))
    return findings
