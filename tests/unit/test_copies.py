"""Test images copied from training images: found by pixels and by a perceptual hash, counted
out of the accuracy a user can expect on new faces, and test sets told apart by their images
whatever their order."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_lightning.data import copies
from fer_lightning.errors import FERUserError
from fer_lightning.evaluation import unseen
from fer_lightning.evaluation.predictions import Predictions
from fer_lightning.results import verify


def faces(n: int, seed: int) -> np.ndarray:
    """Smooth random 48x48 images (blurred noise: photograph-like low frequencies)."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, size=(n, 48, 48)).astype(np.float32)
    return np.stack([cv2.GaussianBlur(x, (0, 0), 4) for x in noise]).clip(0, 255).astype(np.uint8)


def rescaled(image: np.ndarray) -> np.ndarray:
    """The same photograph cropped 2 px tighter and scaled back: a near copy."""
    return cv2.resize(image[1:-1, 1:-1], (48, 48), interpolation=cv2.INTER_AREA)


def test_exact_and_near_copies_are_found_and_other_images_are_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path))
    train = faces(40, seed=0)
    test = np.stack([train[3], rescaled(train[7]), *faces(6, seed=1)])
    found = copies.find_copies(train, test)
    assert found.exact.tolist() == [True] + [False] * 7
    assert found.near.tolist() == [True, True] + [False] * 6
    assert found.nearest[:2].tolist() == [3, 7]
    assert (found.distance[2:] > copies.NEAR_COPY_DISTANCE).all()
    cached = copies.find_copies(train, test)  # read back from the cache: the same answer
    assert all(
        np.array_equal(a, b)
        for a, b in zip(found.__dict__.values(), cached.__dict__.values(), strict=True)
    )


def test_a_test_set_is_the_same_in_any_order_and_predictions_pair_by_image() -> None:
    images = faces(5, seed=2)
    ids = copies.image_ids(images)
    labels = np.array([0, 1, 2, 1, 0])
    order = np.array([4, 2, 0, 3, 1])
    assert copies.test_set_id(ids, labels) == copies.test_set_id(ids[order], labels[order])
    assert copies.test_set_id(ids, labels) != copies.test_set_id(ids, labels[[1, 0, 2, 3, 4]])
    probs = np.eye(3, dtype=np.float32)[[0, 1, 1, 1, 2]]
    first = Predictions(probs, labels, ["a", "b", "c"], ids)
    shuffled = Predictions(probs[order], labels[order], ["a", "b", "c"], ids[order])
    back = shuffled.in_order_of(first)
    assert np.array_equal(back.probs, first.probs) and np.array_equal(back.image_ids, ids)
    other = Predictions(probs, labels, ["a", "b", "c"], copies.image_ids(faces(5, seed=3)))
    with pytest.raises(ValueError, match="different test images"):
        other.in_order_of(first)


def _predictions() -> Predictions:
    """Six images, the first two copied from training (the second a near copy): the model is
    right on both copies and on one of the four new faces."""
    targets = np.array([0, 1, 0, 1, 0, 1])
    predicted = np.array([0, 1, 0, 0, 1, 0])
    return Predictions(
        np.eye(2, dtype=np.float32)[predicted],
        targets,
        ["a", "b"],
        copies.image_ids(faces(6, seed=4)),
        exact_copy=np.array([1, 0, 0, 0, 0, 0], bool),
        near_copy=np.array([1, 1, 0, 0, 0, 0], bool),
    )


def test_accuracy_without_copies_counts_only_the_images_no_training_image_copies() -> None:
    fields = unseen.summary_fields(_predictions(), "train")
    assert fields["copies"]["exact"] == 1 and fields["copies"]["near"] == 2
    assert fields["test_images_no_copies"] == 5
    assert fields["test_accuracy_no_copies"] == pytest.approx(2 / 5)
    assert fields["test_images_no_near_copies"] == 4
    assert fields["test_accuracy_no_near_copies"] == pytest.approx(1 / 4)
    text = " ".join(unseen.markdown_lines({**fields, "test_images": 6}))
    assert "40.00 %" in text and "25.00 %" in text


def test_a_published_accuracy_without_copies_edited_by_hand_is_refused(tmp_path: Path) -> None:
    predictions = _predictions()
    predictions.save(tmp_path)
    summary = {"test_accuracy": 0.5, "test_images": 6, **unseen.summary_fields(predictions, None)}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    verify.recomputed.cache_clear()
    assert verify.verified_summary(tmp_path)["test_accuracy_no_copies"] == pytest.approx(0.4)
    summary["test_accuracy_no_near_copies"] = 0.5
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    verify.recomputed.cache_clear()
    with pytest.raises(FERUserError, match="test_accuracy_no_near_copies is 0.5"):
        verify.verified_summary(tmp_path)


def test_a_test_split_with_no_training_images_has_no_copies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CK+ split 'all' (a cross-dataset test): every image is a test image, none a copy."""
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path))
    found = copies.find_copies(np.zeros((0, 48, 48), np.uint8), faces(3, seed=1))
    assert found.counts() == {"exact": 0, "near": 0}
