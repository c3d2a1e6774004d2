"""A run over several accounts and regions is told once: each part records its summaries, and
exactly one part publishes the merge, whatever the order in which parts finish, retry or fail to
publish. Deterministic interleavings on a moto table (no engine, no sleeps)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from unittest import mock

import pytest
from moto import mock_aws
from pydantic import ValidationError

from harbormaster.accounts import HOME, Scope
from harbormaster.clients import reset_clients
from harbormaster.schedule.models import Part, RunInput
from harbormaster.schedule.parts import finish
from harbormaster.schedule.summary import SHOWN, ScheduleSummary, events, merge
from harbormaster.state.run_parts import RunParts
from tests.conftest import create_items_table

NOW = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)
RUN = NOW.isoformat()
SEOUL, VIRGINIA = HOME, Scope(account="111111111111", region="us-east-1")


@pytest.fixture(autouse=True)
def world() -> Iterator[None]:
    with mock_aws(), mock.patch.dict("os.environ", {"TABLE_NAME": "t"}):
        reset_clients()
        create_items_table("t")
        yield
        reset_clients()


def _summary(kind: str, *ids: str) -> ScheduleSummary:
    return ScheduleSummary(
        schedule="office-hours", desired="stopped", resources={kind: list(ids)}, counts={kind: len(ids)}, units=len(ids)
    )


class Told:
    def __init__(self) -> None:
        self.times: list[list[ScheduleSummary]] = []

    def __call__(self, merged: list[ScheduleSummary]) -> None:
        self.times.append(merged)


def test_the_last_part_to_finish_publishes_the_merge_once() -> None:
    told = Told()
    first, second = Part(run_id=RUN, scope=SEOUL, of=2), Part(run_id=RUN, scope=VIRGINIA, of=2)
    assert not finish(first, [_summary("ec2", "i-1", "i-2")], NOW, told)
    assert finish(second, [_summary("ec2", "111111111111/us-east-1/i-3"), _summary("rds", "db")], NOW, told)
    assert not finish(first, [_summary("ec2", "i-1", "i-2")], NOW, told)  # a retried invocation of a part
    [[merged]] = told.times
    assert merged.counts == {"ec2": 3, "rds": 1} and merged.units == 4
    assert sorted(merged.resources["ec2"]) == ["111111111111/us-east-1/i-3", "i-1", "i-2"]


def test_two_parts_that_count_themselves_before_either_claims_publish_once() -> None:
    parts = RunParts()
    assert parts.finish(RUN, str(SEOUL), [], of=2, now=NOW)
    assert parts.finish(RUN, str(VIRGINIA), [], of=2, now=NOW)
    assert not parts.finish(RUN, str(VIRGINIA), [], of=2, now=NOW), "a retry is not counted twice"
    assert [parts.claim(RUN), parts.claim(RUN)] == [True, False]


def test_a_publication_that_fails_is_given_back_and_made_by_the_retry() -> None:
    told = Told()
    only = Part(run_id=RUN, scope=SEOUL, of=1)

    def failing(merged: list[ScheduleSummary]) -> None:
        raise ConnectionError("SNS unreachable")

    with pytest.raises(ConnectionError):
        finish(only, [_summary("ec2", "i-1")], NOW, failing)
    assert finish(only, [_summary("ec2", "i-1")], NOW, told)  # Lambda's retry of the same part
    assert finish(only, [_summary("ec2", "i-1")], NOW, told) is False
    assert len(told.times) == 1 and told.times[0][0].counts == {"ec2": 1}


def test_a_merge_lists_at_most_shown_ids_and_counts_them_all() -> None:
    parts = [_summary("ec2", *(f"{n}/-/i-{k}" for k in range(SHOWN))) for n in ("111111111111", "222222222222")]
    [merged] = merge(parts)
    assert len(merged.resources["ec2"]) == SHOWN and merged.counts == {"ec2": 2 * SHOWN}


def test_the_summary_of_a_large_run_says_how_many_it_does_not_list() -> None:
    from harbormaster.config import parse_config
    from harbormaster.slack import render

    config = parse_config('schedules:\n  office-hours:\n    periods: [{begintime: "08:00", endtime: "20:00"}]\n')
    parts = [_summary("ec2", *(f"{n}/-/i-{k}" for k in range(SHOWN))) for n in ("111111111111", "222222222222")]
    [event] = events(merge(parts), config, NOW)
    message, _ = render(None, event.model_dump_json())
    assert message.text.endswith("office-hours: 200 resource(s)")
    assert f"{2 * SHOWN} ({SHOWN} listed): " in str(message.body())


@pytest.mark.parametrize(
    "extra", [{"action": "stop", "schedule": "office"}, {"dry_run": True}], ids=["one-shot", "dry run"]
)
def test_a_part_is_refused_with_an_action_or_a_dry_run(extra: dict[str, object]) -> None:
    """A part counts itself into its run's summary: a one-shot or a dry run would count what it did not do."""
    part = {"run_id": "r1", "scope": {"account": "111111111111"}, "of": 2}
    RunInput.model_validate({"part": part})
    with pytest.raises(ValidationError, match="a part belongs to a scheduled run"):
        RunInput.model_validate({"part": part, **extra})
