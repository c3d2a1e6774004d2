"""SSM as strict as AWS in the engine: the deploy document's content, SendCommand's parameters
against their allowedPattern, and instances that are not running."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from harbormaster.local import LocalEngine
from harbormaster.local.stack import TemplateError
from tests.e2e.deploy_world import fence_parameters

pytestmark = pytest.mark.e2e
DIGEST = "sha256:" + "a" * 64


def _document(engine: LocalEngine) -> str:
    return engine.stack.outputs["DeployDocumentName"]


def _send(engine: LocalEngine, instance: str, **parameters: str) -> None:
    values = {
        "ImageUri": f"123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/api@{DIGEST}",
        **fence_parameters(engine.stack.outputs["TableName"], "api-dev"),
        **parameters,
    }
    boto3.client("ssm").send_command(
        DocumentName=_document(engine), InstanceIds=[instance], Parameters={k: [v] for k, v in values.items()}
    )


def test_a_run_command_line_that_yaml_reads_as_a_map_is_refused(project_copy: Path) -> None:
    """`- echo healthy: yes` is a YAML map, not a line: SSM refuses the document (and so the stack)."""
    template = project_copy / "template.yaml"
    block = "              runCommand:\n                - |\n"
    template.write_text(
        template.read_text().replace(block, block.replace("- |", "- echo healthy: yes\n                - |"), 1)
    )
    with pytest.raises(TemplateError, match=r"runCommand\[0\] is a \w+, not a string"):
        LocalEngine(template=template, config=project_copy / "harbormaster.yaml").start()


def test_a_default_that_breaks_its_own_pattern_is_refused(project_copy: Path) -> None:
    template = project_copy / "template.yaml"
    template.write_text(
        template.read_text().replace(
            'default: "600", allowedPattern: "^[0-9]{2,5}$"', 'default: "6", allowedPattern: "^[0-9]{2,5}$"'
        )
    )
    with pytest.raises(TemplateError, match="ExecutionTimeout: default '6' does not match"):
        LocalEngine(template=template, config=project_copy / "harbormaster.yaml").start()


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("HealthPath", "/health?full=1"),
        ("EnvParametersPath", "/"),
        ("LogGroup", "/app#prod"),
        ("ContainerPort", "80; reboot"),
        ("Unknown", "x"),
    ],
)
def test_send_command_checks_every_parameter_against_the_document(
    engine: LocalEngine, parameter: str, value: str
) -> None:
    [instance] = engine.fleet.launch(1, "v1", tags={"harbormaster:environment": "api-dev"})
    with pytest.raises(ClientError, match="InvalidParameters"):
        _send(engine, instance, **{parameter: value})
    assert engine.fleet.images[instance] == "v1"


def test_send_command_to_an_instance_that_is_not_running_is_invalid(engine: LocalEngine) -> None:
    [instance] = engine.fleet.launch(1, "v1", tags={"harbormaster:environment": "api-dev"})
    boto3.client("ec2").stop_instances(InstanceIds=[instance])
    with pytest.raises(ClientError, match="InvalidInstanceId"):
        _send(engine, instance)


def test_list_commands_filters_and_validates_its_filters_as_ssm_does(engine: LocalEngine) -> None:
    ssm = boto3.client("ssm")
    [instance] = engine.fleet.launch(1, "v1", tags={"harbormaster:environment": "api-dev"})
    engine.fleet.hold_delivery(instance)
    _send(engine, instance)
    by_document = {"key": "DocumentName", "value": _document(engine)}
    [pending] = ssm.list_commands(Filters=[by_document, {"key": "Status", "value": "Pending"}])["Commands"]
    assert ssm.list_commands(Filters=[by_document, {"key": "Status", "value": "Success"}])["Commands"] == []
    for bad, message in [
        ({"key": "Status", "value": "Done"}, "Invalid filter value"),
        ({"key": "Tag", "value": "x"}, "Invalid filter key"),
    ]:
        with pytest.raises(ClientError, match=message):
            ssm.list_commands(Filters=[bad])
    assert pending["Status"] == "Pending" and engine.fleet.images[instance] == "v1"


def test_a_cancelled_command_never_runs_and_an_unknown_one_is_invalid(engine: LocalEngine) -> None:
    ssm = boto3.client("ssm")
    [instance] = engine.fleet.launch(1, "v1", tags={"harbormaster:environment": "api-dev"})
    engine.fleet.hold_delivery(instance)
    _send(engine, instance)
    [command] = ssm.list_commands()["Commands"]
    ssm.cancel_command(CommandId=command["CommandId"])
    engine.fleet.deliver(instance)
    invocation = ssm.get_command_invocation(CommandId=command["CommandId"], InstanceId=instance)
    assert invocation["Status"] == "Cancelled" and engine.fleet.images[instance] == "v1"
    ssm.cancel_command(CommandId=command["CommandId"])  # again: accepted, nothing changes
    with pytest.raises(ClientError, match="InvalidCommandId"):
        ssm.cancel_command(CommandId="0" * 8 + "-0000-0000-0000-" + "0" * 12)

    _send(engine, instance)  # delivered now: it runs at once, and cancelling it changes nothing
    [ran] = [c for c in ssm.list_commands()["Commands"] if c["CommandId"] != command["CommandId"]]
    ssm.cancel_command(CommandId=ran["CommandId"])
    assert ssm.get_command_invocation(CommandId=ran["CommandId"], InstanceId=instance)["Status"] == "Success"
    assert engine.fleet.images[instance].endswith(DIGEST)
