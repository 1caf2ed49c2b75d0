"""Shared fixtures: small FER2013 datasets in both real on-disk layouts, isolated run/cache dirs.
What tests import (generators, paths, tiny checkpoints) is in :mod:`tests.helpers`."""

from __future__ import annotations

from pathlib import Path

import pytest

from fer_lightning.run.layout import INHERITED_RUN_DIR_ENV
from tests.helpers.fakedata import write_fer2013_csv, write_fer2013_folder


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
