"""The parked-token store on its own: a moto table and an injected boto3 session. A token is
claimed by one caller only, and a newer park of the same release makes the older token unclaimable."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from harbormaster.state.waiting import KEPT, Waiting
from tests.conftest import create_items_table

SERVICE = "arn:aws:ecs:ap-northeast-2:123456789012:service/shop/web"
NOW = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


@pytest.fixture
def waiting() -> Iterator[Waiting]:
    with mock_aws():
        create_items_table("waiting")
        yield Waiting("waiting", boto3_session=boto3.session.Session(region_name="ap-northeast-2"))


def test_a_parked_token_is_claimed_once(waiting: Waiting) -> None:
    parked = waiting.park(SERVICE, "rel-1", "token-1", NOW, until=NOW + timedelta(hours=1))
    assert waiting.parked(SERVICE) == [parked]
    assert waiting.claim(parked) is True
    assert waiting.claim(parked) is False  # the second caller (the event's handler, or the step) sends nothing
    assert waiting.parked(SERVICE) == []


def test_parking_again_replaces_the_token_and_the_old_one_cannot_be_claimed(waiting: Waiting) -> None:
    old = waiting.park(SERVICE, "rel-1", "token-1", NOW, until=NOW + timedelta(hours=1))
    new = waiting.park(SERVICE, "rel-1", "token-2", NOW + timedelta(minutes=10), until=NOW + timedelta(hours=1))
    assert waiting.parked(SERVICE) == [new]
    assert waiting.claim(old) is False  # read before the re-park: its token is gone
    assert waiting.claim(new) is True


def test_releases_park_apart_and_the_items_expire_a_day_after_the_wait(waiting: Waiting) -> None:
    until = NOW + timedelta(hours=1)
    waiting.park(SERVICE, "rel-1", "token-1", NOW, until=until)
    waiting.park(SERVICE, "rel-2", "token-2", NOW, until=until)
    waiting.park(SERVICE + "-other", "rel-3", "token-3", NOW, until=until)
    assert sorted(p.release_id for p in waiting.parked(SERVICE)) == ["rel-1", "rel-2"]
    item = waiting.table.get_item(Key={"pk": f"WAITING#{SERVICE}", "sk": "rel-1"})["Item"]
    assert int(item["expires_at"]) == int((until + KEPT).timestamp())
