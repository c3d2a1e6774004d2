"""The per-webhook pace shared by concurrent forwarders through the table (no reserved concurrency).

Interleavings are driven step by step: no sleeps, no threads racing by chance."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from harbormaster.slack.pacing import MARGIN, TablePacer
from tests.conftest import create_items_table

URL = "https://hooks.slack.com/services/T0/B0/secret"


@pytest.fixture
def table() -> Iterator[Any]:
    with mock_aws():
        create_items_table()
        yield boto3.resource("dynamodb").Table("t")


def pacer(table: Any, now: list[float], slept: list[float] | None = None) -> TablePacer:
    return TablePacer(
        table=lambda: table, now=lambda: now[0], sleep=slept.append if slept is not None else (lambda seconds: None)
    )


def test_two_forwarders_never_share_a_slot(table: Any) -> None:
    now = [1000.0]
    first, second = pacer(table, now), pacer(table, now)
    slots = [first.book(URL, 1.0), second.book(URL, 1.0), first.book(URL, 1.0)]
    assert slots == pytest.approx([1000.0, 1000.0 + MARGIN, 1000.0 + 2 * MARGIN])


def test_an_idle_webhook_sends_at_once_and_the_url_is_not_stored(table: Any) -> None:
    now = [1000.0]
    slept: list[float] = []
    first = pacer(table, now, slept)
    first.wait(URL, 1.0)
    now[0] = 5000.0  # long after: the old slot is stale
    first.wait(URL, 1.0)
    assert slept == []
    assert "secret" not in str(table.scan()["Items"])


def test_the_second_forwarder_sleeps_until_its_slot(table: Any) -> None:
    now = [1000.0]
    slept: list[float] = []
    pacer(table, now).wait(URL, 2.0)
    pacer(table, now, slept).wait(URL, 2.0)
    assert slept == pytest.approx([MARGIN / 2.0])


class _PausingTable:
    """The table, but the first failed "claim now" of one pacer lets another pacer run in between."""

    def __init__(self, table: Any, between: Any) -> None:
        self._table, self._between, self._paused = table, between, False

    def update_item(self, **kwargs: Any) -> Any:
        if not self._paused and "ADD" in kwargs["UpdateExpression"]:
            self._paused = True
            self._between()  # the other forwarder books while this one is between its two writes
        return self._table.update_item(**kwargs)


def test_a_forwarder_booking_between_the_two_writes_of_another_gets_a_different_slot(table: Any) -> None:
    now = [1000.0]
    pacer(table, now).book(URL, 1.0)  # the webhook is busy: the next free slot is 1001.05
    other_slots: list[float] = []
    racing = _PausingTable(table, lambda: other_slots.append(pacer(table, now).book(URL, 1.0)))
    slot = TablePacer(table=lambda: racing, now=lambda: now[0], sleep=lambda s: None).book(URL, 1.0)
    assert sorted([slot, *other_slots]) == pytest.approx([1000.0 + MARGIN, 1000.0 + 2 * MARGIN])
