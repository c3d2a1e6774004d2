"""What STS does and moto does not: AssumeRole checks the role's trust policy.

moto hands out credentials for any role ARN, existing or not, so a hub that assumed a spoke role
nobody created, or with the wrong external id, worked in tests and failed on AWS. Here AssumeRole
answers AccessDenied unless the role exists in its account and a trust statement allows the
caller: `Allow` of `sts:AssumeRole` to the caller's account (`arn:…:iam::<id>:root` or the bare
id), with every condition met. The conditions understood are those the spoke template uses,
`StringEquals` on `sts:ExternalId`, `aws:PrincipalOrgID` and `aws:PrincipalAccount`; any other
condition denies (fail closed), so a policy the engine cannot judge never passes.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

from harbormaster.local.policies import listed, names_account, statements

CONDITION_KEYS = {"sts:externalid", "aws:principalorgid", "aws:principalaccount"}


def patches() -> list[Any]:
    from moto.sts.models import STSBackend

    original = STSBackend.assume_role

    def assume_role(self: Any, **kwargs: Any) -> Any:
        _check(self.account_id, str(kwargs["role_arn"]), kwargs.get("external_id"))
        return original(self, **kwargs)

    return [mock.patch.object(STSBackend, "assume_role", assume_role)]


def _check(caller: str, role_arn: str, external_id: str | None) -> None:
    from moto.iam.models import iam_backends
    from moto.sts.exceptions import STSClientError

    denied = STSClientError(
        "AccessDenied",
        f"User: arn:aws:sts::{caller}:assumed-role/harbormaster is not authorized to perform: "
        f"sts:AssumeRole on resource: {role_arn}",
    )
    parts = role_arn.split(":")
    if len(parts) != 6 or not parts[5].startswith("role/"):
        raise denied
    partition, account, name = parts[1], parts[4], parts[5].rsplit("/", 1)[-1]
    role = next((r for r in iam_backends[account][partition].roles.values() if r.name == name), None)
    if role is None:
        raise denied
    facts = {"sts:externalid": external_id, "aws:principalaccount": caller, "aws:principalorgid": org_of(caller)}
    if not any(_allows(statement, caller, facts) for statement in statements(role.assume_role_policy_document)):
        raise denied


def _allows(statement: dict[str, Any], caller: str, facts: dict[str, str | None]) -> bool:
    if statement.get("Effect") != "Allow" or "sts:AssumeRole" not in listed(statement, "Action"):
        return False
    if not names_account(statement, caller):
        return False
    for operator, conditions in (statement.get("Condition") or {}).items():
        for key, wanted in conditions.items():
            values = [wanted] if isinstance(wanted, str) else wanted
            if operator != "StringEquals" or key.lower() not in CONDITION_KEYS:
                return False  # fail closed: a condition the engine cannot judge
            if facts[key.lower()] not in values:
                return False
    return True


def org_of(account: str) -> str | None:
    from moto.organizations.models import organizations_backends

    master, partition = organizations_backends.master_accounts.get(account, (account, "aws"))
    org = organizations_backends[master][partition].org
    return str(org.id) if org is not None else None
