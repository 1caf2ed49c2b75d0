"""Temperature scaling: one scalar ``T > 0`` that divides a model's logits before the softmax.

``T`` is fitted on the validation split of the model's own data (never the test split): the
plain validation images (no test-time augmentation) go through the model with its own
evaluation preprocessing, and ``T`` minimises the mean negative log-likelihood of their labels
(``scipy.optimize.minimize_scalar`` on ``log T``, bounded). Dividing by ``T`` keeps the
predicted class of every image, so accuracy does not change; only the confidence does (``T > 1``
softens an over-confident model).

The effect is measured on the test split from the result's ``predictions.npz``: its
probabilities ``p`` give ``log p`` as logits (softmax is unchanged by the constant each row's
log-sum-exp adds), ``softmax(log p / T)`` are the calibrated probabilities, and the package's
ECE (:func:`fer_lightning.evaluation.stats.expected_calibration_error`) is taken before and
after. ``fer-lightning calibrate NAME`` writes the result as ``calibration.json`` beside the
zoo model; ``fer-lightning models --write`` copies the temperature into its ``model.json``,
and ``recognize`` uses it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

from fer_lightning.run import layout

#: The search range of T (bounded search on log T).
BOUNDS = (0.05, 20.0)
METHOD = (
    "temperature scaling: T minimising the mean negative log-likelihood of the validation "
    "labels given softmax(logits / T), scipy.optimize.minimize_scalar (bounded) on log T in "
    f"[{BOUNDS[0]}, {BOUNDS[1]}]; test ECE from predictions.npz as softmax(log p / T)"
)


#: Validation images below which a fitted temperature is recorded but not used: on CK+'s folds
#: (81-87 validation images) the fitted T made the test ECE worse in 3 of 5 folds.
MIN_IMAGES = 500


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of ``labels`` under ``softmax(logits / temperature)``."""
    logp = log_softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1)
    return float(-logp[np.arange(len(labels)), np.asarray(labels, dtype=np.int64)].mean())


def fit_temperature(
    logits: np.ndarray, labels: np.ndarray, bounds: tuple[float, float] = BOUNDS
) -> float:
    """The temperature minimising :func:`nll` of ``labels`` (bounded search on log T)."""
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if logits.ndim != 2 or len(logits) != len(labels) or len(labels) == 0:
        raise ValueError(f"logits of shape {logits.shape} for {len(labels)} labels")
    found = minimize_scalar(
        lambda log_t: nll(logits, labels, math.exp(log_t)),
        bounds=(math.log(bounds[0]), math.log(bounds[1])),
        method="bounded",
        options={"xatol": 1e-5},
    )
    return float(math.exp(found.x))


def rescale(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities ``softmax(log p / T)``: ``probs`` as they would be with logits / T."""
    logp = np.log(np.clip(np.asarray(probs, dtype=np.float64), 1e-12, None))
    return softmax(logp / temperature, axis=1)


def ece_before_after(predictions: Any, temperature: float, bins: int) -> tuple[float, float]:
    """Test ECE of ``predictions`` (:class:`Predictions`) as they are and rescaled by T."""
    from dataclasses import replace

    from fer_lightning.evaluation.stats import expected_calibration_error

    before = expected_calibration_error(predictions, bins)
    scaled = replace(predictions, probs=rescale(predictions.probs, temperature))
    return before, expected_calibration_error(scaled, bins)


def validation_split(config: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(images uint8, labels, class names) of the validation split of a result's
    ``config.yaml``, built as ``fit`` builds it (:func:`fer_lightning.build.build`)."""
    from fer_lightning.build import build

    overrides = [
        "--ckpt_path=null",
        "--run_dir=null",
        "--model.pretrained=false",
        "--data.tta=none",
    ]
    datamodule = build(config, overrides, subcommand="validate").datamodule
    datamodule.setup("validate")
    val = datamodule.splits["val"]
    return np.asarray(val.images), np.asarray(val.labels), list(datamodule.class_names)


def logits_of(loaded: Any, images: Sequence[np.ndarray] | np.ndarray, batch_size: int = 256):
    """The model's logits ``(N, K)`` (float64) of decoded images, through its own evaluation
    preprocessing, in batches, without gradients."""
    import torch

    from fer_lightning.errors import FERUserError
    from fer_lightning.evaluation.robustness import model_color

    prep, model = loaded.preprocessing, loaded.model
    out = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            faces = [model_color(img, prep.color) for img in images[start : start + batch_size]]
            logits = model(prep.to_tensor(faces).to(loaded.device)).float()
            if not torch.isfinite(logits).all():
                raise FERUserError(f"the model {loaded.path} gave non-finite outputs")
            out.append(logits.cpu().numpy().astype(np.float64))
    return np.concatenate(out) if out else np.zeros((0, len(loaded.class_names)))


def calibrate(weights: Path, folder: Path, batch_size: int = 256) -> dict[str, Any]:
    """Fit T for the model ``weights`` on the validation split of the result in ``folder``
    (its config.yaml) and measure the test ECE of its ``predictions.npz`` before and after."""
    from fer_lightning.commands.robustness import check_classes
    from fer_lightning.evaluation.predictions import Predictions
    from fer_lightning.evaluation.stats import ECE_BINS
    from fer_lightning.inference.bundled import load_any

    loaded = load_any(weights)
    images, labels, class_names = validation_split(layout.config_of(folder))
    check_classes(loaded.class_names, class_names, weights)
    logits = logits_of(loaded, images, batch_size)
    temperature = fit_temperature(logits, labels)
    predictions = Predictions.load(folder)
    before, after = ece_before_after(predictions, temperature, ECE_BINS)
    used = len(labels) >= MIN_IMAGES
    return {
        "temperature": temperature,
        # A temperature fitted on a few dozen images is noise: measured, not used.
        "used": used,
        "why_not_used": None
        if used
        else f"{len(labels)} validation images, fewer than the {MIN_IMAGES} a temperature needs",
        "fitted_on": f"validation split ({len(labels)} images)",
        "val_accuracy": float((logits.argmax(1) == labels).mean()),
        "nll_before": nll(logits, labels, 1.0),
        "nll_after": nll(logits, labels, temperature),
        "ece_test_before": before,
        "ece_test_after": after,
        "ece_bins": ECE_BINS,
        "test_images": len(predictions),
        "test_tta": _tta_of(folder),
        "method": METHOD,
    }


def _tta_of(folder: Path) -> str | None:
    import json

    summary = folder / layout.SUMMARY_JSON
    return json.loads(summary.read_text()).get("tta") if summary.is_file() else None
