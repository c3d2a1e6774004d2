"""`harbormaster schedule check | explain`: one word (or the explanation), exit codes, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harbormaster.cli.main import main

OFFICE_YAML = """
timezone: Asia/Seoul
periods:
  - {begintime: "08:00", endtime: "20:00", weekdays: mon-fri}
holidays: ["2026-12-25"]
"""


@pytest.fixture
def office(tmp_path: Path) -> Path:
    path = tmp_path / "office.yaml"
    path.write_text(OFFICE_YAML)
    return path


@pytest.mark.parametrize(
    ("at", "word"),
    [
        ("2026-11-23T09:00:00+09:00", "running"),
        ("2026-11-23T00:00:00Z", "running"),  # 09:00 KST
        ("2026-11-23T12:00:00", "stopped"),  # no offset: UTC, 21:00 KST
        ("2026-12-25T10:00:00+09:00", "stopped"),  # holiday
    ],
)
def test_check_prints_exactly_one_word(office: Path, at: str, word: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedule", "check", str(office), "--at", at]) == 0
    assert capsys.readouterr().out == f"{word}\n"


def test_check_reads_json_with_numbers_as_integers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"timezone": "UTC", "periods": [{"endtime": "18:00", "weekdays": [0, 1, 2]}]}))
    assert main(["schedule", "check", str(path), "--at", "2026-11-23T10:00:00Z"]) == 0
    assert capsys.readouterr().out == "any\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("timezone: Asia/Seoul\nperiods: [{weekdays: funday}]\n", "weekdays: 'funday' is not a valid value"),
        ("periods: [{begintime: '25:00'}]\n", "is not a time of day"),
        ("timezone: Nowhere/City\nperiods: [{}]\n", "not an IANA time zone"),
        ("- just a list\n", "expected the fields of one schedule"),
        ("periods: [{weekdays: [mon}\n", "neither YAML nor JSON"),
        ("periods: [{colour: blue}]\n", "Extra inputs are not permitted"),
    ],
)
def test_an_invalid_schedule_exits_2_with_the_reason(
    tmp_path: Path, content: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    assert main(["schedule", "check", str(path), "--at", "2026-11-23T10:00:00Z"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and message in captured.err


def test_a_missing_file_or_a_bad_instant_exits_2(office: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedule", "check", "/nonexistent.yaml", "--at", "2026-11-23T10:00:00Z"]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["schedule", "check", str(office), "--at", "next tuesday"]) == 2
    assert "not an ISO 8601" in capsys.readouterr().err


def test_explain_names_the_period_and_the_next_change(office: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedule", "explain", str(office), "--at", "2026-11-27T19:00:00+09:00"]) == 0
    out = capsys.readouterr().out
    assert "running" in out and "period 1 (08:00-20:00 mon-fri)" in out
    assert "next change: 2026-11-27T20:00:00+09:00 → stopped" in out
