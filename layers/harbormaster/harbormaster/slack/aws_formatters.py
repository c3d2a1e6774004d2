"""Block Kit for the AWS notifications teams route to the alert topic.

Each formatter takes the parsed message (a dict) and returns a SlackMessage, or None when the
payload is not the shape it knows (the caller then falls through to the next one, and finally to
the generic fallback). Every value from the payload is escaped; every text is cut to Slack's limits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from harbormaster.slack.message import (
    MAX_SECTION_TEXT,
    SlackMessage,
    code_block,
    context,
    cut,
    escape,
    fields,
    header,
    section,
)

Formatter = Callable[[dict[str, Any]], SlackMessage | None]
# An SNS message's formatter also gets the region of the topic it came through (or None).
MessageFormatter = Callable[[dict[str, Any], str | None], SlackMessage | None]
_REGION = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:([a-z]{2}(?:-[a-z]+)+-\d):")


def console(region: str | None, page: str) -> str | None:
    """The console URL of `page` (`service/path`, optionally `#fragment`) in the region's partition:
    aws (console.aws.amazon.com), aws-us-gov (console.amazonaws-us-gov.com), aws-cn (console.amazonaws.cn)."""
    if not region or not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
        return None
    if region.startswith("us-gov-"):
        host = "console.amazonaws-us-gov.com"
    elif region.startswith("cn-"):
        host = "console.amazonaws.cn"
    else:
        host = f"{region}.console.aws.amazon.com"
    path, _, fragment = page.partition("#")
    return f"https://{host}/{path}?region={region}" + (f"#{fragment}" if fragment else "")


def _link(label: str, url: str | None) -> tuple[str, str] | None:
    return (label, url) if url else None


def _part(value: Any) -> str:
    """A value as one URL path segment."""
    return quote(str(value or ""), safe="")


def card(
    title: str,
    severity: str,
    facts: list[tuple[str, Any]],
    text: str | None = None,
    link: tuple[str, str] | None = None,
    note: str | None = None,
    code: str | None = None,
) -> SlackMessage:
    """The common shape: a header, fields (empty values dropped), a text section, a link, a context
    line, a code block."""
    blocks = [header(title)]
    shown = [(name, escape(str(value))) for name, value in facts if value not in (None, "", [], {})]
    if shown:
        blocks.append(fields(shown))
    if text:
        blocks.append(section(escape(text)))
    if link:
        blocks.append(section(f"<{link[1]}|{escape(link[0])}>"))
    if note:
        blocks.append(context(escape(note)))
    if code:
        blocks.append(section(code_block(code)))
    return SlackMessage.build(title, severity, blocks)


# ---------------------------------------------------------------------------- CloudWatch alarms
_STATE = {
    "ALARM": ("🔴", "critical", "ALARM"),
    "OK": ("✅", "success", "resolved (OK)"),
    "INSUFFICIENT_DATA": ("⚪", "warning", "INSUFFICIENT_DATA (not enough data to evaluate)"),
}


def cloudwatch_alarm_sns(message: dict[str, Any], topic_region: str | None = None) -> SlackMessage | None:
    """The JSON CloudWatch publishes to SNS when an alarm changes state. Its `Region` is a name
    ("Asia Pacific (Seoul)"); the alarm's ARN, else the topic's (an alarm publishes to a topic of
    its own region), gives the code for the console link."""
    if "AlarmName" not in message or "NewStateValue" not in message:
        return None
    name, state = str(message["AlarmName"]), str(message["NewStateValue"])
    icon, severity, label = _STATE.get(state, ("🔔", "warning", state))
    trigger = message.get("Trigger") or {}
    region = region_of(str(message.get("AlarmArn") or "")) or topic_region
    facts: list[tuple[str, Any]] = [
        ("Alarm", name),
        ("Transition", f"{message.get('OldStateValue', '?')} → {state}"),
        ("Region", message.get("Region") or region),
        ("When", message.get("StateChangeTime")),
        *_trigger_facts(trigger),
    ]
    return card(
        f"{icon} {name}: {label}",
        severity,
        facts,
        text=_reason(message.get("NewStateReason"), message.get("AlarmDescription")),
        link=_alarm_link(name, region),
    )


def cloudwatch_alarm_event(event: dict[str, Any]) -> SlackMessage | None:
    """EventBridge `CloudWatch Alarm State Change` (single metric, metric math, anomaly, composite)."""
    detail = event.get("detail") or {}
    if event.get("detail-type") != "CloudWatch Alarm State Change" or "alarmName" not in detail:
        return None
    name = str(detail["alarmName"])
    state = str((detail.get("state") or {}).get("value", "?"))
    icon, severity, label = _STATE.get(state, ("🔔", "warning", state))
    configuration = detail.get("configuration") or {}
    metrics = configuration.get("metrics") or []
    facts: list[tuple[str, Any]] = [
        ("Alarm", name),
        ("Transition", f"{(detail.get('previousState') or {}).get('value', '?')} → {state}"),
        ("Region", event.get("region")),
        ("When", (detail.get("state") or {}).get("timestamp")),
        ("Metric", _metric_summary(metrics)),
        ("Rule", configuration.get("alarmRule")),
    ]
    return card(
        f"{icon} {name}: {label}",
        severity,
        facts,
        text=_reason((detail.get("state") or {}).get("reason"), configuration.get("description")),
        link=_alarm_link(name, event.get("region")),
    )


def _trigger_facts(trigger: dict[str, Any]) -> list[tuple[str, Any]]:
    if not trigger:
        return []
    if trigger.get("Metrics"):  # metric math or anomaly detection
        metric = _metric_summary(
            [
                {
                    "id": m.get("Id"),
                    "expression": m.get("Expression"),
                    "metricStat": {"metric": {"name": (m.get("MetricStat") or {}).get("Metric", {}).get("MetricName")}},
                }
                for m in trigger["Metrics"]
            ]
        )
    else:
        metric = f"{trigger.get('Namespace', '')} {trigger.get('MetricName', '')}".strip()
    statistic = trigger.get("Statistic") or trigger.get("ExtendedStatistic")
    operator = _OPERATORS.get(str(trigger.get("ComparisonOperator")), trigger.get("ComparisonOperator"))
    threshold = trigger.get("Threshold", trigger.get("ThresholdMetricId"))
    period = trigger.get("Period")
    return [
        ("Metric", metric),
        ("Threshold", f"{statistic + ' ' if statistic else ''}{operator or ''} {threshold}".strip()),
        ("Period", f"{period}s x {trigger.get('EvaluationPeriods', 1)}" if period else None),
    ]


_OPERATORS = {
    "GreaterThanThreshold": ">",
    "GreaterThanOrEqualToThreshold": "≥",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "≤",
    "LessThanLowerOrGreaterThanUpperThreshold": "outside band",
    "GreaterThanUpperThreshold": "above band",
    "LessThanLowerThreshold": "below band",
}


def _metric_summary(metrics: list[dict[str, Any]]) -> str | None:
    parts = []
    for metric in metrics:
        if metric.get("expression"):
            parts.append(f"{metric.get('id', '')} = {metric['expression']}")
        else:
            stat = metric.get("metricStat") or {}
            inner = stat.get("metric") or {}
            name = " ".join(str(v) for v in (inner.get("namespace"), inner.get("name")) if v)
            if name:
                parts.append(f"{name} ({stat.get('stat', '')} {stat.get('period', '')}s)".replace(" s)", ")"))
    return cut("; ".join(parts), 500) if parts else None


def _reason(reason: Any, description: Any) -> str | None:
    lines = [f"Reason: {reason}" if reason else "", f"Description: {description}" if description else ""]
    text = "\n".join(line for line in lines if line)
    return cut(text, MAX_SECTION_TEXT - 100) if text else None


def _alarm_link(name: str, region: str | None) -> tuple[str, str] | None:
    return _link(
        "Open the alarm in the console", console(region, f"cloudwatch/home#alarmsV2:alarm/{quote(name, safe='')}")
    )


def region_of(arn: str) -> str | None:
    """The region of an ARN (`arn:aws:sns:ap-northeast-2:…` → `ap-northeast-2`), else None."""
    match = _REGION.match(arn)
    return match.group(1) if match else None


# ---------------------------------------------------------------------------- security findings
def guardduty(event: dict[str, Any]) -> SlackMessage | None:
    detail = event.get("detail") or {}
    if event.get("detail-type") != "GuardDuty Finding" or not isinstance(detail, dict) or "type" not in detail:
        return None
    score = float(detail.get("severity") or 0)
    level, severity = ("High", "critical") if score >= 7 else ("Medium", "warning") if score >= 4 else ("Low", "info")
    region = event.get("region") or detail.get("region")
    resource = detail.get("resource") or {}
    instance = (resource.get("instanceDetails") or {}).get("instanceId")
    finding = _part(detail.get("id"))
    link = _link("Open the finding", console(region, f"guardduty/home#/findings?fId={finding}") if finding else None)
    return card(
        f"🛡️ GuardDuty: {detail.get('title') or detail['type']}",
        severity,
        [
            ("Severity", f"{level} ({score:g})"),
            ("Type", detail.get("type")),
            ("Resource", " ".join(str(v) for v in (resource.get("resourceType"), instance) if v)),
            ("Account", detail.get("accountId") or event.get("account")),
            ("Region", region),
            ("Count", (detail.get("service") or {}).get("count")),
        ],
        text=detail.get("description"),
        link=link,
    )


def guardduty_malware_scan(event: dict[str, Any]) -> SlackMessage | None:
    """`GuardDuty Malware Protection Object Scan Result`: an S3 object scanned on upload."""
    detail = event.get("detail") or {}
    if event.get("detail-type") != "GuardDuty Malware Protection Object Scan Result" or not isinstance(detail, dict):
        return None
    result = detail.get("scanResultDetails") or {}
    verdict = str(result.get("scanResultStatus") or detail.get("scanStatus") or "?")
    threats = ", ".join(str(t.get("name")) for t in (result.get("threats") or [])[:5] if isinstance(t, dict))
    obj = detail.get("s3ObjectDetails") or {}
    where = f"s3://{obj.get('bucketName', '?')}/{obj.get('objectKey', '?')}"
    found = verdict == "THREATS_FOUND"
    return card(
        f"🦠 GuardDuty malware scan: {verdict}" + (f" ({threats})" if threats else ""),
        "critical" if found else "warning" if verdict in {"FAILED", "UNSUPPORTED", "ACCESS_DENIED"} else "success",
        [
            ("Object", where),
            ("Threats", threats),
            ("Version", obj.get("versionId")),
            ("Scan", detail.get("scanStatus")),
            ("Account", event.get("account")),
            ("Region", event.get("region")),
        ],
        link=_link("Open Malware Protection", console(event.get("region"), "guardduty/home#/malware-protection")),
    )


def security_hub(event: dict[str, Any]) -> SlackMessage | None:
    findings = (event.get("detail") or {}).get("findings")
    if not str(event.get("detail-type", "")).startswith("Security Hub Findings") or not isinstance(findings, list):
        return None
    labels = [_asff_label(f.get("Severity") or {}) for f in findings]
    region = event.get("region") or (findings[0].get("Region") if findings else None)
    worst = max(labels, key=_SEVERITY_ORDER.index) if labels else "INFORMATIONAL"
    first = findings[0] if findings else {}
    resources = ", ".join(str(r.get("Id")) for f in findings[:5] for r in (f.get("Resources") or [])[:2])
    return card(
        f"🛡️ Security Hub: {first.get('Title') or 'finding'}"
        + (f" (+{len(findings) - 1})" if len(findings) > 1 else ""),
        _severity(worst),
        [
            ("Severity", worst),
            ("Product", first.get("ProductName") or first.get("ProductArn")),
            ("Account", first.get("AwsAccountId") or event.get("account")),
            ("Region", region),
            ("Resources", cut(resources, 500)),
            ("Generator", first.get("GeneratorId")),
        ],
        text=first.get("Description"),
        link=_link(
            "Open the findings", console(event.get("region") or first.get("Region"), "securityhub/home#/findings")
        ),
    )


def inspector(event: dict[str, Any]) -> SlackMessage | None:
    detail = event.get("detail") or {}
    kind = event.get("detail-type")
    if kind == "Inspector2 Finding":
        vulnerability = detail.get("packageVulnerabilityDetails") or {}
        level = str(detail.get("severity", "UNTRIAGED"))
        return card(
            f"🔍 Inspector: {detail.get('title') or detail.get('type', 'finding')}",
            _severity(level),
            [
                ("Severity", level),
                ("Type", detail.get("type")),
                ("Vulnerability", vulnerability.get("vulnerabilityId")),
                ("Resources", ", ".join(str(r.get("id")) for r in (detail.get("resources") or [])[:3])),
                ("Status", detail.get("status")),
                ("Region", event.get("region")),
            ],
            text=detail.get("description"),
            link=_link("Open the findings", console(event.get("region"), "inspector/v2/home#/findings/all")),
        )
    if kind == "Inspector2 Scan":
        counts = detail.get("finding-severity-counts") or {}
        critical = int(counts.get("CRITICAL", 0) or 0)
        return card(
            f"🔍 Inspector scan: {detail.get('repository-name') or detail.get('scan-status', 'complete')}",
            "critical" if critical else "warning" if int(counts.get("HIGH", 0) or 0) else "info",
            [
                ("Status", detail.get("scan-status")),
                ("Image tags", ", ".join(map(str, detail.get("image-tags") or []))),
                ("Digest", detail.get("image-digest")),
                ("Findings", ", ".join(f"{k} {v}" for k, v in counts.items())),
            ],
            link=_link("Open the findings", console(event.get("region"), "inspector/v2/home#/findings/all")),
        )
    return None


def _asff_label(severity: dict[str, Any]) -> str:
    """ASFF's Label, or the label its Normalized score (0-100) stands for in older findings."""
    if severity.get("Label"):
        return str(severity["Label"]).upper()
    score = float(severity.get("Normalized") or 0)
    for floor, label in ((90, "CRITICAL"), (70, "HIGH"), (40, "MEDIUM"), (1, "LOW")):
        if score >= floor:
            return label
    return "INFORMATIONAL"


_SEVERITY_ORDER = ["INFORMATIONAL", "UNTRIAGED", "LOW", "MEDIUM", "HIGH", "CRITICAL"]


def _severity(label: str) -> str:
    label = label.upper()
    return "critical" if label in {"CRITICAL", "HIGH"} else "warning" if label == "MEDIUM" else "info"


# ---------------------------------------------------------------------------- operations
def health(event: dict[str, Any]) -> SlackMessage | None:
    detail = event.get("detail") or {}
    if event.get("source") != "aws.health" and event.get("detail-type") != "AWS Health Event":
        return None
    descriptions = detail.get("eventDescription") or [{}]
    category = str(detail.get("eventTypeCategory", ""))
    entities = ", ".join(str(e.get("entityValue")) for e in (detail.get("affectedEntities") or [])[:5])
    return card(
        f"🩺 AWS Health: {detail.get('service', '')} {detail.get('eventTypeCode', '')}".strip(),
        "warning" if category == "issue" else "info",
        [
            ("Category", category),
            ("Region", event.get("region")),
            ("Start", detail.get("startTime")),
            ("Status", detail.get("statusCode")),
            ("Affected", entities),
        ],
        text=descriptions[0].get("latestDescription") if descriptions else None,
        link=_link("Open AWS Health", console(event.get("region"), "health/home#/account/dashboard/open-issues")),
    )


def ecs(event: dict[str, Any]) -> SlackMessage | None:
    kind = str(event.get("detail-type", ""))
    detail = event.get("detail") or {}
    if event.get("source") != "aws.ecs" or not isinstance(detail, dict):
        return None
    resource = ", ".join(str(r).rsplit("/", 1)[-1] for r in event.get("resources") or [])
    if kind == "ECS Task State Change":
        stopped = detail.get("lastStatus") == "STOPPED"
        exits = ", ".join(
            f"{c.get('name')}={c.get('exitCode')}" for c in detail.get("containers") or [] if "exitCode" in c
        )
        return card(
            f"📦 ECS task {detail.get('lastStatus', '?')}: {detail.get('group', resource)}",
            "warning" if stopped else "info",
            [
                ("Task definition", str(detail.get("taskDefinitionArn", "")).rsplit("/", 1)[-1]),
                ("Desired", detail.get("desiredStatus")),
                ("Exit codes", exits),
                ("Cluster", str(detail.get("clusterArn", "")).rsplit("/", 1)[-1]),
            ],
            text=detail.get("stoppedReason"),
        )
    name = str(detail.get("eventName", kind))
    reason = str(detail.get("reason") or "")
    rolled_back = "circuit breaker" in reason.lower() and "rolling back" in reason.lower()
    failed = "FAILED" in name or detail.get("eventType") == "ERROR" or rolled_back
    return card(
        f"📦 {kind}: {name}" + (" (circuit breaker rollback: the deployment failed)" if rolled_back else ""),
        "critical" if failed else "warning" if detail.get("eventType") == "WARN" else "info",
        [
            ("Service", resource),
            ("Deployment", detail.get("deploymentId")),
            ("Target", detail.get("targetServiceDeploymentId")),
            ("Region", event.get("region")),
            ("When", detail.get("updatedAt") or event.get("time")),
        ],
        text=detail.get("reason"),
        link=_link("Open the service", _ecs_service_page(event)),
    )


def _ecs_service_page(event: dict[str, Any]) -> str | None:
    """The service's deployments page, from `arn:…:service/<cluster>/<service>`."""
    for resource in event.get("resources") or []:
        parts = str(resource).split(":service/", 1)
        if len(parts) == 2 and parts[1].count("/") == 1:
            cluster, service = (_part(p) for p in parts[1].split("/"))
            return console(event.get("region"), f"ecs/v2/clusters/{cluster}/services/{service}/deployments")
    return None


def code_services(event: dict[str, Any]) -> SlackMessage | None:
    source = event.get("source")
    detail = event.get("detail") or {}
    if source == "aws.codebuild":
        status = str(detail.get("build-status", "?"))
        return card(
            f"🏗️ CodeBuild {detail.get('project-name', '')}: {status}",
            _outcome(status),
            [("Build", str(detail.get("build-id", "")).rsplit("/", 1)[-1]), ("Region", event.get("region"))],
            link=_link(
                "Open the build history",
                console(
                    event.get("region"),
                    f"codesuite/codebuild/projects/{_part(detail.get('project-name'))}/history",
                ),
            ),
        )
    if source == "aws.codepipeline":
        state = str(detail.get("state", "?"))
        where = " / ".join(str(detail[k]) for k in ("pipeline", "stage", "action") if detail.get(k))
        return card(
            f"🔀 CodePipeline {where}: {state}",
            _outcome(state),
            [("Execution", detail.get("execution-id")), ("Type", (detail.get("type") or {}).get("provider"))],
            link=_link(
                "Open the pipeline",
                console(
                    event.get("region"),
                    f"codesuite/codepipeline/pipelines/{_part(detail.get('pipeline'))}/view",
                ),
            ),
        )
    if source == "aws.codedeploy":
        state = str(detail.get("state", "?"))
        return card(
            f"🚚 CodeDeploy {detail.get('application', '')}/{detail.get('deploymentGroup', '')}: {state}",
            _outcome(state),
            [("Deployment", detail.get("deploymentId")), ("Region", event.get("region"))],
            link=_link(
                "Open the deployment",
                console(
                    event.get("region"),
                    f"codesuite/codedeploy/deployments/{_part(detail.get('deploymentId'))}",
                ),
            ),
        )
    return None


def codepipeline_approval(message: dict[str, Any], topic_region: str | None = None) -> SlackMessage | None:
    approval = message.get("approval")
    if not isinstance(approval, dict) or "pipelineName" not in approval:
        return None
    link = approval.get("approvalReviewLink") or message.get("consoleLink")
    return card(
        f"✋ Approval needed: {approval.get('pipelineName')} / {approval.get('stageName')}",
        "warning",
        [
            ("Action", approval.get("actionName")),
            ("Expires", approval.get("expires")),
            ("Region", message.get("region")),
        ],
        text=approval.get("customData"),
        link=("Review", str(link)) if isinstance(link, str) and link.startswith("https://") else None,
    )


def backup_event(event: dict[str, Any]) -> SlackMessage | None:
    if event.get("source") != "aws.backup":
        return None
    detail = event.get("detail") or {}
    state = str(detail.get("state", "?"))
    return card(
        f"💾 {event.get('detail-type', 'AWS Backup')}: {state}",
        _outcome(state),
        [("Resource", detail.get("resourceArn")), ("Job", detail.get("backupJobId")), ("Region", event.get("region"))],
        text=detail.get("statusMessage"),
        link=_link("Open the backup jobs", console(event.get("region"), "backup/home#/jobs")),
    )


# ---------------------------------------------------------------------------- RDS / DMS event subscriptions
_CRITICAL_EVENT = re.compile(
    r"\bfail(?:ed|ure|s)?\b|error|storage[ -]full|low storage|could not|unable|incompatible", re.IGNORECASE
)
_WARNING_EVENT = re.compile(r"stop|shut ?down|restart|reboot|failover|maintenance|paused", re.IGNORECASE)
_EVENT_CODE = re.compile(r"#((?:RDS|DMS)-EVENT-\d+)")


def rds_event_message(message: dict[str, Any], topic_region: str | None = None) -> SlackMessage | None:
    """What an RDS (or DMS, same shape) event subscription publishes: `Event Source`, `Source ID`
    (`SourceId` for DMS), `Event Message`, an `Identifier Link` to the console and an `Event ID`
    that is the documentation's URL of the event's code."""
    if "Event Source" not in message or "Event Message" not in message:
        return None
    source_id = message.get("Source ID") or message.get("SourceId") or "?"
    text = str(message["Event Message"]).strip()
    event_id = str(message.get("Event ID") or "")
    service = "DMS" if "/dms/" in event_id or "DMS-EVENT" in event_id else "RDS"
    code = _EVENT_CODE.search(event_id)
    severity = "critical" if _CRITICAL_EVENT.search(text) else "warning" if _WARNING_EVENT.search(text) else "info"
    link = str(message.get("Identifier Link") or "").strip()
    icon = {"critical": "🔴", "warning": "🟠"}.get(severity, "🗄️")
    return card(
        f"{icon} {service} {message['Event Source']} {source_id}: {text}",
        severity,
        [
            ("Source", f"{message['Event Source']} {source_id}"),
            ("Event", code.group(1) if code else event_id),
            ("When", message.get("Event Time")),
            ("Source ARN", message.get("Source ARN")),
        ],
        link=("Open in the console", link) if link.startswith("https://") else None,
    )


def _outcome(state: str) -> str:
    state = state.upper()
    if state in {"FAILED", "FAILURE", "STOPPED", "FAULT", "TIMED_OUT", "ABORTED", "EXPIRED"}:
        return "critical"
    return "success" if state in {"SUCCEEDED", "SUCCESS", "COMPLETED"} else "info"


# ---------------------------------------------------------------------------- text notifications
def text_notification(subject: str | None, text: str, topic_region: str | None = None) -> SlackMessage | None:
    """AWS services that publish plain text: Backup, Budgets, CloudFormation, the first message of
    an RDS or DMS event subscription."""
    subject = subject or ""
    lowered = f"{subject} {text[:200]}".lower()
    if "aws backup" in lowered:
        severity = "critical" if "failed" in lowered or "expired" in lowered else "success"
        arn = re.search(r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]+:\d{12}:\S+", text)
        region = region_of(arn.group(0)) if arn else topic_region
        jobs = _link("Open the backup jobs", console(region, "backup/home#/jobs"))
        return card(f"💾 {subject or 'AWS Backup'}", severity, [], text=text, link=jobs)
    if subject.startswith("AWS Budgets") or "aws budget notification" in lowered:
        return card(f"💰 {subject or 'AWS Budgets'}", "warning", [], text=text)
    if subject in {"RDS Notification Message", "DMS Notification Message"}:  # a subscription's first message
        return card(f"🗄️ {subject}", "info", [], text=text)
    if subject == "AWS CloudFormation Notification":
        values = dict(re.findall(r"^(\w+)='(.*)'$", text, flags=re.MULTILINE))
        status = values.get("ResourceStatus", "?")
        return card(
            f"🧱 CloudFormation {values.get('StackName', '')}: {status}",
            "critical" if "FAILED" in status or "ROLLBACK" in status else "info",
            [("Resource", values.get("LogicalResourceId")), ("Type", values.get("ResourceType"))],
            text=values.get("ResourceStatusReason") or None,
        )
    return None


# ---------------------------------------------------------------------------- any EventBridge event
def eventbridge(event: dict[str, Any]) -> SlackMessage | None:
    """Any other EventBridge event: its detail-type, source, region, resources, and the detail."""
    if "detail-type" not in event or "detail" not in event:
        return None
    detail = json.dumps(event.get("detail"), indent=2, ensure_ascii=False, default=str)
    return card(
        f"📣 {event['detail-type']}",
        "info",
        [
            ("Source", event.get("source")),
            ("Region", event.get("region")),
            ("Account", event.get("account")),
            ("Time", event.get("time")),
            ("Resources", cut(", ".join(map(str, event.get("resources") or [])), 500)),
        ],
        code=detail,
    )


EVENT_FORMATTERS: tuple[Formatter, ...] = (
    cloudwatch_alarm_event,
    guardduty,
    guardduty_malware_scan,
    security_hub,
    inspector,
    health,
    ecs,
    code_services,
    backup_event,
    eventbridge,
)
MESSAGE_FORMATTERS: tuple[MessageFormatter, ...] = (cloudwatch_alarm_sns, codepipeline_approval, rds_event_message)
