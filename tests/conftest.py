"""Shared fixtures: small FER2013 datasets in both real on-disk layouts, isolated run/cache dirs.
What tests import (generators, paths, tiny checkpoints) is in :mod:`tests.helpers`.

The tests are grouped by tier in folders: ``unit/`` (functions and classes in-process),
``cli/`` (the command line: ``main([...])``, ``fer-lightning`` in a subprocess), ``slow/``
(each trains for more than a few seconds) and ``real_data/`` (the real datasets under
``$FER_DATA_DIR``, skipped when absent). The folder gives the ``slow`` / ``real_data`` marker,
so ``pytest -m "not slow"`` (``make test-fast``) is the fast tiers and ``pytest tests/unit``
one tier."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fer_lightning.run.layout import INHERITED_RUN_DIR_ENV
from tests.helpers.fakedata import write_fer2013_csv, write_fer2013_folder
from tests.helpers.paths import TESTS

#: Fixtures shared by the halves of a test file split across tiers.
pytest_plugins = ["tests.helpers.zoo_fixtures"]

#: The tier folders whose name is also a marker every test in them carries.
MARKED_TIERS = ("slow", "real_data")


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test under ``tests/slow/`` is marked ``slow``, one under ``tests/real_data/``
    ``real_data`` (some real-data tests train too: they carry ``slow`` themselves)."""
    for item in items:
        parts = item.path.relative_to(TESTS).parts
        if len(parts) > 1 and parts[0] in MARKED_TIERS:
            item.add_marker(parts[0])


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs and W&B files go to a temporary directory; W&B is off unless a test turns it on.
    The decoded-data cache stays where CI points it, so the real data is decoded once."""
    monkeypatch.setenv("FER_RUNS_DIR", str(tmp_path_factory.mktemp("runs")))
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv(INHERITED_RUN_DIR_ENV, raising=False)


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("FER_CACHE_DIR", str(path))
    return path


@pytest.fixture
def fer_folder(tmp_path: Path, cache_dir: Path) -> Path:
    """Data root holding a small FER2013 in folder form (JPEG, as the real release)."""
    write_fer2013_folder(tmp_path / "data")
    return tmp_path / "data"


@pytest.fixture
def fer_csv(tmp_path: Path, cache_dir: Path) -> Path:
    """Data root holding a small FER2013 in csv form."""
    write_fer2013_csv(tmp_path / "data")
    return tmp_path / "data"


@pytest.fixture(autouse=True)
def _no_wandb_run_left_open() -> object:
    """A W&B run a test leaves open (a fit that raised before its logger finished) would be
    reused by the next test's WandbLogger, whose files then land in another run's folder: the
    suite's order, not the code, decided whether the W&B test passed. Finished after each test;
    wandb is not imported for tests that never did."""
    yield
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish()
