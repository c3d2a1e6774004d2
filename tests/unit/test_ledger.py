"""The release ledger on its own: a moto table and the store's injected boto3 session, no engine.
Typed records in and out, names checked, and each conditional write proven by the interleaving
that it exists for."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from pydantic import ValidationError

from harbormaster.state.ledger import Ledger, Release
from harbormaster.state.status import ReleaseStatus
from tests.conftest import create_items_table

ENV = "api-prod"


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    with mock_aws():
        create_items_table("ledger")
        yield Ledger("ledger", boto3_session=boto3.session.Session(region_name="ap-northeast-2"))


def release(release_id: str = "20261204T010000Z-aaaaaaaaaaaa", **fields: object) -> Release:
    return Release.model_validate(
        {
            "environment": ENV,
            "release_id": release_id,
            "status": ReleaseStatus.IN_PROGRESS,
            "repository": "tpt-api-prod",
            "digest": "sha256:" + "a" * 64,
            "tag": "v2",
            "image_uri": "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/tpt-api-prod@sha256:" + "a" * 64,
            "started_at": "2026-12-04T01:00:00+00:00",
            **fields,
        }
    )


def test_a_release_comes_back_typed_with_what_the_phases_added(ledger: Ledger) -> None:
    ledger.record(release())
    ledger.add_touched(ENV, release().release_id, "i-1")
    ledger.add_touched(ENV, release().release_id, "i-0")
    ledger.count_done(ENV, release().release_id)
    read = ledger.release(ENV, release().release_id)
    assert read is not None
    assert read.status is ReleaseStatus.IN_PROGRESS and not read.status.finished
    assert (read.touched, read.instances_done, read.recorded_at is not None) == (["i-0", "i-1"], 1, True)
    assert ledger.release(ENV, "no-such-release") is None


def test_an_update_names_fields_of_a_release_and_only_of_an_existing_one(ledger: Ledger) -> None:
    ledger.record(release())
    with pytest.raises(ValueError, match="not fields of a release: \\['statsu'\\]"):
        ledger.update(ENV, release().release_id, statsu=ReleaseStatus.FAILED)
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        ledger.update(ENV, "20261204T020000Z-bbbbbbbbbbbb", status=ReleaseStatus.FAILED)
    assert ledger.release(ENV, "20261204T020000Z-bbbbbbbbbbbb") is None  # no half record created
    assert ledger.release(ENV, release().release_id) == ledger.release(ENV, release().release_id)
    ledger.update(ENV, release().release_id, status=ReleaseStatus.FAILED, reason="rollout: boom")
    read = ledger.release(ENV, release().release_id)
    assert read is not None and (read.status, read.reason) == (ReleaseStatus.FAILED, "rollout: boom")


def test_a_record_with_a_status_the_code_does_not_know_fails_loudly(ledger: Ledger) -> None:
    ledger.record(release())
    boto3.resource("dynamodb").Table("ledger").update_item(
        Key={"pk": f"ENV#{ENV}", "sk": f"RELEASE#{release().release_id}"},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": "HALF_DONE"},
    )
    with pytest.raises(ValidationError, match="status"):
        ledger.release(ENV, release().release_id)


def test_succeeding_makes_the_release_current_in_the_same_write(ledger: Ledger) -> None:
    ledger.record(release())
    assert ledger.mark_succeeded(release(), finished_at="2026-12-04T01:05:00+00:00", duration_seconds=300)
    current = ledger.current(ENV)
    read = ledger.release(ENV, release().release_id)
    assert current is not None and read is not None
    assert (current.release_id, current.digest, current.tag) == (release().release_id, release().digest, "v2")
    assert (read.status, read.duration_seconds) == (ReleaseStatus.SUCCEEDED, 300)


def test_a_rollback_claim_that_lands_first_keeps_the_release_from_becoming_current(ledger: Ledger) -> None:
    """The interleaving: Finalize read the release (IN_PROGRESS), an alarm claims its rollback,
    then Finalize marks it succeeded. The claim wins; nothing changes."""
    previous = release("20261204T000000Z-cccccccccccc", digest="sha256:" + "c" * 64, tag="v1")
    ledger.record(previous)
    assert ledger.mark_succeeded(previous)
    ledger.record(release())
    seen_by_finalize = ledger.release(ENV, release().release_id)
    assert ledger.claim_rollback(ENV, release().release_id, "alarm:api-prod-5xx")
    assert seen_by_finalize is not None and not ledger.mark_succeeded(seen_by_finalize)
    current = ledger.current(ENV)
    read = ledger.release(ENV, release().release_id)
    assert current is not None and current.release_id == previous.release_id
    assert read is not None and read.status is ReleaseStatus.IN_PROGRESS


def test_a_release_is_claimed_for_rollback_once(ledger: Ledger) -> None:
    ledger.record(release())
    assert ledger.claim_rollback(ENV, release().release_id, "alarm:one")
    assert not ledger.claim_rollback(ENV, release().release_id, "manual:someone")
    assert not ledger.claim_rollback(ENV, "20261204T020000Z-bbbbbbbbbbbb", "alarm:one")  # no such release
    read = ledger.release(ENV, release().release_id)
    assert read is not None and read.rollback_claimed_by == "alarm:one"


def test_history_is_newest_first_and_quarantine_is_per_digest(ledger: Ledger) -> None:
    for hour in range(3):
        ledger.record(release(f"20261204T0{hour}0000Z-aaaaaaaaaaaa", tag=f"v{hour}"))
    assert [r.tag for r in ledger.history(ENV, limit=2)] == ["v2", "v1"]
    ledger.quarantine(ENV, release().digest, release().release_id, "alarm api-prod-5xx")
    found = ledger.quarantined(ENV, release().digest)
    assert found is not None and (found.release_id, found.reason) == (release().release_id, "alarm api-prod-5xx")
    assert ledger.quarantined(ENV, "sha256:" + "d" * 64) is None
