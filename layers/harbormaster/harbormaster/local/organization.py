"""Other accounts of the engine's world: a session in one (as its administrators hold one), and
spoke.yaml deployed there as the StackSet would, the account a member of the hub's organization.
The engine and the scheduler's bench both use it; Harbormaster reaches these accounts only
through the spoke role (accounts.py), which local/sts_rules.py grants as STS does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3

SPOKE_TEMPLATE = Path(__file__).resolve().parents[4] / "spoke.yaml"


def session_in(account: str, region: str) -> boto3.session.Session:
    """A session whose calls moto answers in `account`."""
    session = boto3.session.Session(region_name=region)

    def in_account(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = account

    session.events.register("before-sign.*.*", in_account)
    return session


def create(management: str, region: str, organization_id: str) -> None:
    """The organization `organization_id`, `management` its management account (moto draws ids at
    random; the hub stack's OrganizationId parameter must name it before it exists there)."""
    from unittest import mock

    with mock.patch("moto.organizations.utils.make_random_org_id", return_value=organization_id):
        session_in(management, region).client("organizations").create_organization(FeatureSet="ALL")


def deploy_spoke(hub: str, account: str, region: str, external_id: str, organization_id: str | None = None) -> str:
    """spoke.yaml in `account`, a member of the hub's organization (created on first use);
    `organization_id` writes another organization into its trust policy. The spoke role's ARN."""
    from moto.organizations.models import organizations_backends

    organizations = session_in(hub, region).client("organizations")
    try:
        org_id = organizations.describe_organization()["Organization"]["Id"]
    except organizations.exceptions.AWSOrganizationsNotInUseException:
        org_id = organizations.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    organizations_backends.master_accounts[account] = (hub, "aws")  # a member, as if invited
    cloudformation = session_in(account, region).client("cloudformation")
    cloudformation.create_stack(
        StackName="harbormaster-spoke",
        TemplateBody=SPOKE_TEMPLATE.read_text(),
        Parameters=[
            {"ParameterKey": "HubAccountId", "ParameterValue": hub},
            {"ParameterKey": "OrganizationId", "ParameterValue": organization_id or org_id},
            {"ParameterKey": "ExternalId", "ParameterValue": external_id},
        ],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    outputs = cloudformation.describe_stacks(StackName="harbormaster-spoke")["Stacks"][0]["Outputs"]
    return str(next(o["OutputValue"] for o in outputs if o["OutputKey"] == "SpokeRoleArn"))
