"""Where a resource lives: this account and region (the hub), or a spoke account and region reached
through the role the spoke template (`spoke.yaml`) creates.

A spoke's role trusts the hub's account only, with the organization (`aws:PrincipalOrgID`) and the
external id as conditions; the hub assumes it per account and keeps the credentials until five
minutes before they expire (a Lambda container lives for hours; a role session for one).

>>> here = Scope()                                          # the hub: the function's own account
>>> there = Scope(account="111111111111", region="us-east-1")
>>> scoped_client("ec2", there)                            # through arn:aws:iam::111111111111:role/harbormaster-spoke
"""

from __future__ import annotations

import functools
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from pydantic import ConfigDict, Field

from harbormaster.clients import RETRY_CONFIG, client
from harbormaster.config.models import ACCOUNT_ID, REGION, Environment, Spokes
from harbormaster.model import Model

REFRESH_BEFORE = timedelta(minutes=5)


class Scope(Model):
    """An account and a region (None: the function's own), and how to reach another account."""

    model_config = ConfigDict(frozen=True)

    account: str | None = Field(default=None, pattern=ACCOUNT_ID)
    region: str | None = Field(default=None, pattern=REGION)
    spokes: Spokes = Spokes()

    @property
    def is_home(self) -> bool:
        return self.account is None and self.region is None

    def qualify(self, key: str) -> str:
        """A record key unique across scopes; the hub's own keys stay as they always were."""
        return key if self.is_home else f"{self.account or '-'}/{self.region or '-'}/{key}"

    def __str__(self) -> str:
        """`account/region`, `-` for the function's own."""
        return f"{self.account or '-'}/{self.region or '-'}"


HOME = Scope()


def scoped_client(service: str, scope: Scope) -> Any:
    """The client for `service` in `scope`: the shared one at home (or in another region of this
    account), else one on the spoke's role, kept as long as its credentials."""
    if scope.account is None or scope.account == own_account():
        return client(service, scope.region)
    return _spoke(scope.account, scope.spokes).client(service, scope.region)


@functools.cache
def own_account() -> str:
    """This function's account id (one STS call per container)."""
    return str(client("sts").get_caller_identity()["Account"])


def local(scope: Scope) -> Scope:
    """The same scope with this account and this region written as None (as configured by id), and
    without spoke settings where it needs none."""
    account = None if scope.account is None or scope.account == own_account() else scope.account
    region = None if scope.region is None or scope.region == client("sts").meta.region_name else scope.region
    spokes = scope.spokes if account is not None else Spokes()
    return Scope(account=account, region=region, spokes=spokes)


def is_at(scope: Scope, account: str, region: str) -> bool:
    """Does an event from `account`/`region` (as EventBridge stamps them) come from `scope`?"""
    here, there = local(scope), local(Scope(account=account, region=region))
    return (here.account, here.region) == (there.account, there.region)


def environment_scope(environment: Environment, spokes: Spokes) -> Scope:
    """Where an environment's service and guard alarms live."""
    return Scope(account=environment.account, region=environment.region, spokes=spokes)


def registry_scope(environment: Environment, spokes: Spokes) -> Scope:
    """Where an environment's ECR repository lives."""
    return Scope(account=environment.registry.account, region=environment.registry.region, spokes=spokes)


class _SpokeSession:
    """The spoke role's credentials and the clients made with them."""

    def __init__(self, session: boto3.session.Session, expires: datetime) -> None:
        self.session, self.expires, self.clients = session, expires, dict[tuple[str, str | None], Any]()

    def fresh(self) -> bool:
        # The wall clock, not harbormaster.clock: STS stamps expiry in real time, even under the
        # local engine's virtual clock.
        return self.expires - REFRESH_BEFORE > datetime.now(UTC)

    def client(self, service: str, region: str | None) -> Any:
        if (service, region) not in self.clients:
            self.clients[(service, region)] = self.session.client(  # type: ignore[call-overload]
                service, region_name=region, config=RETRY_CONFIG
            )
        return self.clients[(service, region)]


_spokes: dict[tuple[str, Spokes], _SpokeSession] = {}
_lock = threading.Lock()


def _spoke(account: str, spokes: Spokes) -> _SpokeSession:
    """The spoke's session, its role assumed again shortly before the credentials expire."""
    with _lock:
        kept = _spokes.get((account, spokes))
        if kept is not None and kept.fresh():
            return kept
        sts = client("sts")
        answer = sts.assume_role(
            RoleArn=f"arn:{sts.meta.partition}:iam::{account}:role/{spokes.role_name}",
            RoleSessionName="harbormaster",
            ExternalId=spokes.external_id,
        )
        credentials = answer["Credentials"]
        session = boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
        _spokes[(account, spokes)] = kept = _SpokeSession(session, credentials["Expiration"])
        return kept


def forget_sessions() -> None:
    """Drop the spokes' sessions (the local engine calls this between isolated runs)."""
    with _lock:
        _spokes.clear()
    own_account.cache_clear()
