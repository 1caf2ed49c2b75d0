"""CKPlusDataModule on a generated CK+48: subject folds, random folds, bad inputs, ``cv``.

Here: the tests that train for more than a few seconds; the others are in
``tests/unit/test_ckplus.py``."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest

from fer_lightning.main import main
from fer_lightning.results.publish import publish
from tests.helpers.fakedata import write_ckplus

SUBJECTS, FRAMES, FOLDS = 6, 3, 3


@pytest.fixture
def ckplus(tmp_path: Path, cache_dir: Path) -> Path:
    """A data root holding ckplus/<class>/S###_###_########.png."""
    write_ckplus(tmp_path / "data", subjects=SUBJECTS, frames=FRAMES)
    return tmp_path / "data"


def _cv_config(tmp_path: Path) -> Path:
    path = tmp_path / "ck_small.yaml"
    path.write_text(
        "seed_everything: 0\n"
        "trainer: {max_epochs: 1, limit_train_batches: 2, limit_val_batches: 1,"
        " enable_progress_bar: false}\n"
        "optimizer: {class_path: torch.optim.Adam, init_args: {lr: 0.001}}\n"
        "data:\n  class_path: fer_lightning.data.CKPlusDataModule\n"
        "  init_args: {batch_size: 16, num_workers: 0, augment: none}\n"
    )
    return path


@pytest.mark.slow
def test_cv_runs_every_fold_and_reports_mean_and_std(
    ckplus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _cv_config(tmp_path)
    rc = main(["cv", "--config", str(config), "--folds", "2", f"--data.data_dir={ckplus}"])
    assert rc == 0
    (summary_path,) = (Path(os.environ["FER_RUNS_DIR"]) / "ck_small").glob("*-cv/cv.json")
    summary = json.loads(summary_path.read_text())
    accs = [f["test_acc"] for f in summary["folds"]]
    assert [f["fold"] for f in summary["folds"]] == [0, 1]
    assert summary["test_acc_mean"] == pytest.approx(np.mean(accs))
    assert summary["test_acc_std"] == pytest.approx(np.std(accs, ddof=1))
    for fold in summary["folds"]:
        assert fold["run_dir"] == f"fold{fold['fold']}", "relative: true on any machine"
        config = summary_path.parent / fold["run_dir"] / "config.yaml"
        assert "fold: " + str(fold["fold"]) in config.read_text()
    assert "over 2 folds" in capsys.readouterr().out
    published = publish(summary_path.parent, "cv2", tmp_path / "results")
    assert {p.parent.name for p in published.glob("fold*/*.png")} == {"fold0"}
    first, second = ((published / f"fold{i}" / "report.md").read_text() for i in (0, 1))
    assert "](confusion_matrix.png)" in first
    assert "](confusion_matrix.png)" not in second  # no link to a picture not published
    assert "`confusion_matrix.png`, not kept in `results/`" in second


@pytest.mark.slow
def test_cv_retest_scores_each_folds_checkpoint_again_on_validation_and_test(
    ckplus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``cv --retest``: no training, each fold's own checkpoint, and ``--data.tta ten_crop``
    reaches the validation run too (its loss is not the fit's single-image one)."""
    config = _cv_config(tmp_path)
    assert main(["cv", "--config", str(config), "--folds", "2", f"--data.data_dir={ckplus}"]) == 0
    runs = Path(os.environ["FER_RUNS_DIR"]) / "ck_small"
    (trained,) = runs.glob("*-cv")
    args = ["cv", "--config", str(config), "--retest", str(trained), "--data.tta=ten_crop"]
    assert main([*args, f"--data.data_dir={ckplus}"]) == 0
    (made,) = set(runs.glob("*-cv*")) - {trained}
    retest = json.loads((made / "cv.json").read_text())
    assert retest["retested_from"] == str(trained)
    assert retest["val_acc_mean"] == pytest.approx(np.mean([f["val_acc"] for f in retest["folds"]]))
    for fold in retest["folds"]:
        run = made / fold["run_dir"]
        assert (run / "val" / "metrics.csv").is_file()
        assert not (run / "checkpoints").exists(), "nothing trained"
        assert json.loads((run / "summary.json").read_text())["tta"] == "ten_crop"
        assert Path(fold["checkpoint"]).parent.parent == trained / fold["run_dir"]
        with (trained / fold["run_dir"] / "metrics.csv").open() as fh:  # 1 epoch: the best
            fit_loss = next(float(r["val/loss"]) for r in csv.DictReader(fh) if r["val/loss"])
        assert fold["val_loss"] != pytest.approx(fit_loss, abs=1e-4)
    assert "validation accuracy" in capsys.readouterr().out


def test_cv_retest_refuses_a_directory_of_another_experiment(
    ckplus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other-cv"
    other.mkdir()
    (other / "cv.json").write_text(json.dumps({"experiment": "someone_else", "folds": []}))
    config = _cv_config(tmp_path)
    args = ["cv", "--config", str(config), "--folds", "2", "--retest", str(other)]
    assert main([*args, f"--data.data_dir={ckplus}"]) != 0
    err = capsys.readouterr().err
    assert "its folds are of experiment 'someone_else', not 'ck_small'" in err
    assert not list((Path(os.environ["FER_RUNS_DIR"])).glob("ck_small/*")), "nothing written"


def test_cv_retest_refuses_folds_without_a_checkpoint_before_running_any(
    ckplus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A published cross-validation keeps no checkpoints: refused before fold 0 is scored."""
    published = tmp_path / "published-cv"
    for fold in (0, 1):
        (published / f"fold{fold}").mkdir(parents=True)
        (published / f"fold{fold}" / "config.yaml").write_text("seed_everything: 0\n")
    (published / "cv.json").write_text(json.dumps({"experiment": "ck_small", "folds": [{}, {}]}))
    config = _cv_config(tmp_path)
    args = ["cv", "--config", str(config), "--retest", str(published)]
    assert main([*args, f"--data.data_dir={ckplus}"]) != 0
    err = capsys.readouterr().err
    assert "fold 0 has no best checkpoint" in err and "Traceback" not in err
    assert not list((Path(os.environ["FER_RUNS_DIR"])).glob("ck_small/*")), "nothing written"
