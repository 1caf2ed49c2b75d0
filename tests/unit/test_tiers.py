"""The test tiers: the files ``make test`` runs alone exist, and the Makefile runs them apart."""

from __future__ import annotations

from tests.conftest import SERIAL_FILES
from tests.helpers.paths import REPO, TESTS


def test_every_serial_file_exists_so_a_rename_cannot_drop_it_into_the_parallel_run() -> None:
    missing = [name for name in SERIAL_FILES if not (TESTS / name).is_file()]
    assert missing == []


def test_make_test_runs_the_serial_tests_apart_from_the_parallel_run() -> None:
    recipe = REPO.joinpath("Makefile").read_text().split("\ntest: install\n", 1)[1]
    recipe = recipe.split("\n\n", 1)[0]
    assert '-m "not serial" -n' in recipe
    assert "-m serial $(PYTEST_ARGS)" in recipe and "-n" not in recipe.split("-m serial")[1]
