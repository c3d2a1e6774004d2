"""Read `template.yaml` the way SAM does and provision it in moto.

SAM's own translator turns the template into CloudFormation (local CodeUri/DefinitionUri swapped
for placeholder S3 objects and the inline ASL), then moto's CloudFormation creates the resources.
Types moto's CloudFormation skips are created here with moto's own intrinsic resolver
(`clean_json`), so every Ref/GetAtt/Sub is resolved the way moto resolves the rest.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import json
import logging
import re
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError
from samcli.yamlhelper import yaml_parse
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform

CODE_BUCKET = "harbormaster-local-code"
STACK_NAME = "harbormaster"


class TemplateError(Exception):
    """The template cannot be read, translated or provisioned."""


@dataclass(frozen=True)
class LocalFunction:
    """A function of the template, as the local runtime runs it."""

    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    timeout: int
    memory: int


@dataclass
class ProvisionedStack:
    template_path: Path
    cfn_template: dict[str, Any]
    physical_ids: dict[str, str] = field(default_factory=dict)
    functions: dict[str, LocalFunction] = field(default_factory=dict)
    state_machines: dict[str, str] = field(default_factory=dict)  # logical id → ARN
    outputs: dict[str, str] = field(default_factory=dict)

    def function(self, ref: str) -> LocalFunction:
        """A function by logical id, name or ARN (qualified or not)."""
        if ref in self.functions:
            return self.functions[ref]
        name = ref.split(":function:", 1)[-1].split(":", 1)[0]
        for function in self.functions.values():
            if function.name == name:
                return function
        raise KeyError(f"no function {ref!r} in the template")


def translate(template_path: Path, region: str) -> tuple[dict[str, Any], dict[str, tuple[Path, str]]]:
    """SAM → CloudFormation with local code swapped for placeholder S3 objects.

    Returns the CloudFormation template and, per function logical id, (code dir, handler).
    """
    root = template_path.parent
    try:
        sam = copy.deepcopy(_parsed(template_path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise TemplateError(f"cannot read {template_path}: {exc}") from exc
    code: dict[str, tuple[Path, str]] = {}
    for logical_id, resource in sam.get("Resources", {}).items():
        props = resource.setdefault("Properties", {})
        kind = resource.get("Type")
        if kind == "AWS::Serverless::Function":
            code[logical_id] = (root / str(props["CodeUri"]), str(props.get("Handler", "app.lambda_handler")))
            props["CodeUri"] = f"s3://{CODE_BUCKET}/{logical_id}.zip"
        elif kind == "AWS::Serverless::LayerVersion":
            props["ContentUri"] = f"s3://{CODE_BUCKET}/{logical_id}.zip"
        elif kind == "AWS::Serverless::StateMachine" and "DefinitionUri" in props:
            props["Definition"] = json.loads(_read_asl(root / str(props.pop("DefinitionUri"))))
        elif kind == "AWS::StepFunctions::StateMachine" and isinstance(props.get("DefinitionS3Location"), str):
            # A local path, which `sam package` uploads; the engine reads it in place.
            props["DefinitionString"] = _read_asl(root / str(props.pop("DefinitionS3Location")))
    # SAM's translator records usage metrics it never publishes locally, and warns about it.
    logging.getLogger("samtranslator.metrics.metrics").setLevel(logging.ERROR)
    try:
        cfn = _transformed(json.dumps(sam, sort_keys=True, default=str), region)
    except Exception as exc:  # the translator raises its own family of errors
        raise TemplateError(f"SAM could not translate {template_path}: {exc}") from exc
    return copy.deepcopy(cfn), code


# Engines started one after the other (each test) translate the same template: parse and transform
# once per content. Callers get copies.
@functools.lru_cache(maxsize=8)
def _parsed(text: str) -> dict[str, Any]:
    parsed: dict[str, Any] = yaml_parse(text)
    return parsed


@functools.lru_cache(maxsize=8)
def _transformed(sam_json: str, region: str) -> dict[str, Any]:
    iam = boto3.client("iam", region_name=region)
    translated: dict[str, Any] = transform(json.loads(sam_json), {}, ManagedPolicyLoader(iam))
    return translated


def _read_asl(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
        json.loads(text)
    except (OSError, ValueError) as exc:
        raise TemplateError(f"cannot read state machine {path}: {exc}") from exc
    return text


def provision(
    template_path: Path, region: str, parameters: dict[str, str] | None = None, stack_name: str = STACK_NAME
) -> ProvisionedStack:
    """Create the whole stack in moto (must run inside an active `mock_aws`)."""
    cfn_template, code = translate(template_path, region)
    with _quiet_about_skipped_types():
        stack = _provision(cfn_template, code, region, parameters, stack_name)
    stack.template_path = template_path
    return stack


def _provision(
    cfn_template: dict[str, Any],
    code: dict[str, tuple[Path, str]],
    region: str,
    parameters: dict[str, str] | None,
    stack_name: str,
) -> ProvisionedStack:
    from moto.cloudformation.models import cloudformation_backends
    from moto.cloudformation.parsing import clean_json

    _upload_placeholder_code(cfn_template, region)
    cloudformation = boto3.client("cloudformation", region_name=region)
    try:
        stack_id = cloudformation.create_stack(
            StackName=stack_name,
            TemplateBody=json.dumps(cfn_template),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
        )["StackId"]
    except ClientError as exc:  # on AWS: CREATE_FAILED, then the stack rolls back
        raise TemplateError(f"the stack would not deploy: {exc.response['Error']['Message']}") from exc
    account = stack_id.split(":")[4]
    moto_stack = cloudformation_backends[account][region].stacks[stack_id]
    resources = moto_stack.resource_map
    stack = ProvisionedStack(template_path=Path(), cfn_template=cfn_template)

    for summary in cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]:
        if summary.get("LogicalResourceId") and summary.get("PhysicalResourceId"):
            stack.physical_ids[summary["LogicalResourceId"]] = summary["PhysicalResourceId"]
    for logical_id, resource in cfn_template["Resources"].items():
        kind = resource["Type"]
        if "Condition" in resource and not resources.lazy_condition_map[resource["Condition"]]:
            continue  # as CloudFormation: a resource whose condition is false is not created
        if kind in _EXTRA_TYPES:
            props = clean_json(resource.get("Properties", {}), resources)
            try:
                stack.physical_ids[logical_id] = _EXTRA_TYPES[kind](props, region)
            except ClientError as exc:
                message = exc.response["Error"]["Message"]
                raise TemplateError(f"the stack would not deploy: {logical_id} ({kind}): {message}") from exc
        elif kind == "AWS::StepFunctions::StateMachine":
            stack.state_machines[logical_id] = _state_machine(resources[logical_id], resource, resources, region)
            stack.physical_ids[logical_id] = stack.state_machines[logical_id]

    _take_over_queue_mappings(region)
    _policies_as_text(account, region)
    lambda_client = boto3.client("lambda", region_name=region)
    for logical_id, (code_dir, handler) in code.items():
        name = stack.physical_ids[logical_id]
        config = lambda_client.get_function_configuration(FunctionName=name)
        stack.functions[logical_id] = LocalFunction(
            logical_id=logical_id,
            name=name,
            arn=config["FunctionArn"],
            code_dir=code_dir,
            handler=handler,
            environment=dict(config.get("Environment", {}).get("Variables", {})),
            timeout=int(config.get("Timeout", 3)),
            memory=int(config.get("MemorySize", 128)),
        )
    for output_id, output in cfn_template.get("Outputs", {}).items():
        value = str(clean_json(output["Value"], resources))
        for logical_id, physical_id in stack.physical_ids.items():  # what moto left unresolved
            value = value.replace("${" + logical_id + "}", physical_id)
        stack.outputs[output_id] = value
    return stack


class _SkippedTypeFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "No Moto CloudFormation support" not in record.getMessage()


@contextlib.contextmanager
def _quiet_about_skipped_types() -> Iterator[None]:
    """moto warns about the resource types it skips; `_EXTRA_TYPES` creates those."""
    moto_logger = logging.getLogger("moto")
    quiet = _SkippedTypeFilter()
    moto_logger.addFilter(quiet)
    warnings.filterwarnings("ignore", message=r"Tried to parse AWS::ApiGatewayV2::", category=UserWarning)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Tried to parse .* not supported")
            yield
    finally:
        moto_logger.removeFilter(quiet)


def _upload_placeholder_code(cfn_template: dict[str, Any], region: str) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README", "Harbormaster's local engine runs this code from the working tree.")
    s3: Any = boto3.client("s3", region_name=region)
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):  # a second stack in the same account
        s3.create_bucket(Bucket=CODE_BUCKET, CreateBucketConfiguration={"LocationConstraint": region})
    for logical_id in cfn_template["Resources"]:
        s3.put_object(Bucket=CODE_BUCKET, Key=f"{logical_id}.zip", Body=buffer.getvalue())


def _state_machine(moto_resource: Any, resource: dict[str, Any], resources: Any, region: str) -> str:
    """Re-create a state machine where moto's ASL interpreter runs it, with its substitutions applied.

    moto's CloudFormation stores it in the non-executing Step Functions backend and leaves
    DefinitionSubstitutions unapplied; CloudFormation would apply them, so this does.
    """
    from moto.cloudformation.parsing import clean_json

    props = resource.get("Properties", {})
    substitutions = clean_json(props.get("DefinitionSubstitutions", {}), resources)
    definition = re.sub(
        r"\$\{([A-Za-z0-9_]+)\}",
        lambda m: str(substitutions.get(m.group(1), m.group(0))),
        moto_resource.definition,
    )
    unresolved = re.findall(r"\$\{([A-Za-z0-9_]+)\}", definition)
    if unresolved:
        raise TemplateError(f"state machine {moto_resource.name}: no substitution for {sorted(set(unresolved))}")
    encryption = clean_json(props.get("EncryptionConfiguration"), resources)
    sfn: Any = boto3.client("stepfunctions", region_name=region)
    response = sfn.create_state_machine(
        name=moto_resource.name,
        definition=definition,
        roleArn=moto_resource.roleArn,
        **({"encryptionConfiguration": _encryption(encryption)} if encryption else {}),
    )
    return str(response["stateMachineArn"])


def _encryption(configuration: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's EncryptionConfiguration as the API takes it."""
    keys = {"Type": "type", "KmsKeyId": "kmsKeyId", "KmsDataKeyReusePeriodSeconds": "kmsDataKeyReusePeriodSeconds"}
    return {keys[k]: int(v) if k == "KmsDataKeyReusePeriodSeconds" else v for k, v in configuration.items()}


def _policies_as_text(account: str, region: str) -> None:
    """KMS and IAM keep policies as JSON documents (text); moto's CloudFormation keeps the
    template's objects, and DescribeKey, GetKeyPolicy and GetRolePolicy then break or answer
    Python reprs. Store what AWS stores."""
    from moto.iam.models import iam_backends
    from moto.kms.models import kms_backends

    for key in kms_backends[account][region].keys.values():
        if not isinstance(key.policy, str):
            key.policy = json.dumps(key.policy)
    for role in iam_backends[account]["global"].roles.values():
        for name, document in list(role.policies.items()):
            if not isinstance(document, str):
                role.policies[name] = json.dumps(document)


def _take_over_queue_mappings(region: str) -> None:
    """moto invokes SQS-mapped functions itself on send, all-or-nothing; the engine's poller
    does it instead, with partial batch failures (ReportBatchItemFailures) like Lambda."""
    from moto.sqs.models import sqs_backends

    for account_backends in sqs_backends.values():
        backend = account_backends.get(region)
        if backend is None:
            continue
        for queue in backend.queues.values():
            queue.lambda_event_source_mappings.clear()


def _sns_subscription(props: dict[str, Any], region: str) -> str:
    attributes: dict[str, str] = {
        key: json.dumps(props[key])
        if isinstance(props[key], dict)
        else str(props[key]).lower()
        if isinstance(props[key], bool)
        else str(props[key])
        for key in ("RawMessageDelivery", "FilterPolicy", "RedrivePolicy")
        if key in props
    }
    response = boto3.client("sns", region_name=region).subscribe(
        TopicArn=props["TopicArn"],
        Protocol=props["Protocol"],
        Endpoint=props["Endpoint"],
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )
    return str(response["SubscriptionArn"])


def _sqs_queue_policy(props: dict[str, Any], region: str) -> str:
    sqs = boto3.client("sqs", region_name=region)
    for queue_url in props["Queues"]:
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(props["PolicyDocument"])})
    return ",".join(props["Queues"])


def _scheduler_schedule(props: dict[str, Any], region: str) -> str:
    target = {k: v for k, v in props["Target"].items() if k in {"Arn", "RoleArn", "Input", "RetryPolicy"}}
    args: dict[str, Any] = {
        "Name": props.get("Name") or f"{STACK_NAME}-schedule-{abs(hash(json.dumps(target))) % 10**8}",
        "ScheduleExpression": props["ScheduleExpression"],
        "FlexibleTimeWindow": props.get("FlexibleTimeWindow", {"Mode": "OFF"}),
        "Target": target,
        "State": props.get("State", "ENABLED"),
    }
    if "ScheduleExpressionTimezone" in props:
        args["ScheduleExpressionTimezone"] = props["ScheduleExpressionTimezone"]
    return str(boto3.client("scheduler", region_name=region).create_schedule(**args)["ScheduleArn"])


def _cloudwatch_alarm(props: dict[str, Any], region: str) -> str:
    keys = {
        "AlarmName",
        "AlarmDescription",
        "ActionsEnabled",
        "AlarmActions",
        "OKActions",
        "MetricName",
        "Namespace",
        "Statistic",
        "Dimensions",
        "Period",
        "EvaluationPeriods",
        "DatapointsToAlarm",
        "Threshold",
        "ComparisonOperator",
        "TreatMissingData",
        "Metrics",
    }
    args = {k: v for k, v in props.items() if k in keys}
    args.setdefault("AlarmName", f"{STACK_NAME}-alarm-{abs(hash(json.dumps(args, default=str))) % 10**8}")
    boto3.client("cloudwatch", region_name=region).put_metric_alarm(**args)
    return str(args["AlarmName"])


def _secret(props: dict[str, Any], region: str) -> str:
    response = boto3.client("secretsmanager", region_name=region).create_secret(
        Name=props.get("Name", f"{STACK_NAME}-secret"),
        SecretString=props.get("SecretString", "{}"),
    )
    return str(response["ARN"])


def _event_bus_policy(props: dict[str, Any], region: str) -> str:
    """A statement of the default bus's resource policy (moto's CloudFormation skips the type)."""
    statement = {**props["Statement"], "Sid": props["StatementId"]}
    boto3.client("events", region_name=region).put_permission(
        EventBusName=props.get("EventBusName", "default"),
        Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    return str(props["StatementId"])


def _http_api(props: dict[str, Any], region: str) -> str:
    """The HTTP API (the Slack endpoint's). Requests never reach it locally: `LocalEngine.click`
    invokes the function with the HTTP API event instead."""
    title = (props.get("Body") or {}).get("info", {}).get("title") or f"{STACK_NAME}-http-api"
    return str(boto3.client("apigatewayv2", region_name=region).create_api(Name=title, ProtocolType="HTTP")["ApiId"])


def _http_api_stage(props: dict[str, Any], region: str) -> str:
    return str(props.get("StageName", "$default"))


_EXTRA_TYPES = {
    "AWS::ApiGatewayV2::Api": _http_api,
    "AWS::ApiGatewayV2::Stage": _http_api_stage,
    "AWS::SNS::Subscription": _sns_subscription,
    "AWS::SQS::QueuePolicy": _sqs_queue_policy,
    "AWS::Scheduler::Schedule": _scheduler_schedule,
    "AWS::CloudWatch::Alarm": _cloudwatch_alarm,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::Events::EventBusPolicy": _event_bus_policy,
}
