"""Confidence intervals, calibration, McNemar's test and the test-set fingerprint (issue 14).

Here: the tests that train for more than a few seconds; the others are in
``tests/unit/test_stats.py``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fer_lightning.evaluation.predictions import Predictions
from tests.helpers.commands import TINY_EPOCH


@pytest.mark.slow
def test_seeds_trains_each_seed_in_its_own_run_and_reports_mean_and_std(
    fer_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    from fer_lightning.main import main

    small = [
        f"--data.data_dir={fer_folder}",
        *TINY_EPOCH,
        "--wandb_mode=disabled",
    ]
    assert (
        main(["seeds", "--exp", "baseline_fer2013", "--n", "2", "--first-seed", "3", *small]) == 0
    )
    (path,) = (Path(os.environ["FER_RUNS_DIR"]) / "baseline_fer2013").glob("*-seeds/seeds.json")
    summary = json.loads(path.read_text())
    assert [s["seed"] for s in summary["seeds"]] == [3, 4]
    accs = [s["test_acc"] for s in summary["seeds"]]
    assert summary["test_acc_mean"] == pytest.approx(np.mean(accs))
    assert summary["test_acc_std"] == pytest.approx(np.std(accs, ddof=1))
    f1s = [s["test_f1_macro"] for s in summary["seeds"]]
    assert summary["test_f1_macro_std"] == pytest.approx(np.std(f1s, ddof=1))
    assert [s["run_dir"] for s in summary["seeds"]] == ["seed3", "seed4"], "relative to seeds/"
    runs = [path.parent / s["run_dir"] for s in summary["seeds"]]
    assert [json.loads((r / "summary.json").read_text())["seed"] for r in runs] == [3, 4]
    probs = [Predictions.load(r).probs for r in runs]
    assert not np.allclose(probs[0], probs[1])  # the seed changed the training
    assert "over 2 seeds" in capsys.readouterr().out

    capsys.readouterr()
    assert main(["seeds", "--exp", "baseline_fer2013", "--n", "1"]) == 2
    assert "--n must be at least 2" in capsys.readouterr().err
