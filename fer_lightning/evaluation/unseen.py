"""The test accuracy on new faces: the test images no training image is a copy of.

A report gives the accuracy on the whole test split (the papers' protocol) and, where the test
images are known, on the images without an exact copy and without a near copy among the
training images (:mod:`fer_lightning.data.copies`). Every figure here is computed from
``predictions.npz`` alone (its ``image_ids``, ``exact_copy`` and ``near_copy`` arrays), so a
published record can be checked without the data.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from fer_lightning.data import copies
from fer_lightning.evaluation.predictions import Predictions

log = logging.getLogger(__name__)

#: summary.json keys: (accuracy, images) without exact copies and without near copies.
NO_COPIES = ("test_accuracy_no_copies", "test_images_no_copies")
NO_NEAR_COPIES = ("test_accuracy_no_near_copies", "test_images_no_near_copies")


def identify(datamodule: Any, predictions: Predictions) -> tuple[Predictions, str | None]:
    """``predictions`` with each test image's id and copy flags, and what the images were
    checked against ("train" or "train+val"), when the datamodule's test split is the one
    predicted (same length and labels, in order); else unchanged and None."""
    splits = getattr(datamodule, "splits", None)
    test = splits.get("test") if isinstance(splits, dict) else None
    if test is None or not hasattr(datamodule, "copy_reference"):
        return predictions, None
    if len(test.labels) != len(predictions) or not np.array_equal(test.labels, predictions.targets):
        return predictions, None  # a partial test (limit_test_batches) or another order
    reference, what = datamodule.copy_reference()
    found = copies.find_copies(reference, test.images)
    predictions.image_ids = copies.image_ids(test.images)
    predictions.exact_copy = found.exact
    predictions.near_copy = found.near
    return predictions, what


def _accuracy(predictions: Predictions, keep: np.ndarray) -> tuple[float | None, int]:
    n = int(keep.sum())
    if n == 0:
        return None, 0
    return float((predictions.predicted[keep] == predictions.targets[keep]).mean()), n


def summary_fields(predictions: Predictions, reference: str | None) -> dict[str, Any]:
    """The summary.json entries: the order-free test-set id and, with copy flags, the counts
    of copies and the accuracies without them (absent when the predictions lack them)."""
    if predictions.image_ids is None:
        return {}
    fields: dict[str, Any] = {
        "test_set": copies.test_set_id(predictions.image_ids, predictions.targets)
    }
    if predictions.exact_copy is None or predictions.near_copy is None:
        return fields
    fields["copies"] = {
        "method": copies.METHOD,
        "near_distance": copies.NEAR_COPY_DISTANCE,
        "reference": reference or "train",
        "exact": int(predictions.exact_copy.sum()),
        "near": int(predictions.near_copy.sum()),
    }
    for keys, copied in (
        (NO_COPIES, predictions.exact_copy),
        (NO_NEAR_COPIES, predictions.near_copy),
    ):
        accuracy, n = _accuracy(predictions, ~copied)
        fields[keys[0]], fields[keys[1]] = accuracy, n
    return fields


def markdown_lines(summary: dict[str, Any]) -> list[str]:
    """The report.md paragraph on copies (none when the summary has no copy counts)."""
    found = summary.get("copies")
    if not isinstance(found, dict):
        return []
    total = summary.get("test_images") or 0

    def acc(key: str) -> str:
        value = summary.get(key)
        return "n/a" if value is None else f"**{100 * value:.2f} %**"

    return [
        f"New faces: {found['exact']:,} of the {total:,} test images are exact copies of "
        f"training images ({found['reference']}) and {found['near']:,} are near copies "
        f"({found['method']}). Without the exact copies the accuracy is "
        f"{acc(NO_COPIES[0])} ({summary.get(NO_COPIES[1]):,} images); without the near copies "
        f"too, {acc(NO_NEAR_COPIES[0])} ({summary.get(NO_NEAR_COPIES[1]):,} images).",
    ]
