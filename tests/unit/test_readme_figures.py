"""The README's measured figures are the benches' own: the block `make bench-all` wrote from
bench/results.json, unchanged since."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import figures  # noqa: E402


def test_the_readme_figures_are_those_in_bench_results() -> None:
    assert figures.readme_block(figures.README.read_text()) == figures.render(figures.load())


def test_the_figures_were_measured_at_a_commit() -> None:
    results = figures.load()
    assert results["commit"] and "+uncommitted" not in results["commit"]
