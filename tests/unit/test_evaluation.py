"""The evaluation package on hand-made predictions: every number against plain numpy."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from fer_lightning.data.tta import TenCropDataset, ten_crops
from fer_lightning.errors import FERUserError
from fer_lightning.evaluation import Predictions, classification_report
from fer_lightning.evaluation.compare import comparison_markdown, find_runs, load_rows
from fer_lightning.evaluation.history import (
    epochs_trained,
    images_per_second,
    read_epoch_metrics,
    training_seconds,
)
from fer_lightning.evaluation.summary import git_commit
from fer_lightning.evaluation.writer import REPORT_FILES, write_report

NAMES = ["a", "b", "c", "d", "e"]


def random_predictions(n: int = 200, seed: int = 0) -> Predictions:
    """Noisy but informative probabilities; class ``e`` is never predicted."""
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, 5, n)
    logits = rng.normal(size=(n, 5)) + 1.5 * np.eye(5)[targets]
    logits[:, 4] -= 10
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return Predictions(probs, targets, NAMES)


def numpy_report(probs: np.ndarray, targets: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1, support and one-vs-rest AUC from first principles."""
    k = probs.shape[1]
    pred = probs.argmax(1)
    tp = np.array([np.sum((pred == c) & (targets == c)) for c in range(k)], float)
    fp = np.array([np.sum((pred == c) & (targets != c)) for c in range(k)], float)
    fn = np.array([np.sum((pred != c) & (targets == c)) for c in range(k)], float)
    nan = np.full(k, np.nan)  # 0/0 is undefined
    precision = np.divide(tp, tp + fp, out=nan.copy(), where=tp + fp > 0)
    recall = np.divide(tp, tp + fn, out=nan.copy(), where=tp + fn > 0)
    f1 = np.divide(2 * tp, 2 * tp + fp + fn, out=nan.copy(), where=2 * tp + fp + fn > 0)
    auc = []
    for c in range(k):  # Mann-Whitney: P(score of a positive > score of a negative)
        pos, neg = probs[targets == c, c], probs[targets != c, c]
        greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
        auc.append(greater / (len(pos) * len(neg)) if len(pos) and len(neg) else np.nan)
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "support": tp + fn,
        "auc": np.array(auc),
        "accuracy": np.mean(pred == targets),
    }


def test_report_numbers_match_numpy() -> None:
    preds = random_predictions()
    report = classification_report(preds)
    expected = numpy_report(preds.probs.astype(np.float64), preds.targets)
    for key in ("precision", "recall", "f1", "support", "auc"):
        np.testing.assert_allclose(getattr(report, key), expected[key], atol=1e-5, err_msg=key)
    assert np.isnan(report.precision[4]) and report.recall[4] == 0  # never predicted
    assert report.f1[4] == 0  # 2TP / (2TP + FP + FN) = 0 / FN: defined
    assert report.accuracy == pytest.approx(expected["accuracy"], abs=1e-6)
    assert report.macro["f1"] == pytest.approx(expected["f1"].mean(), abs=1e-5)
    weights = expected["support"] / expected["support"].sum()
    assert report.weighted["recall"] == pytest.approx(expected["accuracy"], abs=1e-5)
    assert report.weighted["f1"] == pytest.approx((expected["f1"] * weights).sum(), abs=1e-5)
    assert report.confusion.sum() == len(preds) == report.total
    np.testing.assert_array_equal(report.confusion.sum(1), expected["support"])
    np.testing.assert_allclose(report.confusion_normalized.sum(1), 1.0)


def test_absent_class_has_no_auc() -> None:
    preds = random_predictions()
    keep = preds.targets != 2
    report = classification_report(Predictions(preds.probs[keep], preds.targets[keep], NAMES))
    assert report.support[2] == 0 and np.isnan(report.auc[2])
    assert np.isfinite(report.macro["auc"])
    assert np.all(report.confusion_normalized[2] == 0)


def test_undefined_numbers_are_na_not_zero(tmp_path: Path) -> None:
    """A class absent from the test set has no recall or ROC AUC, a class never predicted no
    precision: n/a in report.md and report.csv, null in summary.json, never 0; the macro
    averages are over the classes present."""
    preds = random_predictions()  # class e is never predicted
    keep = preds.targets != 2  # class c is absent
    probs, targets = preds.probs[keep], preds.targets[keep]
    report, summary, _ = write_report(tmp_path, Predictions(probs, targets, NAMES), {})
    expected = numpy_report(probs.astype(np.float64), targets)
    for key in ("precision", "recall", "f1", "auc"):
        np.testing.assert_allclose(getattr(report, key), expected[key], atol=1e-5, err_msg=key)
    assert np.isnan(report.recall[2]) and np.isnan(report.auc[2]) and np.isnan(report.precision[4])
    present = expected["support"] > 0
    fixed = {"precision": np.nan_to_num(expected["precision"])}  # never predicted: 0 in macro
    for key in ("precision", "recall", "f1"):
        values = fixed.get(key, expected[key])
        assert report.macro[key] == pytest.approx(values[present].mean(), abs=1e-5), key
    assert report.macro["auc"] == pytest.approx(np.nanmean(expected["auc"]), abs=1e-5)
    with (tmp_path / "report.csv").open() as fh:
        rows = {r["class"]: r for r in csv.DictReader(fh)}
    assert rows["c"]["recall"] == rows["c"]["auc"] == rows["e"]["precision"] == "n/a"
    assert float(rows["e"]["auc"]) > 0 and rows["accuracy"]["precision"] == ""
    md = (tmp_path / "report.md").read_text()
    assert "| c | 0.0000 | n/a | 0.0000 | 0 | n/a |" in md
    assert "Absent from the test set: c" in md and "over the 4 classes present" in md
    assert json.loads((tmp_path / "summary.json").read_text())["classes_absent"] == ["c"]


def test_macro_auc_of_one_class_test_set_is_null(tmp_path: Path) -> None:
    preds = random_predictions()
    keep = preds.targets == 1  # no negatives for b, no positives for the rest: no AUC at all
    write_report(tmp_path, Predictions(preds.probs[keep], preds.targets[keep], NAMES), {})
    text = (tmp_path / "summary.json").read_text()
    assert json.loads(text)["macro_auc"] is None and "NaN" not in text


def test_write_report_files(tmp_path: Path) -> None:
    preds = random_predictions()
    facts = {"experiment": "exp", "dataset": "Toy", "split": "official", "parameters": 1234}
    report, summary, _ = write_report(tmp_path, preds, facts)
    for name in REPORT_FILES:
        assert (tmp_path / name).stat().st_size > 0, name
    with (tmp_path / "report.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["class"] for r in rows] == [*NAMES, "accuracy", "macro avg", "weighted avg"]
    expected = numpy_report(preds.probs.astype(np.float64), preds.targets)
    for i, row in enumerate(rows[:5]):
        assert float(row["f1"]) == pytest.approx(expected["f1"][i], abs=1e-5)
        assert int(row["support"]) == expected["support"][i]
    assert float(rows[5]["f1"]) == pytest.approx(expected["accuracy"], abs=1e-6)
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["test_accuracy"] == pytest.approx(report.accuracy)
    assert saved["parameters"] == 1234 and saved["epochs"] is None and saved["tta"] == "none"
    md = (tmp_path / "report.md").read_text()
    assert "# exp: test report" in md and "test-time augmentation: none" in md
    reloaded = Predictions.load(tmp_path)
    np.testing.assert_array_equal(reloaded.targets, preds.targets)
    assert reloaded.class_names == NAMES and summary["macro_f1"] == report.macro["f1"]


def test_missing_predictions_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(FERUserError, match="predictions.npz"):
        Predictions.load(tmp_path)


def test_history_takes_the_latest_value_of_a_repeated_epoch(tmp_path: Path) -> None:
    (tmp_path / "metrics.csv").write_text(
        "epoch,step,train/loss_epoch,train/epoch_time_s,train/images_per_sec,val/acc\n"
        "0,9,1.5,10.0,100,\n"
        "0,9,,,,0.3\n"
        "1,19,1.2,12.0,120,0.4\n"
        "1,19,1.1,11.0,110,0.45\n"  # the same epoch again after a resume
        ",20,,,,\n"
    )
    history = read_epoch_metrics(tmp_path)
    assert history["val/acc"] == {0: 0.3, 1: 0.45}
    assert epochs_trained(history) == 2
    assert training_seconds(history) == pytest.approx(21.0)
    assert images_per_second(history) == pytest.approx(105.0)
    assert read_epoch_metrics(tmp_path / "nowhere") == {}


def write_summary(run: Path, **values: object) -> Path:
    run.mkdir(parents=True)
    base = {"model": "m", "dataset": "FER2013", "split": "official", "test_images": 10,
            "parameters": 1000, "training_time_s": 75.0, "epochs": 3, "tta": "none"}  # fmt: skip
    (run / "summary.json").write_text(json.dumps({**base, **values}))
    return run


def test_compare_sorts_by_accuracy(tmp_path: Path) -> None:
    write_summary(tmp_path / "runs" / "x" / "1", experiment="low", test_accuracy=0.5)
    write_summary(
        tmp_path / "runs" / "y" / "1", experiment="high", test_accuracy=0.7, tta="ten_crop"
    )
    write_summary(tmp_path / "runs" / "z" / "1", experiment="mid", test_accuracy=0.6)
    rows = load_rows(find_runs([tmp_path / "runs"]))
    assert [r["experiment"] for r in rows] == ["high", "mid", "low"]
    table = comparison_markdown(rows).splitlines()
    header = (
        "model | dataset | test accuracy | 95 % CI | macro F1 | ECE | p vs best | parameters "
        "| training time | epochs | experiment"
    )
    assert table[0] == f"| {header} | run |"
    assert "| 70.00 % (ten-crop) | n/a | n/a | n/a | best | 1,000 | 1m 15s | 3 | high |" in table[2]
    assert "| n/a (no fingerprint) |" in table[3]
    assert len(table) == 5 + 3  # a blank line, what the columns mean, why no p-value


def test_compare_says_a_test_was_partial(tmp_path: Path) -> None:
    write_summary(tmp_path / "a", experiment="a", test_accuracy=0.5)
    write_summary(
        tmp_path / "b", experiment="b", test_accuracy=0.6, test_images=192,
        test_set_images=3589, partial_test=True,
    )  # fmt: skip
    table = comparison_markdown(load_rows([tmp_path / "a", tmp_path / "b"]))
    assert "(official, n=192 of 3,589, partial)" in table and "(official, n=10)" in table


def test_compare_errors_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(FERUserError, match="nope does not exist"):
        find_runs([tmp_path / "nope"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(FERUserError, match="holds no run with a summary.json"):
        find_runs([tmp_path / "empty"])
    write_summary(tmp_path / "bad", experiment="bad", test_accuracy=None)
    with pytest.raises(FERUserError, match="no numeric test_accuracy"):
        load_rows([tmp_path / "bad"])


def test_git_commit_outside_a_checkout_is_none(tmp_path: Path) -> None:
    assert git_commit(tmp_path) == (None, None)


def test_a_new_experiment_or_source_file_not_yet_committed_is_an_uncommitted_change(
    tmp_path: Path,
) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    package = tmp_path / "pkg"
    package.mkdir()
    (package / "a.py").write_text("x = 1\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    commit, dirty = git_commit(package)
    assert commit and len(commit) == 40 and dirty is False
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "summary.json").write_text("{}")  # a published run: not code
    assert git_commit(package) == (commit, False)
    git("add", "results")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "publish")
    commit = git_commit(package)[0]
    (tmp_path / "results" / "summary.json").unlink()  # a published run replaced: not code
    assert git_commit(package) == (commit, False)
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "new.yaml").write_text("seed_everything: 0\n")
    assert git_commit(package) == (commit, True)
    (tmp_path / "experiments" / "new.yaml").unlink()
    (package / "b.py").write_text("y = 2\n")
    assert git_commit(package) == (commit, True)
    (package / "b.py").unlink()
    (package / "a.py").write_text("x = 2\n")
    assert git_commit(package) == (commit, True)
    installed = tmp_path / ".venv" / "site" / "pkg"  # pip-installed into an ignored folder
    installed.mkdir(parents=True)
    (installed / "a.py").write_text("x = 1\n")
    (tmp_path / ".gitignore").write_text(".venv/\n")
    assert git_commit(installed) == (None, None)


def test_ten_crops_are_torchvisions_crops_resized() -> None:
    image = torch.arange(2 * 48 * 48, dtype=torch.float32).view(2, 48, 48)
    crops = ten_crops(image, 40, 40)
    assert crops.shape == (10, 2, 40, 40)
    torch.testing.assert_close(crops[0], image[:, :40, :40])  # top-left corner
    torch.testing.assert_close(crops[4], image[:, 4:44, 4:44])  # centre
    torch.testing.assert_close(crops[5], image.flip(-1)[:, :40, :40])  # mirrored top-left
    assert ten_crops(image, 40, 48).shape == (10, 2, 48, 48)

    dataset = TenCropDataset([(image, torch.tensor(3))], 40, 48)
    x, y = dataset[0]
    assert len(dataset) == 1 and x.shape == (10, 2, 48, 48) and y == 3


def test_ten_crop_forward_averages_softmaxes() -> None:
    from fer_lightning.models.classifier import FERClassifier

    torch.manual_seed(0)
    model = FERClassifier(head="linear").eval()
    x = torch.randn(3, 10, 1, 48, 48)
    with torch.no_grad():
        probs = model(x).softmax(-1)
        expected = torch.stack([model(x[:, i]).softmax(-1) for i in range(10)]).mean(0)
    torch.testing.assert_close(probs, expected)


def test_datamodule_ten_crop_test_loader(fer_folder: Path) -> None:
    from fer_lightning.data import FER2013DataModule

    dm = FER2013DataModule(data_dir=str(fer_folder), batch_size=4, num_workers=0, tta="ten_crop")
    assert dm.tta_crop_size == 40
    x, _ = next(iter(dm.test_dataloader()))
    assert x.shape == (4, 10, 1, 48, 48)
    x, _ = next(iter(dm.val_dataloader()))
    assert x.shape == (4, 1, 48, 48)
    with pytest.raises(FERUserError, match="tta_crop_size 60"):
        FER2013DataModule(data_dir=str(fer_folder), tta="ten_crop", tta_crop_size=60)


def test_ten_crop_reaches_the_validation_images_in_validate_only(fer_folder: Path) -> None:
    """``fer-lightning validate --data.tta ten_crop`` scores validation as test is scored (a
    choice of TTA made on validation); fit's validation stays one image per sample."""
    from types import SimpleNamespace

    from fer_lightning.data import FER2013DataModule

    dm = FER2013DataModule(data_dir=str(fer_folder), batch_size=4, num_workers=0, tta="ten_crop")
    for fn, crops in (("fit", False), ("validate", True), ("test", False)):
        dm.trainer = SimpleNamespace(state=SimpleNamespace(fn=fn), world_size=1)
        x, _ = next(iter(dm.val_dataloader()))
        assert x.shape == ((4, 10, 1, 48, 48) if crops else (4, 1, 48, 48)), fn
