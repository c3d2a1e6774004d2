"""What AWS would refuse or do differently, made to fail in the engine: each test here fails on
a template or code that a real account would reject."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from harbormaster.local import LocalEngine
from harbormaster.local.stack import TemplateError, provision
from tests.e2e.deploy_world import REPO, World, config as world_config, put_guard_alarm, start_world

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
SEARCH_ALARM = "SUM(SEARCH('{AWS/Lambda,FunctionName} MetricName=\"Errors\"', 'Sum', 300))"


def _errors_alarm() -> dict[str, object]:
    return boto3.client("cloudwatch").describe_alarms(AlarmNames=["harbormaster-lambda-errors"])["MetricAlarms"][0]


def test_a_search_expression_in_an_alarm_is_refused(engine: LocalEngine) -> None:
    with pytest.raises(ClientError, match="SEARCH is not supported on Metric Alarms"):
        boto3.client("cloudwatch").put_metric_alarm(
            AlarmName="errors",
            Metrics=[{"Id": "e", "Expression": SEARCH_ALARM, "ReturnData": True}],
            EvaluationPeriods=1,
            Threshold=0,
            ComparisonOperator="GreaterThanThreshold",
        )


def test_a_metrics_insights_query_without_a_period_is_refused(engine: LocalEngine) -> None:
    with pytest.raises(ClientError, match="Period must be specified"):
        boto3.client("cloudwatch").put_metric_alarm(
            AlarmName="errors",
            Metrics=[{"Id": "e", "Expression": 'SELECT SUM(Errors) FROM SCHEMA("AWS/Lambda", FunctionName)'}],
            EvaluationPeriods=1,
            Threshold=0,
            ComparisonOperator="GreaterThanThreshold",
        )


def test_a_template_with_a_search_alarm_would_not_deploy(project_copy: Path) -> None:
    template = project_copy / "template.yaml"
    text = template.read_text()
    start = text.index('          Expression: !Sub "SELECT SUM(Errors)')
    end = text.index("\n", start)
    template.write_text(text[:start] + f"          Expression: {json.dumps(SEARCH_ALARM)}" + text[end:])
    with pytest.raises(TemplateError, match=r"LambdaErrorsAlarm.*SEARCH is not supported"):
        LocalEngine(template=template, config=project_copy / "harbormaster.yaml").start()


def test_the_errors_alarm_covers_every_function_of_the_stack(engine: LocalEngine) -> None:
    [query] = _errors_alarm()["Metrics"]  # type: ignore[index]
    assert query["Period"] == 300
    for function in engine.stack.functions.values():
        assert f"FunctionName = '{function.name}'" in query["Expression"]


def test_describe_alarms_returns_composite_alarms_only_when_asked(engine: LocalEngine) -> None:
    put_guard_alarm("metric-one")
    cloudwatch = boto3.client("cloudwatch")
    cloudwatch.put_composite_alarm(AlarmName="composite-one", AlarmRule='ALARM("metric-one")')
    by_default = cloudwatch.describe_alarms(AlarmNames=["metric-one", "composite-one"])
    assert [a["AlarmName"] for a in by_default["MetricAlarms"]] == ["metric-one"]
    assert by_default["CompositeAlarms"] == []
    both = cloudwatch.describe_alarms(AlarmNames=["composite-one"], AlarmTypes=["MetricAlarm", "CompositeAlarm"])
    assert [a["AlarmName"] for a in both["CompositeAlarms"]] == ["composite-one"]


def test_a_composite_guard_alarm_given_by_arn_fails_the_bake(tmp_path: Path) -> None:
    arn = "arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:api-composite"
    world: World = start_world(
        tmp_path,
        config=world_config().replace(
            "    rollout:", f"    guard_alarms: [{arn}]\n    preflight_alarms: ignore\n    bake: 1m\n    rollout:"
        ),
    )
    try:
        put_guard_alarm("api-metric")
        cloudwatch = boto3.client("cloudwatch")
        cloudwatch.put_composite_alarm(AlarmName="api-composite", AlarmRule='ALARM("api-metric")')
        world.engine.push_image(REPO, "v1")
        cloudwatch.set_alarm_state(AlarmName="api-composite", StateValue="ALARM", StateReason="5xx and latency")
        _, report = world.engine.push_image(REPO, "v2")
        assert [e.status for e in report.executions] == ["FAILED"]
        assert "api-composite went to ALARM while baking" in json.dumps([r.body for r in report.slack])
    finally:
        world.engine.stop()


def test_two_stacks_fit_in_one_account_and_region() -> None:
    """dev and prod side by side, as samconfig.toml suggests: no name may collide."""
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
        provision(ROOT / "template.yaml", "ap-northeast-2", {"Stage": "dev"}, stack_name="harbormaster-dev")
        provision(ROOT / "template.yaml", "ap-northeast-2", {"Stage": "prod"}, stack_name="harbormaster-prod")
        names = [s["Name"] for s in boto3.client("scheduler").list_schedules()["Schedules"]]
        assert sorted(names) == ["harbormaster-dev-reconcile", "harbormaster-prod-reconcile"]


def test_alarm_actions_reach_slack_through_the_customer_managed_key(engine: LocalEngine) -> None:
    report = engine.fire_alarm("harbormaster-alert-dlq-not-empty", "1 message in the DLQ")
    assert [r.webhook for r in report.slack if r.status == 200]


def test_alarm_actions_to_a_topic_under_the_aws_managed_key_never_arrive(project_copy: Path) -> None:
    template = project_copy / "template.yaml"
    template.write_text(template.read_text().replace("KmsMasterKeyId: !Ref AlertKey", "KmsMasterKeyId: alias/aws/sns"))
    with LocalEngine(template=template, config=project_copy / "harbormaster.yaml") as engine:
        report = engine.fire_alarm("harbormaster-alert-dlq-not-empty", "1 message in the DLQ")
        assert report.slack == []
        assert "cannot use" in engine.logs.text()


def test_the_alert_queue_outlasts_the_forwarder_and_the_forwarder_needs_no_reserved_concurrency(
    engine: LocalEngine,
) -> None:
    forwarder = engine.stack.functions["SlackForwarderFunction"]
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=engine.stack.outputs["AlertQueueUrl"], AttributeNames=["All"]
    )["Attributes"]
    assert int(attributes["VisibilityTimeout"]) >= 6 * forwarder.timeout
    assert json.loads(attributes["RedrivePolicy"])["maxReceiveCount"] >= 10
    concurrency = boto3.client("lambda").get_function_concurrency(FunctionName=forwarder.name)
    assert "ReservedConcurrentExecutions" not in concurrency
    [mapping] = boto3.client("lambda").list_event_source_mappings(FunctionName=forwarder.name)["EventSourceMappings"]
    assert mapping["ScalingConfig"]["MaximumConcurrency"] == 2


def test_the_rule_dead_letter_queues_are_encrypted(engine: LocalEngine) -> None:
    template = engine.stack.cfn_template["Resources"]
    queues = [r for r in template.values() if r["Type"] == "AWS::SQS::Queue"]
    assert queues and all(
        q["Properties"].get("SqsManagedSseEnabled") or q["Properties"].get("KmsMasterKeyId") for q in queues
    )


def _burst(engine: LocalEngine, count: int) -> tuple[set[str], set[str]]:
    """Publish `count` alarms; (names Slack got, names in the DLQ)."""
    sns = boto3.client("sns")
    for n in range(count):
        message = {"AlarmName": f"burst-{n:03d}", "NewStateValue": "ALARM", "NewStateReason": "burst"}
        sns.publish(TopicArn=engine.stack.outputs["AlertTopicArn"], Subject=f"burst {n}", Message=json.dumps(message))
    engine.settle(timeout=300)
    got = {str(r.body["text"]) for r in engine.slack.requests if r.status == 200}
    sqs = boto3.client("sqs")
    dead: set[str] = set()
    url = engine.stack.outputs["AlertDeadLetterQueueUrl"]
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages"):
        dead.update(json.loads(json.loads(m["Body"])["Message"])["AlarmName"] for m in batch)
    return got, dead


def test_throttled_receives_count_and_can_bury_alerts_that_were_never_sent(project_copy: Path) -> None:
    """The engine's pollers receive like Lambda's: with reserved concurrency 1 (and a tight
    maxReceiveCount) the batches it cannot run are received anyway, and alerts die unsent."""
    template = project_copy / "template.yaml"
    text = template.read_text().replace("maxReceiveCount: 10", "maxReceiveCount: 1")
    text = text.replace("ScalingConfig: {MaximumConcurrency: 2}", "ScalingConfig: {}")
    text = text.replace("      Timeout: 60\n", "      Timeout: 60\n      ReservedConcurrentExecutions: 1\n", 1)
    template.write_text(text)
    with LocalEngine(
        template=template, config=project_copy / "harbormaster.yaml", slack_messages_per_second=1000
    ) as engine:
        _, dead = _burst(engine, 60)
        assert dead, "a throttled receive did not count toward maxReceiveCount"
        attempted = json.dumps([r.body for r in engine.slack.requests])
        assert any(name not in attempted for name in dead)


def test_two_concurrent_forwarders_lose_nothing(engine: LocalEngine) -> None:
    # Three batches of 10 for two forwarders at Slack's own pace (1 per second): about 30 s.
    got, dead = _burst(engine, 30)
    assert dead == set() and len(got) == 30


def _scan_world(tmp_path: Path, scan: str) -> World:
    return start_world(tmp_path, config=world_config().replace("    rollout:", f"    scan: {scan}\n    rollout:"))


def test_the_scan_gate_waits_for_a_scan_still_in_progress_then_judges(tmp_path: Path) -> None:
    world = _scan_world(tmp_path, "{block_on: [CRITICAL]}")
    try:
        digest = "sha256:" + "c" * 64
        world.engine.scans.findings[digest] = {"CRITICAL": 2}
        started = world.engine.clock.now
        _, report = world.engine.push_image(REPO, "v9", digest=digest)
        assert [e.status for e in report.executions] == ["FAILED"]
        assert "2 CRITICAL finding(s)" in json.dumps([r.body for r in report.slack])
        assert (world.engine.clock.now - started).total_seconds() >= 20  # it waited for the scan
        assert set(world.images().values()) == {"v1"}
    finally:
        world.engine.stop()


def test_require_scan_refuses_an_image_whose_scan_never_completes(tmp_path: Path) -> None:
    world = _scan_world(tmp_path, "{require_scan: true, wait_seconds: 60}")
    try:
        world.engine.scans.duration = timedelta(hours=1)
        _, report = world.engine.push_image(REPO, "v2")
        assert [e.status for e in report.executions] == ["FAILED"]
        assert "the scan is still IN_PROGRESS after 60s" in json.dumps([r.body for r in report.slack])
        assert set(world.images().values()) == {"v1"}
    finally:
        world.engine.stop()


def test_the_deploy_state_machine_and_its_history_are_encrypted_with_the_stacks_own_key(engine: LocalEngine) -> None:
    """The approval task token is in the execution history: reading it must need kms:Decrypt."""
    sfn, kms, iam = boto3.client("stepfunctions"), boto3.client("kms"), boto3.client("iam")
    arn = engine.stack.outputs["DeployStateMachineArn"]
    described = sfn.describe_state_machine(stateMachineArn=arn)
    encryption = described["encryptionConfiguration"]
    key = kms.describe_key(KeyId=encryption["kmsKeyId"])["KeyMetadata"]
    assert encryption["type"] == "CUSTOMER_MANAGED_KMS_KEY" and key["KeyManager"] == "CUSTOMER"
    assert key["KeyId"] in engine.stack.physical_ids["StateMachineKey"]
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"]
    role = described["roleArn"].rsplit("/", 1)[-1]
    [name] = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    statements = document["Statement"]
    [uses_key] = [s for s in statements if "kms:Decrypt" in s["Action"]]
    assert uses_key["Condition"]["StringEquals"] == {"kms:EncryptionContext:aws:states:stateMachineArn": arn}


APPROVAL_RECORD_USERS = {"NotifyFunction", "FinalizeFunction", "SlackClickFunction"}


def test_only_the_functions_that_need_them_can_reach_approval_records(engine: LocalEngine) -> None:
    """Read from the template as CloudFormation gets it (moto's CloudFormation does not attach
    managed policies to roles)."""
    iam = boto3.client("iam")
    [off_limits] = [
        p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"] if "ApprovalRecordsOffLimits" in p["PolicyName"]
    ]
    document = json.dumps(iam.get_policy_version(PolicyArn=off_limits, VersionId="v1")["PolicyVersion"]["Document"])
    assert '"APPROVAL#*"' in document and "dynamodb:Scan" in document
    resources = engine.stack.cfn_template["Resources"]
    checked = set()
    for logical_id in engine.stack.functions:
        role = resources[f"{logical_id}Role"]["Properties"]
        inline = json.dumps(role.get("Policies", []))
        attached = role.get("ManagedPolicyArns", [])
        if logical_id in APPROVAL_RECORD_USERS:
            assert {"Ref": "ApprovalRecordsOffLimits"} not in attached, logical_id
        elif "dynamodb:" in inline and "dynamodb:LeadingKeys" not in inline:
            assert {"Ref": "ApprovalRecordsOffLimits"} in attached, (
                f"{logical_id} can read approval records (task tokens)"
            )
            checked.add(logical_id)
    assert {"PrepareFunction", "AlarmFunction", "SchedulerFunction", "SlackForwarderFunction"} <= checked
    assert "states:StopExecution" not in json.dumps(resources["SlackClickFunctionRole"])
