"""The run directory layout (``fer_lightning.run.layout``): names, same-second runs, lookups.

Here: the fast tests; the others are in ``tests/slow/test_run_layout.py``."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from fer_lightning.commands import sweep
from fer_lightning.errors import FERUserError
from fer_lightning.run import layout
from tests.helpers.paths import REPO

SWEEP_FILE = REPO / "experiments" / "sweeps" / "cnn_fer2013_optim.yaml"


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> str:
    """Every stamp is the same second."""
    monkeypatch.setattr(layout, "stamp", lambda: "20250101-120000")
    return "20250101-120000"


def _root() -> Path:
    return Path(os.environ["FER_RUNS_DIR"])


def test_fit_names_a_fresh_run_directory_without_creating_it(frozen: str) -> None:
    first = layout.new_run_dir("exp")
    assert first == _root() / "exp" / frozen and not first.exists()
    first.mkdir(parents=True)
    assert layout.new_run_dir("exp") == _root() / "exp" / f"{frozen}-1"
    assert layout.new_run_dir("exp", "test") == _root() / "exp" / f"{frozen}-test"


@pytest.mark.parametrize("kind", ["cv", "seeds", "ensemble"])
def test_two_groups_started_in_the_same_second_get_their_own_directory(
    frozen: str, kind: str
) -> None:
    with layout.group_dir("exp", kind) as first, layout.group_dir("exp", kind) as second:
        assert first.is_dir() and second.is_dir()
    assert (first.name, second.name) == (f"{frozen}-{kind}", f"{frozen}-{kind}-1")


def test_two_sweeps_started_in_the_same_second_get_their_own_directory(frozen: str) -> None:
    with layout.sweep_dir("grid") as first, layout.sweep_dir("grid") as second:
        pass
    assert first == _root() / "sweeps" / "grid" / frozen
    assert second == _root() / "sweeps" / "grid" / f"{frozen}-1"


def test_cv_seeds_and_sweep_ask_the_layout_for_their_directory(
    frozen: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commands make their directories through the layout: a stamp the layout gives is
    the one their directory gets (a command with a clock of its own would not follow it)."""
    made: list[Path] = []

    def stop_in(directory: Path) -> None:
        made.append(directory)
        raise FERUserError("stopped once the directory exists")

    # Each command module is imported before anything is patched: one first imported while
    # common.fit_and_test is patched would copy the patch as its "original", and keep it.
    from fer_lightning.commands import cv, seeds

    monkeypatch.setattr(cv, "fit_and_test", lambda *a: stop_in(a[3]))
    monkeypatch.setattr(seeds, "fit_and_test", lambda *a: stop_in(a[3]))
    monkeypatch.setattr(sweep, "run_sweep", lambda s, extra, out_dir, **k: stop_in(out_dir))
    from fer_lightning.main import main

    assert main(["cv", "--exp", "cnn_ckplus"]) == 2
    assert main(["seeds", "--exp", "baseline_fer2013", "--n", "2"]) == 2
    assert main(["sweep", str(SWEEP_FILE)]) == 2
    cv_run, seed_run, sweep_dir = made
    assert cv_run.parent == _root() / "cnn_ckplus" / f"{frozen}-cv"
    assert seed_run.parent == _root() / "baseline_fer2013" / f"{frozen}-seeds"
    assert sweep_dir == _root() / "sweeps" / "cnn_fer2013_optim" / frozen


def test_a_failed_group_leaves_no_empty_directory(frozen: str) -> None:
    with pytest.raises(FERUserError), layout.group_dir("new_exp", "cv") as cv_dir:
        assert cv_dir.is_dir()
        raise FERUserError("the first fold was refused")
    assert not (_root() / "new_exp").exists()
    with pytest.raises(RuntimeError), layout.group_dir("new_exp", "cv") as cv_dir:
        layout.fold_dir(cv_dir, 0).mkdir()
        raise RuntimeError("the second fold crashed")
    assert layout.fold_dir(cv_dir, 0).is_dir()  # a fold that ran is kept


def test_group_dir_under_an_unwritable_runs_root_is_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("FER_RUNS_DIR", str(tmp_path / "file"))
    with (
        pytest.raises(FERUserError, match="is a file, not a folder"),
        layout.group_dir("exp", "cv"),
    ):
        pass


def test_latest_run_is_the_newest_with_a_last_checkpoint() -> None:
    base = _root() / "exp"
    for name in ("20250101-120000", "20250101-120000-1", "20250102-090000-test"):
        (base / name).mkdir(parents=True)
    assert layout.latest_run("exp") is None
    for name in ("20250101-120000", "20250101-120000-1"):
        layout.last_checkpoint(base / name).parent.mkdir()
        layout.last_checkpoint(base / name).write_bytes(b"")
    assert layout.latest_run("exp") == base / "20250101-120000-1"


def test_checkpoints_lead_back_to_their_run(tmp_path: Path) -> None:
    run = tmp_path / "exp" / "20250101-120000"
    ckpt = layout.last_checkpoint(run)
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"")
    assert layout.run_of_checkpoint(ckpt) == run
    assert layout.run_of_checkpoint(tmp_path / "x.ckpt") is None
    assert layout.config_of_checkpoint(ckpt) is None
    layout.config_of(run).write_text("")
    assert layout.config_of_checkpoint(ckpt) == run / "config.yaml"
    assert layout.experiment_of(run) == "exp"
    with pytest.raises(FERUserError, match="no best"):
        layout.best_checkpoint(run)
    older, newer = (
        run.joinpath("checkpoints", "best-epoch001.ckpt"),
        run / "checkpoints/best-epoch004.ckpt",
    )
    older.write_bytes(b"")
    time.sleep(0.01)
    newer.write_bytes(b"")
    assert layout.best_checkpoint(run) == newer


def test_a_folder_without_config_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(FERUserError, match="is not a run directory: it has no config.yaml"):
        layout.run_config(tmp_path)
