"""Confidence intervals, calibration, McNemar's test and the test-set fingerprint (issue 14).

Here: the fast tests; the others are in ``tests/slow/test_stats.py``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fer_lightning.callbacks.report import checkpoint_selection
from fer_lightning.commands.ensemble import main as ensemble_main
from fer_lightning.errors import FERUserError
from fer_lightning.evaluation.compare import (
    comparison_markdown,
    find_runs,
    load_rows,
    paired_test,
    with_p_values,
)
from fer_lightning.evaluation.predictions import Predictions
from fer_lightning.evaluation.report import classification_report
from fer_lightning.evaluation.stats import (
    bootstrap_intervals,
    expected_calibration_error,
    fingerprint_test_set,
    mcnemar_exact,
    reliability_bins,
)

NAMES = ["a", "b", "c", "d"]


def noisy_predictions(n: int, seed: int = 0) -> Predictions:
    """About 70 % right, with softmax-like probabilities."""
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, len(NAMES), n)
    logits = rng.normal(size=(n, len(NAMES)))
    logits[np.arange(n), targets] += 1.6
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return Predictions(probs, targets, NAMES)


def test_bootstrap_interval_holds_the_estimate_and_narrows_with_more_images() -> None:
    widths = {}
    for n in (100, 2000):
        preds = noisy_predictions(n)
        report = classification_report(preds)
        ci = bootstrap_intervals(preds)
        for key, point in (("accuracy", report.accuracy), ("macro_f1", report.macro["f1"])):
            low, high = ci[key]
            assert low < point < high, (n, key, ci[key], point)
        widths[n] = {key: high - low for key, (low, high) in ci.items()}
    for key in ("accuracy", "macro_f1"):
        assert widths[2000][key] < widths[100][key] / 2.5, widths  # ~ 1/sqrt(n): 4.5 x


def test_bootstrap_is_seeded() -> None:
    preds = noisy_predictions(300)
    assert bootstrap_intervals(preds) == bootstrap_intervals(preds)
    assert bootstrap_intervals(preds, seed=1) != bootstrap_intervals(preds)


def test_ece_equals_numpy_on_a_fixed_example() -> None:
    probs = np.array(
        [
            [0.90, 0.05, 0.05],
            [0.60, 0.30, 0.10],
            [0.20, 0.70, 0.10],
            [0.34, 0.33, 0.33],
            [0.10, 0.10, 0.80],
            [0.05, 0.05, 0.90],
            [0.50, 0.45, 0.05],
            [0.15, 0.80, 0.05],
        ]
    )
    targets = np.array([0, 1, 1, 2, 2, 2, 0, 0])
    confidence, predicted = probs.max(1), probs.argmax(1)
    correct = (predicted == targets).astype(float)
    edges = np.linspace(0, 1, 16)
    expected = 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            gap = abs(correct[inside].mean() - confidence[inside].mean())
            expected += inside.mean() * gap
    preds = Predictions(probs, targets, ["x", "y", "z"])
    assert expected_calibration_error(preds) == pytest.approx(expected, abs=1e-6)
    bins = reliability_bins(preds)
    assert bins.count.sum() == len(targets)
    weights = bins.count / bins.count.sum()
    assert float((weights * np.abs(bins.accuracy - bins.confidence)).sum()) == pytest.approx(
        expected, abs=1e-6
    )


def test_mcnemar_exact_matches_a_hand_computed_case() -> None:
    # 10 images: both right on 3, only A right on 1, only B right on 5, both wrong on 1.
    a = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], bool)
    b = np.array([1, 1, 1, 0, 1, 1, 1, 1, 1, 0], bool)
    result = mcnemar_exact(a, b)
    # two-sided exact binomial: 2 * P(X <= 1), X ~ Bin(6, 1/2) = 2 * (1 + 6) / 64
    assert (result["only_a"], result["only_b"]) == (1, 5)
    assert result["p_value"] == pytest.approx(14 / 64)
    assert mcnemar_exact(a, a)["p_value"] == 1.0


def test_fingerprint_changes_with_images_labels_and_order() -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 4, 4), dtype=np.uint8)
    labels = np.array([0, 1, 2, 0, 1, 2])
    base = fingerprint_test_set(images, labels)
    assert base == fingerprint_test_set(images.copy(), labels.copy())
    assert base != fingerprint_test_set(images[:5], labels[:5])
    assert base != fingerprint_test_set(images, labels[::-1])
    changed = images.copy()
    changed[2, 0, 0] ^= 1
    assert base != fingerprint_test_set(changed, labels)


def test_checkpoint_selection_names_split_metric_and_mode() -> None:
    key = "ModelCheckpoint{'monitor': 'val/acc', 'mode': 'max', 'every_n_train_steps': 0}"
    checkpoint = {
        "epoch": 4,
        "callbacks": {
            "ModelCheckpoint{'monitor': None, 'mode': 'min'}": {"monitor": None},
            key: {"monitor": "val/acc", "best_model_score": 0.5123},
        },
    }
    text = checkpoint_selection(checkpoint)
    assert text == "best `val/acc` (max, best 0.5123) on the validation split, epoch 4"
    checkpoint["callbacks"] = {key.replace("val/", "test/"): {"monitor": "test/acc"}}
    assert "THE TEST SPLIT" in checkpoint_selection(checkpoint)


def write_run(run: Path, preds: Predictions, fingerprint: str, **values: object) -> Path:
    run.mkdir(parents=True)
    preds.save(run)
    summary = {
        "model": "m",
        "dataset": "FER2013",
        "split": "official",
        "test_images": len(preds.targets),
        "test_accuracy": float((preds.predicted == preds.targets).mean()),
        "test_fingerprint": fingerprint,
        **values,
    }
    (run / "summary.json").write_text(json.dumps(summary))
    return run


def test_compare_p_values_against_the_best_run_only_on_the_same_test_set(
    tmp_path: Path,
) -> None:
    truth = np.array([0, 1, 2, 3] * 5)
    right = np.eye(4)[truth] * 0.7 + 0.075
    wrong = np.eye(4)[(truth + 1) % 4] * 0.7 + 0.075
    good = Predictions(right, truth, NAMES)  # 20 / 20
    # 12 right, 8 wrong: only the good run right on 8 images, only this one on none
    worse = Predictions(np.where((np.arange(20) < 12)[:, None], right, wrong), truth, NAMES)
    write_run(tmp_path / "good", good, "f1")
    write_run(tmp_path / "worse", worse, "f1")
    write_run(tmp_path / "elsewhere", worse, "f2")
    rows = with_p_values(load_rows(find_runs([tmp_path])))
    by_run = {Path(r["run"]).name: r for r in rows}
    assert rows[0]["run"].endswith("good") and rows[0]["p_vs_best"] is None
    assert by_run["worse"]["p_vs_best"] == pytest.approx(2 * 0.5**8)  # McNemar b=8, c=0
    assert by_run["elsewhere"]["p_vs_best"] is None
    assert by_run["elsewhere"]["not_paired"] == "other test set"
    table = comparison_markdown(rows)
    assert "| 0.0078 |" in table and "| n/a (other test set) |" in table
    assert "scored on different test images than the best run" in table

    with pytest.raises(FERUserError) as err:
        paired_test(by_run["good"], by_run["elsewhere"])
    message = str(err.value)
    assert "were scored on different test sets (test fingerprints f1 and f2)" in message
    assert ". " not in message and "\n" not in message  # one sentence


def test_ensemble_of_two_identical_runs_equals_either(tmp_path: Path) -> None:
    preds = noisy_predictions(60)
    a = write_run(tmp_path / "a", preds, "same", parameters=10, model="m")
    b = write_run(tmp_path / "b", preds, "same", parameters=10, model="m")
    out = tmp_path / "ens"
    assert ensemble_main([str(a), str(b), "--out", str(out)]) == 0
    ens = Predictions.load(out)
    np.testing.assert_allclose(ens.probs, preds.probs, rtol=1e-6)
    np.testing.assert_array_equal(ens.targets, preds.targets)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["test_accuracy"] == pytest.approx(classification_report(preds).accuracy)
    assert summary["test_fingerprint"] == "same" and summary["parameters"] == 20
    assert summary["ensemble_of"] == [str(a), str(b)]
    # compare lists it like any run, paired with its members
    rows = with_p_values(load_rows(find_runs([tmp_path])))
    assert {Path(r["run"]).name for r in rows} == {"a", "b", "ens"}
    assert all(r["p_vs_best"] == 1.0 for r in rows[1:])


def test_ensemble_refuses_runs_on_different_test_sets(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a", noisy_predictions(30), "one")
    b = write_run(tmp_path / "b", noisy_predictions(30), "two")
    with pytest.raises(FERUserError, match="were scored on different test sets"):
        ensemble_main([str(a), str(b), "--out", str(tmp_path / "ens")])
    assert not (tmp_path / "ens").exists()


def test_ddp_gather_restores_the_dataset_order() -> None:
    """UnrepeatedDistributedSampler gives rank r the images r, r+W, ...; the gathered
    predictions must come back in the dataset's order to pair with other runs and images."""
    import torch

    from fer_lightning.callbacks.report import _gather

    n, world = 7, 2
    targets = torch.arange(n) % 3
    probs = torch.eye(3)[targets] * torch.arange(1, n + 1)[:, None].float()  # row i: i + 1
    shares = [torch.arange(r, n, world) for r in range(world)]  # the sampler's shares

    class Rank0:
        device = torch.device("cpu")
        trainer = type("T", (), {"world_size": world})()
        calls = 0

        def all_gather(self, x: torch.Tensor) -> torch.Tensor:
            other = shares[1]
            if x.ndim == 0:  # the sizes
                return torch.tensor([len(shares[0]), len(other)])
            padded = torch.zeros_like(x)
            padded[: len(other)] = (probs if x.ndim == 2 else targets)[other]
            return torch.stack([x, padded])

    got_probs, got_targets = _gather(Rank0(), probs[shares[0]], targets[shares[0]])
    assert torch.equal(got_targets, targets) and torch.equal(got_probs, probs)
