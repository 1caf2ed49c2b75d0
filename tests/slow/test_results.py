"""results/: publishing runs, the papers' tables, and that committed results agree with their
own artifacts (no number in a table that its run's files do not hold).

Here: the tests that train for more than a few seconds; the others are in
``tests/unit/test_results.py``."""

from __future__ import annotations

import pytest

from fer_lightning.main import main
from fer_lightning.results.tables import (
    load_results,
)
from tests.helpers.paths import REPO

COMMITTED = REPO / "results"


# ------------------------------------------------------------------ the committed results
COMMITTED_RUNS = sorted(p.parent for p in COMMITTED.glob("**/summary.json"))


@pytest.mark.slow
def test_committed_tables_are_current(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    assert load_results(COMMITTED) or not COMMITTED_RUNS
    stale = "results/tables.md, README.md or docs/experiments.md is stale: make tables"
    assert main(["tables", "--check"]) == 0, stale
