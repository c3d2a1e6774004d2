"""`harbormaster local demo`: a narrated scenario on the embedded engine."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import boto3

from harbormaster.config import load_config
from harbormaster.config.models import EcsTarget
from harbormaster.local.engine import LocalEngine, Report
from harbormaster.local.runtime import Invocation


def slack_as_text(body: Any) -> str:
    """A Slack message body as plain lines, the way a reader would see it in the channel."""
    if not isinstance(body, dict):
        return str(body)
    lines: list[str] = []
    blocks = list(body.get("blocks") or [])
    for attachment in body.get("attachments") or []:
        blocks.extend(attachment.get("blocks") or [])
    for block in blocks:
        if block.get("text"):
            lines.append(block["text"]["text"])
        lines.extend(field["text"].replace("\n", " ") for field in block.get("fields") or [])
        elements = block.get("elements") or []
        buttons = [f"[{e['text']['text']}]" for e in elements if e.get("type") == "button"]
        lines.extend(e.get("text", "") for e in elements if isinstance(e.get("text"), str))
        if buttons:
            lines.append(" ".join(buttons))
    return "\n".join(lines) or str(body.get("text", ""))


def run_demo(engine: LocalEngine, out: TextIO) -> None:  # noqa: PLR0915 - a narrated script, read top to bottom
    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    def show(report: Report, slack: bool = True) -> None:
        say(report.summary())
        for request in report.slack if slack else []:
            if request.status == 200:
                say(f"\n  ┌─ Slack #{request.webhook}")
                for line in slack_as_text(request.body).splitlines():
                    say(f"  │ {line}")
                say("  └─")
        say()

    config = load_config(str(engine.config_path))
    group = _target_group_arn("api-dev-tg")
    tags: dict[str, str] = {}

    def rollout_timeline(since: int) -> None:
        say("  rollout, as the ALB saw it (healthy / registered, then the image each instance runs):")
        points = [p for p in engine.fleet.timeline[since:] if p.target_group == group]
        members = sorted(set().union(*(p.registered for p in points))) if points else []
        for point in points:
            images = " ".join(f"{i[-4:]}={_tag(point.images.get(i, ''), tags)}" for i in members)
            say(f"    {point.cause.split()[0]:<10} {len(point.healthy)}/{len(point.registered)} healthy   {images}")
        say()

    say("Harbormaster local demo — the real template.yaml, provisioned in moto, run in this process.")
    say(f"  template: {engine.template}\n  config:   {engine.config_path}")
    say(f"  functions: {', '.join(sorted(engine.stack.functions))}")
    say(
        f"  fleet: api-dev has {len(_registered(group))} instances behind api-dev-tg "
        f"(rollout: batch {config.environments['api-dev'].rollout.batch}, "
        f"min_healthy {config.environments['api-dev'].rollout.min_healthy:g}%)\n"
    )

    say("1. CI pushes tpt-api-dev:dev-42. The ECR rule → router → deploy state machine rolls it across the fleet.")
    mark = len(engine.fleet.timeline)
    digest, report = engine.push_image("tpt-api-dev", "dev-42", content="demo-dev-42")
    tags[digest] = "dev-42"
    show(_without_steps(report))
    rollout_timeline(mark)

    say("2. EventBridge delivers the same push again (at-least-once): nothing starts twice.")
    event = report.bus.event if report.bus else {}
    show(engine.send_event(json.loads(json.dumps(event))))

    say("3. dev-43 is pushed, but its container never becomes healthy.")
    bad = "sha256:" + "b" * 64
    tags[bad] = "dev-43"
    uri = f"123456789012.dkr.ecr.{engine_region()}.amazonaws.com/tpt-api-dev@{bad}"
    engine.fleet.bad_image(uri)
    mark = len(engine.fleet.timeline)
    show(_without_steps(engine.push_image("tpt-api-dev", "dev-43", digest=bad)[1]))
    rollout_timeline(mark)
    say("   the ledger (`harbormaster history api-dev`):")
    os.environ["TABLE_NAME"] = engine.stack.outputs["TableName"]
    from harbormaster.reports import history_rows, table

    for line in table(history_rows("api-dev"), ["release_id", "status", "tag", "phase", "reason"]).splitlines():
        say(f"   {line[:150]}")
    say()

    say("4. dev-44 deploys fine, then its 5xx guard alarm goes off: Harbormaster rolls back to dev-42 on its own.")
    boto3.client("cloudwatch").put_metric_alarm(
        AlarmName="api-dev-5xx",
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=10,
        ComparisonOperator="GreaterThanThreshold",
    )
    good, _ = engine.push_image("tpt-api-dev", "dev-44", content="demo-dev-44")
    tags[good] = "dev-44"
    live = sum(1 for i in _registered(group) if engine.fleet.images[i].endswith(good))
    say(f"   dev-44 is live on {live} instances.")
    mark = len(engine.fleet.timeline)
    show(
        _without_steps(
            engine.send_event(
                {
                    "source": "aws.cloudwatch",
                    "detail-type": "CloudWatch Alarm State Change",
                    "resources": ["arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:api-dev-5xx"],
                    "detail": {
                        "alarmName": "api-dev-5xx",
                        "state": {
                            "value": "ALARM",
                            "reason": "Threshold Crossed: 5xx count 57 > 10",
                            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000",
                        },
                    },
                }
            )
        )
    )
    rollout_timeline(mark)
    for line in table(history_rows("api-dev"), ["release_id", "status", "tag", "trigger", "actor"]).splitlines():
        say(f"   {line[:150]}")
    say("   pushing dev-44 again is skipped as quarantined (`harbormaster deploy api-dev dev-44 --force` overrides).")
    say()

    say("5. The web environment is an ECS service: a push registers a new task-definition revision and")
    say("   UpdateService rolls it with the deployment circuit breaker on.")
    ecs = boto3.client("ecs")
    web = config.environments["web"].target
    assert isinstance(web, EcsTarget)

    def revision() -> str:
        found = ecs.describe_services(cluster=web.cluster, services=[web.service])["services"][0]
        return str(found["taskDefinition"]).rsplit("/", 1)[-1]

    say(f"   before: {web.service} runs {revision()}")
    show(_without_steps(engine.push_image("codemate-frontend", "main-7", content="demo-main-7")[1]))
    say(f"   after: {web.service} runs {revision()}")
    say("   main-8's tasks never start; ECS's circuit breaker rolls the service back by itself, and")
    say("   Harbormaster records what ECS did instead of rolling back a second time.")
    broken = "sha256:" + "e" * 64
    engine.fleet.bad_image(f"123456789012.dkr.ecr.{engine_region()}.amazonaws.com/codemate-frontend@{broken}")
    show(_without_steps(engine.push_image("codemate-frontend", "main-8", digest=broken)[1]))
    say(f"   after: {web.service} runs {revision()}")
    for line in table(history_rows("web"), ["release_id", "status", "tag", "phase", "reason"]).splitlines():
        say(f"   {line[:150]}")
    say()

    say("6. board-dev is a Django app on one EC2 host run by Docker Compose (web, nginx, redis, db), with no")
    say("   load balancer (seed 003). A push pins web's image by digest in docker-compose.harbormaster.yml,")
    say("   an override Harbormaster owns, and recreates web alone; nginx, redis and db keep running.")
    [board] = [i for i, p in engine.fleet.projects.items() if p.project_dir == "/home/ubuntu/TeamMoa"]
    project = engine.fleet.projects[board]
    engine.fleet.compose([board], project.project_dir, project.file, {**project.services, **TEAMMOA_NEIGHBOURS})
    project = engine.fleet.projects[board]

    def compose_state() -> None:
        for service, image in project.services.items():
            say(f"   {service:<6} {_tag(image, tags):<20} recreated {project.recreated[service]}x")
        say()

    board_good, report = engine.push_image("teammoa-web", "main-1", content="demo-main-1")
    tags[board_good] = "main-1"
    show(_without_steps(report))
    compose_state()
    say("   main-2 never gets healthy: the command fails on the host and web goes back to main-1.")
    board_bad = "sha256:" + "d" * 64
    tags[board_bad] = "main-2"
    engine.fleet.bad_image(f"123456789012.dkr.ecr.{engine_region()}.amazonaws.com/teammoa-web@{board_bad}")
    show(_without_steps(engine.push_image("teammoa-web", "main-2", digest=board_bad)[1]))
    compose_state()

    say("7. Production needs an approval: pushing tpt-api-prod:v1.0.0 parks the deploy at the approval gate")
    say("   (waitForTaskToken; the token stays in DynamoDB) and posts Approve / Reject buttons to Slack.")
    engine.push_image("tpt-api-prod", "v1.0.0", content="demo-v1.0.0", wait=False)
    engine.deliver_queued()
    request = _await_approval_request(engine)
    say("\n  ┌─ Slack #deployments")
    for line in slack_as_text(request.body).splitlines():
        say(f"  │ {line}")
    say("  └─")
    release = json.loads(_button(request.body, "approve")["value"])
    status, text, _ = engine.click("approve", release, "U0INTERN")
    say(f"   U0INTERN (not an approver) clicks Approve: HTTP {status}, told privately: {text}")
    status, text, _ = engine.click("reject", release, "U01ABC", message=request.body, wait=True)
    say(f"   U01ABC clicks Reject: HTTP {status}, the message now reads: {text}")
    say("   (Approve would resume the rollout; `harbormaster approve api-prod` does the same from a terminal.)")
    for line in table(history_rows("api-prod"), ["release_id", "status", "tag", "phase", "reason"]).splitlines():
        say(f"   {line[:150]}")
    say()

    say("8. Night and morning on the office-hours schedule (mon-fri 08:00-20:00 Asia/Seoul): dev boxes, a")
    say("   database and the web service are tagged harbormaster:schedule=office-hours. The reconciler runs")
    say(f"   on an EventBridge Scheduler rate ({engine.parameters.get('ScheduleRate', 'rate(5 minutes)')} here),")
    say("   on the engine's virtual clock.")
    _schedule_world(engine, web.cluster, web.service)
    from harbormaster.cli.schedule import status_rows

    seoul = ZoneInfo("Asia/Seoul")
    evening = engine.clock.now.astimezone(seoul)
    show(_only_schedule(engine.advance(evening.replace(hour=20, minute=20) - engine.clock.now)))
    for line in table(
        status_rows(config, engine.clock.now), ["resource", "kind", "desired", "actual", "next_change"]
    ).splitlines():
        say(f"   {line}")
    say()
    say("   23:00: someone starts a dev box by hand; it is left alone until the next boundary. Morning comes:")
    boto3.client("ec2").start_instances(InstanceIds=[_dev_boxes()[0]])
    morning = (evening + timedelta(days=1)).replace(hour=8, minute=20)
    show(_only_schedule(engine.advance(morning - engine.clock.now)))
    say()

    say("9. Other AWS notifications on the alert topic reach Slack formatted: a CloudWatch alarm's SNS message")
    say("   (its description tries to @channel; it is escaped) and a GuardDuty finding.")
    show(
        engine.publish_alert(
            {
                "AlarmName": "api-prod-p99-latency",
                "AlarmDescription": "<!channel> p99 응답 지연 — check the API",
                "NewStateValue": "ALARM",
                "OldStateValue": "OK",
                "NewStateReason": "Threshold Crossed: 3 datapoints were greater than the threshold (1.5).",
                "StateChangeTime": "2026-11-23T11:02:11.123+0000",
                "AlarmArn": "arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:api-prod-p99-latency",
                "Trigger": {
                    "MetricName": "TargetResponseTime",
                    "Namespace": "AWS/ApplicationELB",
                    "ExtendedStatistic": "p99",
                    "Period": 60,
                    "EvaluationPeriods": 3,
                    "ComparisonOperator": "GreaterThanThreshold",
                    "Threshold": 1.5,
                },
            },
            subject='ALARM: "api-prod-p99-latency" in Asia Pacific (Seoul)',
        )
    )
    show(
        engine.publish_alert(
            {
                "detail-type": "GuardDuty Finding",
                "source": "aws.guardduty",
                "region": "ap-northeast-2",
                "detail": {
                    "id": "demo-finding",
                    "type": "UnauthorizedAccess:EC2/SSHBruteForce",
                    "title": "SSH brute force attacks against i-0abc",
                    "description": "i-0abc is being brute-forced over SSH from 198.51.100.7.",
                    "severity": 8,
                    "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": "i-0abc"}},
                },
            }
        )
    )

    say("10. Harbormaster watches itself: Slack refuses a message (400 invalid_payload), so it goes straight to")
    say("   the DLQ; the stack's own alarm on the DLQ's depth goes off and reaches Slack.")
    engine.slack.fail_next, engine.slack.failure_statuses = 1, (400,)
    engine.publish_alert("a message Slack will refuse", subject="doomed")
    engine.slack.failure_statuses = (500,)
    dlq = engine.stack.outputs["AlertDeadLetterQueueUrl"]
    depth = boto3.client("sqs").get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    count = depth["Attributes"]["ApproximateNumberOfMessages"]
    say(f"   DLQ depth: {count} (the engine evaluates no metrics: it fires the alarm as CloudWatch would)")
    show(
        engine.fire_alarm(
            "harbormaster-alert-dlq-not-empty",
            "Threshold Crossed: 1 datapoint [1.0] was greater than the threshold (0.0).",
        )
    )

    say("11. A push to a repository no environment watches is ignored, with a log line that says why.")
    show(engine.push_image("some-other-repo", "latest")[1])

    say("12. An event no rule matches (an EC2 state change): nothing is triggered.")
    show(
        engine.send_event(
            {
                "source": "aws.ec2",
                "detail-type": "EC2 Instance State-change Notification",
                "detail": {"instance-id": "i-0123456789abcdef0", "state": "pending"},
            }
        )
    )
    say(f"Slack received {len(engine.slack.delivered())} message(s); every function ran from the working tree.")


TEAMMOA_NEIGHBOURS = {"nginx": "nginx:1.25-alpine", "redis": "redis:7-alpine", "db": "mysql:8.0"}


def demo_start() -> datetime:
    """The demo's virtual clock starts on the coming Monday, 19:30 in Seoul (office hours end at 20:00)."""
    seoul = ZoneInfo("Asia/Seoul")
    today = datetime.now(seoul)
    monday = today + timedelta(days=(7 - today.weekday()) % 7 or 7)
    return monday.replace(hour=19, minute=30, second=0, microsecond=0)


def _schedule_world(engine: LocalEngine, cluster: str, service: str) -> None:
    tag: Any = {"Key": "harbormaster:schedule", "Value": "office-hours"}
    boto3.client("ec2").run_instances(
        ImageId="ami-12c6146b",
        MinCount=2,
        MaxCount=2,
        InstanceType="t4g.medium",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [tag, {"Key": "Name", "Value": "dev-box"}]}],
    )
    boto3.client("rds").create_db_instance(
        DBInstanceIdentifier="api-dev-db",
        DBInstanceClass="db.t4g.medium",
        Engine="postgres",
        AllocatedStorage=20,
        Tags=[tag],
    )
    ecs = boto3.client("ecs")
    arn = ecs.describe_services(cluster=cluster, services=[service])["services"][0]["serviceArn"]
    ecs.tag_resource(resourceArn=arn, tags=[{"key": tag["Key"], "value": tag["Value"]}])


def _dev_boxes() -> list[str]:
    found = boto3.client("ec2").describe_instances(Filters=[{"Name": "tag:Name", "Values": ["dev-box"]}])
    return sorted(i["InstanceId"] for r in found["Reservations"] for i in r["Instances"])


def _only_schedule(report: Report) -> Report:
    """The runs that changed something (the others found nothing to do)."""
    acted = [
        i
        for i in report.invocations
        if i.logical_id != "SchedulerFunction"
        or any(o["action"] in {"stop", "start", "failed", "deferred"} for o in (i.response or {}).get("outcomes", []))
    ]
    quiet = len(report.invocations) - len(acted)
    if quiet:
        acted.append(Invocation(f"SchedulerFunction x{quiet} (nothing to do)", None))
    return Report(bus=report.bus, invocations=acted, executions=report.executions, slack=report.slack)


def _await_approval_request(engine: LocalEngine, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        engine.deliver_queued()
        found = [m for m in engine.slack.delivered() if "Approval needed" in str(m.body.get("text"))]
        if found:
            return found[-1]
        time.sleep(0.05)
    raise RuntimeError("the approval request never reached Slack")


def _button(body: dict[str, Any], action_id: str) -> dict[str, Any]:
    blocks = [b for a in body.get("attachments", []) for b in a["blocks"] if b["type"] == "actions"]
    return next(e for block in blocks for e in block["elements"] if e.get("action_id") == action_id)


def engine_region() -> str:
    return os.environ.get("AWS_REGION", "ap-northeast-2")


def _without_steps(report: Report) -> Report:
    """The report without the many per-instance (and ECS) step invocations, summarised as one line each."""
    stepping = {"BatchStepFunction", "EcsStepFunction"}
    others = [i for i in report.invocations if i.logical_id not in stepping]
    for name in sorted(stepping):
        steps = [i for i in report.invocations if i.logical_id == name]
        if steps:
            failed = sum(1 for i in steps if i.failed)
            label = f"{name} x{len(steps)}" + (f" ({failed} failed)" if failed else "")
            others.append(Invocation(label, None, duration_ms=sum(i.duration_ms for i in steps)))
    return Report(bus=report.bus, invocations=others, executions=report.executions, slack=report.slack)


def _tag(image: str, tags: dict[str, str]) -> str:
    if "@" not in image and ":bootstrap" not in image:
        return image  # e.g. nginx:1.25-alpine, which Harbormaster does not deploy
    digest = image.rsplit("@", 1)[-1]
    return tags.get(digest, image.rsplit(":", 1)[-1] if ":bootstrap" in image else digest[:14])


def _target_group_arn(name: str) -> str:
    return str(boto3.client("elbv2").describe_target_groups(Names=[name])["TargetGroups"][0]["TargetGroupArn"])


def _registered(group: str) -> list[str]:
    described = boto3.client("elbv2").describe_target_health(TargetGroupArn=group)
    return [d["Target"]["Id"] for d in described["TargetHealthDescriptions"]]
