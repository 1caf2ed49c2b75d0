"""The zoo fixtures the fast and the slow zoo tests share (tests/unit/test_zoo.py,
tests/slow/test_zoo.py): a results/ folder with one tiny published run and its weights.
Registered for every test module by ``pytest_plugins`` in tests/conftest.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fer_lightning import zoo
from fer_lightning.inference import bundled
from tests.helpers.tiny_models import fit_tiny

NAME = "baseline_fer2013/tiny-published"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results/ folder holding one published run of a tiny training, with its weights."""
    root = tmp_path_factory.mktemp("zoo")
    ckpt = fit_tiny(root, "baseline_fer2013", "--test_after_fit=true")
    folder = root / "results" / NAME
    folder.mkdir(parents=True)
    for name in ("summary.json", "config.yaml", "predictions.npz", "report.csv"):
        shutil.copyfile(root / "run" / name, folder / name)
    bundled.bundle(root / "run", ckpt, folder / zoo.WEIGHTS)
    zoo.write_records(root / "results")
    return root / "results"


@pytest.fixture
def in_zoo(results: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(zoo, "ZOO_DIR", results)
    monkeypatch.setenv("FER_CACHE_DIR", str(results.parent / "cache"))
    monkeypatch.setenv("WANDB_MODE", "disabled")
    return results
