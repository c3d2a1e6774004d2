"""What SSM checks and moto does not: a Command document's content when it is created, and a
SendCommand's parameters and instances when it is sent.

- CreateDocument (and CloudFormation's AWS::SSM::Document): schemaVersion 2.2, `mainSteps` with
  an action and a name, every `runCommand` entry a string (a YAML line like `- echo a: b` loads as
  a map and AWS refuses the document), parameter types SSM knows, defaults that match their
  `allowedPattern`, and no `{{ Name }}` that is not a declared parameter.
- SendCommand: at most 50 InstanceIds, every parameter declared, every value matching its `allowedPattern`, parameters
  without a default given, and every instance running with its SSM agent registered (else
  `InvalidInstanceId`, as AWS answers for a stopping, stopped or terminated instance, or one
  whose agent is not running).
"""

from __future__ import annotations

import json
import re
from typing import Any
from unittest import mock

import yaml
from moto.core.exceptions import JsonRESTError

from harbormaster.local import change_calendars

SEND_COMMAND_INSTANCE_LIMIT = 50
PARAMETER_TYPES = {"String", "StringList", "Boolean", "Integer", "MapList", "StringMap"}
_REFERENCE = re.compile(r"\{\{\s*([A-Za-z0-9_.:-]+)\s*\}\}")


class _SsmError(JsonRESTError):  # type: ignore[misc]
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)


def document_problems(content: Any) -> list[str]:
    """Why SSM would refuse this Command document ([] when it would accept it)."""
    if isinstance(content, str):
        try:
            content = json.loads(content)
        except ValueError:
            content = yaml.load(content, Loader=yaml.CSafeLoader)
    if not isinstance(content, dict):
        return ["the content is not a JSON or YAML object"]
    problems: list[str] = []
    if str(content.get("schemaVersion")) != "2.2":
        problems.append(f"schemaVersion must be '2.2' for a Command document, not {content.get('schemaVersion')!r}")
    parameters = content.get("parameters") or {}
    for name, spec in parameters.items():
        problems.extend(_parameter_problems(name, spec))
    steps = content.get("mainSteps")
    if not isinstance(steps, list) or not steps:
        return [*problems, "mainSteps must be a non-empty list"]
    for index, step in enumerate(steps):
        where = f"mainSteps[{index}]"
        if not isinstance(step, dict) or not step.get("action") or not step.get("name"):
            problems.append(f"{where} needs an action and a name")
            continue
        commands = (step.get("inputs") or {}).get("runCommand")
        if step["action"] in {"aws:runShellScript", "aws:runPowerShellScript"}:
            if not isinstance(commands, list) or not commands:
                problems.append(f"{where}.inputs.runCommand must be a non-empty list of strings")
            else:
                problems.extend(
                    f"{where}.inputs.runCommand[{n}] is a {type(line).__name__}, not a string: {line!r}"[:300]
                    for n, line in enumerate(commands)
                    if not isinstance(line, str)
                )
    undeclared = sorted(set(_REFERENCE.findall(json.dumps(steps))) - set(parameters))
    problems.extend(f"{{{{ {name} }}}} is not a declared parameter" for name in undeclared if ":" not in name)
    return problems


def _parameter_problems(name: str, spec: Any) -> list[str]:
    if not isinstance(spec, dict) or spec.get("type") not in PARAMETER_TYPES:
        return [f"parameter {name}: type must be one of {sorted(PARAMETER_TYPES)}"]
    pattern = spec.get("allowedPattern")
    if pattern is None:
        return []
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        return [f"parameter {name}: allowedPattern {pattern!r} is not a regular expression ({exc})"]
    if "default" in spec and not _matches(compiled, spec["default"]):
        return [f"parameter {name}: default {spec['default']!r} does not match allowedPattern {pattern!r}"]
    return []


def _matches(pattern: re.Pattern[str], value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    return all(pattern.fullmatch(str(item)) is not None for item in values)


# AWS-owned documents moto does not have: their parameters, as AWS declares them.
AWS_DOCUMENTS: dict[str, dict[str, Any]] = {
    "AWS-RunShellScript": {
        "commands": {"type": "StringList"},
        "workingDirectory": {"type": "String", "default": ""},
        "executionTimeout": {
            "type": "String",
            "default": "3600",
            "allowedPattern": "([1-9][0-9]{0,4})|(1[0-6][0-9]{4})|(17[0-1][0-9]{3})|(172[0-7][0-9]{2})|(172800)",
        },
    }
}


def send_command_problem(declared: dict[str, Any], parameters: dict[str, list[str]] | None) -> str | None:
    """Why SSM would refuse these parameters for a document that declares `declared`, or None."""
    given = parameters or {}
    for name in given:
        if name not in declared:
            return f"parameter {name!r} is not declared by the document"
    for name, spec in declared.items():
        if name not in given:
            if "default" not in spec:
                return f"parameter {name!r} is required and has no default"
            continue
        pattern = spec.get("allowedPattern")
        if pattern and not _matches(re.compile(pattern), given[name]):
            return f"parameter {name!r}: {given[name]!r} does not match allowedPattern {pattern!r}"
    return None


def check_send_command(
    backend: Any,
    document_name: str | None,
    instance_ids: list[str],
    parameters: Any,
    without_agent: list[str] | None = None,
) -> None:
    """Raise what SSM's SendCommand raises for these arguments (`without_agent`: instances whose SSM
    agent is not registered, which AWS refuses like a stopped instance)."""
    from moto.ec2.models import ec2_backends

    if len(instance_ids) > SEND_COMMAND_INSTANCE_LIMIT:
        raise _SsmError(
            "ValidationException",
            f"1 validation error detected: Value at 'instanceIds' failed to satisfy constraint: "
            f"Member must have length less than or equal to {SEND_COMMAND_INSTANCE_LIMIT}",
        )
    if document_name:
        document = backend._documents.get(document_name)
        declared = AWS_DOCUMENTS.get(document_name)
        if document is not None:
            declared = (document.get_default_version().content_json or {}).get("parameters") or {}
        if declared is not None and (problem := send_command_problem(declared, parameters)):
            raise _SsmError("InvalidParameters", problem)
    ec2 = ec2_backends[backend.account_id][backend.region_name]
    states = {i.id: i.state for r in ec2.reservations.values() for i in r.instances}
    not_running = [i for i in instance_ids if states.get(i) != "running" or i in (without_agent or [])]
    if not_running:
        raise _SsmError("InvalidInstanceId", f"Instances {not_running} not in a valid state for account")


def patches() -> list[Any]:
    """CreateDocument refuses what SSM refuses; Change Calendars (local/change_calendars.py)."""
    from moto.ssm.exceptions import InvalidDocumentContent
    from moto.ssm.models import SimpleSystemManagerBackend

    original = SimpleSystemManagerBackend.create_document

    def create_document(backend: Any, content: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("document_type") == "ChangeCalendar":
            return change_calendars.create(original, backend, content, args, kwargs)
        if problems := document_problems(content):
            raise InvalidDocumentContent("; ".join(problems))
        return original(backend, content, *args, **kwargs)

    return [
        mock.patch.object(SimpleSystemManagerBackend, "create_document", create_document),
        *change_calendars.patches(),
    ]
