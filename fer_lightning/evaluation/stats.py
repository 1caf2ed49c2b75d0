"""Uncertainty, calibration and significance of a run's test figures.

- 95 % bootstrap confidence intervals of test accuracy and macro F1: ``scipy.stats.bootstrap``
  (percentile method, resampling the test images with replacement, seeded), the statistic
  vectorised over the resamples so that 1,000 resamples of FER2013's 7,178 test images cost
  well under a second.
- Expected calibration error: torchmetrics ``MulticlassCalibrationError`` (15 bins, L1); the
  reliability diagram plots the same bins.
- McNemar's exact test between two runs scored on the same test images: a two-sided binomial
  test (``scipy.stats.binomtest``) on the images exactly one of the two runs gets right.
- The test-set fingerprint (labels and images, in order) that says whether two runs were scored
  on the same test images, so that a paired test or an ensemble makes sense.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from fer_lightning.evaluation.predictions import Predictions

CONFIDENCE = 0.95
RESAMPLES = 1000
BOOTSTRAP_SEED = 0
ECE_BINS = 15
#: What the report and summary.json say about the intervals.
CI_METHOD = (
    f"percentile bootstrap by scipy.stats.bootstrap: {RESAMPLES:,} resamples of the test "
    f"images, seed {BOOTSTRAP_SEED}"
)


def _macro_f1(targets: np.ndarray, predicted: np.ndarray, k: int) -> np.ndarray:
    """Macro F1 along the last axis (a batch of resamples); a class neither present nor
    predicted in a resample scores 0, as torchmetrics' ``zero_division=0`` does."""
    targets = np.atleast_2d(targets)
    predicted = np.atleast_2d(predicted)
    batch = targets.shape[0]
    offset = (np.arange(batch) * k)[:, None]  # one bincount for the whole batch

    def counts(index: np.ndarray) -> np.ndarray:
        return np.bincount(index.ravel(), minlength=batch * k).reshape(batch, k)

    hit = targets == predicted
    true_pos = counts((targets + offset)[hit])
    actual = counts(targets + offset)
    guessed = counts(predicted + offset)
    denom = actual + guessed
    f1 = np.divide(2.0 * true_pos, denom, out=np.zeros(denom.shape), where=denom > 0)
    return f1.mean(axis=-1)


def bootstrap_intervals(
    predictions: Predictions, resamples: int = RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> dict[str, tuple[float, float]]:
    """``{"accuracy": (low, high), "macro_f1": (low, high)}``: 95 % percentile intervals."""
    from scipy.stats import bootstrap

    targets = predictions.targets
    predicted = predictions.predicted
    k = predictions.num_classes
    if len(targets) < 2:
        nan = (float("nan"), float("nan"))
        return {"accuracy": nan, "macro_f1": nan}

    def accuracy(t: np.ndarray, p: np.ndarray, axis: int = -1) -> np.ndarray:
        return (t == p).mean(axis=axis)

    def macro_f1(t: np.ndarray, p: np.ndarray, axis: int = -1) -> np.ndarray:
        return _macro_f1(t, p, k)

    out = {}
    for name, statistic in (("accuracy", accuracy), ("macro_f1", macro_f1)):
        result = bootstrap(
            (targets, predicted),
            statistic,
            paired=True,
            vectorized=True,
            n_resamples=resamples,
            batch=250,  # bounds memory: 250 x N indices at a time
            confidence_level=CONFIDENCE,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
        low, high = result.confidence_interval
        out[name] = (float(low), float(high))
    return out


def expected_calibration_error(predictions: Predictions, bins: int = ECE_BINS) -> float:
    """torchmetrics' top-label ECE (L1, ``bins`` equal-width confidence bins)."""
    from torchmetrics.classification import MulticlassCalibrationError

    metric = MulticlassCalibrationError(predictions.num_classes, n_bins=bins, norm="l1")
    probs = torch.from_numpy(predictions.probs).float()
    return float(metric(probs, torch.from_numpy(predictions.targets).long()))


@dataclass
class ReliabilityBins:
    """Per equal-width confidence bin: edges, mean confidence, accuracy and image count."""

    edges: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    count: np.ndarray


def reliability_bins(predictions: Predictions, bins: int = ECE_BINS) -> ReliabilityBins:
    """The bins of the reliability diagram, with torchmetrics' binning (right-closed bins,
    ``bucketize(confidence, edges, right=True) - 1``)."""
    confidence = predictions.probs.max(axis=1).astype(np.float64)
    correct = (predictions.predicted == predictions.targets).astype(np.float64)
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.searchsorted(edges, confidence, side="right") - 1, 0, bins - 1)
    count = np.bincount(index, minlength=bins)
    safe = np.maximum(count, 1)
    return ReliabilityBins(
        edges=edges,
        confidence=np.bincount(index, confidence, minlength=bins) / safe,
        accuracy=np.bincount(index, correct, minlength=bins) / safe,
        count=count,
    )


def mcnemar_exact(correct_a: np.ndarray, correct_b: np.ndarray) -> dict[str, Any]:
    """McNemar's exact test on paired per-image correctness: ``b`` images only A gets right,
    ``c`` only B; the two-sided p-value of ``b`` successes in ``b + c`` fair coin flips
    (1.0 when the runs never disagree)."""
    from scipy.stats import binomtest

    correct_a = np.asarray(correct_a, bool)
    correct_b = np.asarray(correct_b, bool)
    only_a = int((correct_a & ~correct_b).sum())
    only_b = int((~correct_a & correct_b).sum())
    n = only_a + only_b
    p = float(binomtest(only_a, n, 0.5).pvalue) if n else 1.0
    return {"only_a": only_a, "only_b": only_b, "p_value": p}


def fingerprint_test_set(images: np.ndarray, labels: np.ndarray) -> str:
    """SHA-256 (first 16 hex digits) of the test images' pixels and labels, in order: equal
    exactly when two runs were scored on the same images in the same order (a different
    split, cleaning or dataset changes it; image size, TTA and the model do not)."""
    digest = hashlib.sha256()
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    images = np.ascontiguousarray(images)
    digest.update(f"{images.shape}|{images.dtype}|{labels.shape}".encode())
    digest.update(labels.tobytes())
    digest.update(images.tobytes())
    return digest.hexdigest()[:16]
