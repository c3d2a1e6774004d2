"""Spoke accounts are reached through their role, assumed once and again only shortly before its
credentials expire; the hub's own account and region need no role at all."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto import mock_aws

from harbormaster import accounts
from harbormaster.accounts import HOME, Scope, local, scoped_client
from harbormaster.clients import client, reset_clients
from harbormaster.config.models import Spokes
from harbormaster.local import organization, sts_rules
from harbormaster.local.patching import installed

HUB, SPOKE, REGION = "123456789012", "111111111111", "ap-northeast-2"
SPOKES = Spokes(external_id="hm-test")


@pytest.fixture(autouse=True)
def world() -> Iterator[None]:
    with mock_aws(), installed(sts_rules.patches()):
        reset_clients()
        accounts.forget_sessions()
        organization.deploy_spoke(HUB, SPOKE, REGION, SPOKES.external_id)
        yield
        accounts.forget_sessions()
        reset_clients()


@pytest.fixture
def assumed() -> Iterator[list[str]]:
    calls: list[str] = []

    def count(model: Any, **_: Any) -> None:
        if model.name == "AssumeRole":
            calls.append(model.name)

    client("sts").meta.events.register("before-call.sts.*", count)
    yield calls
    client("sts").meta.events.unregister("before-call.sts.*", count)


def test_the_spoke_role_is_assumed_once_and_again_just_before_it_expires(assumed: list[str]) -> None:
    there = Scope(account=SPOKE, spokes=SPOKES)
    scoped_client("ec2", there).describe_instances()
    scoped_client("ec2", there).describe_instances()
    scoped_client("rds", there).describe_db_instances()
    assert len(assumed) == 1
    [kept] = accounts._spokes.values()
    kept.expires = datetime.now(UTC) + timedelta(minutes=4)  # inside the 5 minutes before expiry
    scoped_client("ec2", there).describe_instances()
    assert len(assumed) == 2


def test_the_hubs_own_account_and_region_use_the_shared_clients(assumed: list[str]) -> None:
    assert scoped_client("ec2", HOME) is client("ec2")
    assert scoped_client("ec2", Scope(account=HUB, region="us-east-1")) is client("ec2", "us-east-1")
    assert local(Scope(account=HUB, region=REGION, spokes=SPOKES)) == HOME
    assert not assumed


def test_a_wrong_external_id_is_refused_by_sts() -> None:
    with pytest.raises(Exception, match="AccessDenied"):
        scoped_client("ec2", Scope(account=SPOKE, spokes=Spokes(external_id="guessed"))).describe_instances()


def test_an_event_is_placed_by_its_account_and_region_however_the_scope_was_written() -> None:
    """An event names its account and region; the hub's may be configured by id or left out."""
    assert accounts.is_at(HOME, HUB, REGION)
    assert accounts.is_at(Scope(account=HUB, region=REGION), HUB, REGION)
    assert not accounts.is_at(HOME, SPOKE, REGION)  # the same alarm name in a spoke is another alarm
    assert not accounts.is_at(HOME, HUB, "us-east-1")
    assert accounts.is_at(Scope(account=SPOKE, spokes=SPOKES), SPOKE, REGION)
    assert not accounts.is_at(Scope(account=SPOKE, spokes=SPOKES), SPOKE, "us-east-1")
    assert accounts.is_at(Scope(account=SPOKE, region="us-east-1"), SPOKE, "us-east-1")
