"""Robustness of a trained classifier: its test accuracy when every test image has gone through
a change a camera, a compression or an occluder would make.

A perturbation is a function from a decoded uint8 test image, ``(H, W)`` grey or ``(H, W, 3)``,
to an image of the same shape and dtype. It is applied to the image as the dataset decodes it,
before the model's own evaluation preprocessing (resize, normalise: :class:`Preprocessing`),
and it is deterministic: the same image always gives the same result. Sizes are given for
48 x 48 images and scaled by ``height / 48`` for others.

For clean images and for each perturbation the evaluation reports the accuracy, its change
against clean in percentage points, a paired 95 % bootstrap interval of that change (the test
images resampled once per resample, both accuracies taken on the same resample) and the share
of test images whose predicted class changed. ``fer-lightning robustness`` runs it and writes
``robustness.md`` and ``robustness.json``; a model card reads the json.

Adding a perturbation: register a function (before the evaluation runs, e.g. in the script
that calls :func:`evaluate`)::

    from fer_lightning.evaluation.robustness import register

    @register("gamma_2", "gamma 2: 255 * (x / 255) ** 2")
    def gamma_2(image):
        return (255 * (image / 255.0) ** 2).round().astype(np.uint8)
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from PIL import Image

from fer_lightning.errors import FERUserError

Perturbation = Callable[[np.ndarray], np.ndarray]

#: name -> perturbation, in the order the report lists them.
PERTURBATIONS: dict[str, Perturbation] = {}
#: name -> what it does, one line (the report and the docs).
DESCRIPTIONS: dict[str, str] = {}

#: The side the sizes below are given for; other images scale them by ``height / REFERENCE``.
REFERENCE = 48
#: Grey level of an occluder.
GREY = 128
#: Occluded rows at 48 px, first and last inclusive (full width).
MOUTH_ROWS = (30, 44)
EYES_ROWS = (12, 24)
SHIFT_PX = 4
_NAME = re.compile(r"[A-Za-z0-9_.+-]+")


def register(
    name: str, description: str, function: Perturbation | None = None
) -> Callable[[Perturbation], Perturbation] | Perturbation:
    """Add a perturbation ``name`` (letters, digits, ``_ . + -``: it is given in a comma list).
    Used as ``register(name, description, function)`` or as a decorator
    ``@register(name, description)``. A name already taken is refused."""

    def add(fn: Perturbation) -> Perturbation:
        if not _NAME.fullmatch(name) or name == "clean":
            raise ValueError(
                f"perturbation name {name!r}: letters, digits, _ . + - only, not clean"
            )
        if name in PERTURBATIONS:
            raise ValueError(f"perturbation {name!r} is registered already")
        PERTURBATIONS[name] = fn
        DESCRIPTIONS[name] = description
        return fn

    return add if function is None else add(function)


def _scaled(pixels: float, height: int) -> int:
    return int(round(pixels * height / REFERENCE))


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def flip(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image[:, ::-1])


def brightness(factor: float) -> Perturbation:
    def apply(image: np.ndarray) -> np.ndarray:
        return _to_uint8(image.astype(np.float64) * factor)

    return apply


def contrast(factor: float) -> Perturbation:
    def apply(image: np.ndarray) -> np.ndarray:
        x = image.astype(np.float64)
        mean = x.mean()
        return _to_uint8(mean + (x - mean) * factor)

    return apply


def rotate(degrees: float) -> Perturbation:
    def apply(image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), degrees, 1.0)
        return cv2.warpAffine(
            image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )

    return apply


def gaussian_blur(sigma: float) -> Perturbation:
    def apply(image: np.ndarray) -> np.ndarray:
        from scipy import ndimage

        axes = (0, 1)  # the channels of an RGB image are blurred apart
        blurred = ndimage.gaussian_filter(
            image.astype(np.float64), sigma=sigma, mode="reflect", truncate=4.0, axes=axes
        )
        return _to_uint8(blurred)

    return apply


def jpeg(quality: int) -> Perturbation:
    def apply(image: np.ndarray) -> np.ndarray:
        source = Image.fromarray(image)
        buffer = io.BytesIO()
        source.save(buffer, format="JPEG", quality=quality)
        buffer.seek(0)
        with Image.open(buffer) as decoded:
            return np.asarray(decoded.convert(source.mode), dtype=np.uint8)

    return apply


def shift(pixels: int) -> Perturbation:
    def apply(image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        d = _scaled(pixels, h)
        pad = ((d, 0), (d, 0)) + ((0, 0),) * (image.ndim - 2)
        return np.ascontiguousarray(np.pad(image, pad, mode="edge")[:h, :w])

    return apply


def occlusion_rows(first: int, last: int, height: int) -> slice:
    """The rows an occluder covers in an image ``height`` pixels high: ``first`` to ``last``
    (inclusive, at 48 px) scaled by ``height / 48``."""
    return slice(_scaled(first, height), _scaled(last + 1, height))


def occlude(rows: tuple[int, int]) -> Perturbation:
    def apply(image: np.ndarray) -> np.ndarray:
        out = image.copy()
        out[occlusion_rows(*rows, image.shape[0])] = GREY
        return out

    return apply


register("flip", "horizontal flip (mirror image)", flip)
register("brightness_0.7", "brightness x0.7: pixel values times 0.7, rounded", brightness(0.7))
register(
    "brightness_1.3", "brightness x1.3: pixel values times 1.3, rounded, clipped to 255",
    brightness(1.3),
)  # fmt: skip
register("contrast_0.6", "contrast x0.6: deviations from the image's mean times 0.6", contrast(0.6))
register(
    "rotate_+10", "rotation 10 deg counter-clockwise about the centre, bilinear, edge replicated",
    rotate(10),
)  # fmt: skip
register(
    "rotate_-10", "rotation 10 deg clockwise about the centre, bilinear, edge replicated",
    rotate(-10),
)  # fmt: skip
register(
    "blur_1",
    "Gaussian blur sigma 1 px (scipy.ndimage, 9x9 kernel, reflected border)",
    gaussian_blur(1),
)
register("jpeg_20", "JPEG encode and decode at quality 20 (Pillow)", jpeg(20))
register(
    "shift_4", "shift 4 px right and 4 px down, the border replicated (4 px at 48 px)",
    shift(SHIFT_PX),
)  # fmt: skip
register(
    "occlude_mouth", "grey (128) band over rows 30-44 of 48, full width: the mouth",
    occlude(MOUTH_ROWS),
)  # fmt: skip
register(
    "occlude_eyes", "grey (128) band over rows 12-24 of 48, full width: the eyes",
    occlude(EYES_ROWS),
)  # fmt: skip


def chosen(names: Sequence[str] | None) -> list[str]:
    """The perturbations named (all registered ones for None), checked: an unknown name is one
    sentence listing the valid ones."""
    if names is None:
        return list(PERTURBATIONS)
    unknown = [n for n in names if n not in PERTURBATIONS]
    if unknown:
        raise FERUserError(
            f"unknown perturbation {unknown[0]!r}; known: {', '.join(PERTURBATIONS)}"
        )
    if not names:
        raise FERUserError(f"no perturbation named; known: {', '.join(PERTURBATIONS)}")
    return list(dict.fromkeys(names))


# ------------------------------------------------------------------------------ evaluation
@dataclass
class Row:
    """One condition (clean or a perturbation) of the evaluation."""

    name: str
    description: str
    #: Share of test images classified right, and its 95 % bootstrap interval.
    accuracy: float
    accuracy_ci: tuple[float, float]
    #: accuracy minus clean accuracy (negative: a loss), and its paired 95 % interval.
    change: float
    change_ci: tuple[float, float]
    #: Share of test images whose predicted class differs from the clean prediction.
    changed: float


@dataclass
class Robustness:
    rows: list[Row]
    test_images: int
    tta: str
    ci_method: str
    #: Where the model and data came from (free-form, for the report).
    about: dict[str, Any] = field(default_factory=dict)

    @property
    def clean(self) -> Row:
        return self.rows[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "fer-lightning robustness 1",
            **self.about,
            "test_images": self.test_images,
            "tta": self.tta,
            "ci_method": self.ci_method,
            "units": "accuracy, change and changed are fractions of the test images; change is "
            "accuracy minus clean accuracy",
            "rows": [asdict(r) for r in self.rows],
        }

    def markdown(self) -> str:
        lines = [
            "| condition | accuracy % | change (points) | 95 % interval of change | "
            "predictions changed % |",
            "|---|---:|---:|---|---:|",
        ]
        for r in self.rows:
            if r.name == "clean":
                lines.append(
                    f"| clean | {100 * r.accuracy:.2f} "
                    f"[{100 * r.accuracy_ci[0]:.2f}, {100 * r.accuracy_ci[1]:.2f}] | | | |"
                )
                continue
            lines.append(
                f"| {r.name} | {100 * r.accuracy:.2f} | {100 * r.change:+.2f} | "
                f"[{100 * r.change_ci[0]:+.2f}, {100 * r.change_ci[1]:+.2f}] | "
                f"{100 * r.changed:.1f} |"
            )
        return "\n".join(lines) + "\n"


def model_color(image: np.ndarray, color: str) -> np.ndarray:
    """A decoded test image (grey or RGB) in the colour the model was trained on."""
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if color == "rgb" else image
    if image.shape[-1] == 1:
        return model_color(image[..., 0], color)
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if color == "gray" else image


@torch.inference_mode()
def predict(
    loaded: Any,
    images: Sequence[np.ndarray] | np.ndarray,
    perturbation: Perturbation | None = None,
    batch_size: int = 256,
    tta: str = "none",
) -> np.ndarray:
    """The predicted class of each image (perturbed first when given), through the model's own
    evaluation preprocessing; ``tta="ten_crop"`` averages the softmaxes of the ten crops."""
    from fer_lightning.data.tta import default_crop_size, ten_crops

    prep = loaded.preprocessing
    model = loaded.model
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        faces = [
            model_color(perturbation(img) if perturbation else img, prep.color) for img in batch
        ]
        x = prep.to_tensor(faces)
        if tta == "ten_crop":
            crop = default_crop_size(prep.image_size)
            x = torch.stack([ten_crops(i, crop, prep.image_size) for i in x])
        logits = model(x.to(device)).float()
        if not torch.isfinite(logits).all():
            raise FERUserError(f"the model {loaded.path} gave non-finite outputs (NaN or inf)")
        out.append(logits.argmax(-1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def _interval(samples: tuple[np.ndarray, ...], statistic: Callable, seed: int) -> tuple:
    from scipy.stats import bootstrap

    from fer_lightning.evaluation.stats import CONFIDENCE, RESAMPLES

    if len(samples[0]) < 2:
        return (float("nan"), float("nan"))
    values = statistic(*samples)
    if all(np.all(s == s[0]) for s in samples):  # one value: every resample gives it
        return (float(values), float(values))
    result = bootstrap(
        samples,
        statistic,
        paired=True,
        vectorized=True,
        n_resamples=RESAMPLES,
        batch=250,
        confidence_level=CONFIDENCE,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return (float(low), float(high))


def accuracy_interval(correct: np.ndarray, seed: int | None = None) -> tuple[float, float]:
    """95 % percentile bootstrap interval of the accuracy of per-image ``correct`` flags."""
    from fer_lightning.evaluation.stats import BOOTSTRAP_SEED

    def accuracy(c: np.ndarray, axis: int = -1) -> np.ndarray:
        return c.mean(axis=axis)

    flags = np.asarray(correct, dtype=np.float64)
    return _interval((flags,), accuracy, BOOTSTRAP_SEED if seed is None else seed)


def change_interval(
    correct_clean: np.ndarray, correct_perturbed: np.ndarray, seed: int | None = None
) -> tuple[float, float]:
    """Paired 95 % percentile bootstrap interval of ``accuracy(perturbed) - accuracy(clean)``:
    each resample draws test images once and scores both conditions on it (seeded, as the
    run reports' intervals: :mod:`fer_lightning.evaluation.stats`)."""
    from fer_lightning.evaluation.stats import BOOTSTRAP_SEED

    def change(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        return b.mean(axis=axis) - a.mean(axis=axis)

    a = np.asarray(correct_clean, dtype=np.float64)
    b = np.asarray(correct_perturbed, dtype=np.float64)
    return _interval((a, b), change, BOOTSTRAP_SEED if seed is None else seed)


def evaluate(
    loaded: Any,
    images: Sequence[np.ndarray] | np.ndarray,
    labels: np.ndarray,
    names: Sequence[str] | None = None,
    batch_size: int = 256,
    tta: str = "none",
    progress: Callable[[str], None] | None = None,
) -> Robustness:
    """Clean accuracy and, for each perturbation ``names`` (default: all registered), accuracy,
    change against clean, its paired 95 % interval and the share of changed predictions."""
    from fer_lightning.evaluation.stats import CI_METHOD

    names = chosen(names)
    labels = np.asarray(labels, dtype=np.int64)
    clean = predict(loaded, images, None, batch_size, tta)
    correct_clean = clean == labels
    acc_clean = float(correct_clean.mean()) if len(labels) else float("nan")
    rows = [
        Row(
            "clean",
            "the test images as decoded",
            acc_clean,
            accuracy_interval(correct_clean),
            0.0,
            (0.0, 0.0),
            0.0,
        )
    ]
    if progress:
        progress(f"clean: {100 * acc_clean:.2f} %")
    for name in names:
        predicted = predict(loaded, images, PERTURBATIONS[name], batch_size, tta)
        correct = predicted == labels
        accuracy = float(correct.mean())
        row = Row(
            name,
            DESCRIPTIONS[name],
            accuracy,
            accuracy_interval(correct),
            accuracy - acc_clean,
            change_interval(correct_clean, correct),
            float((predicted != clean).mean()),
        )
        rows.append(row)
        if progress:
            progress(f"{name}: {100 * accuracy:.2f} % ({100 * row.change:+.2f} points)")
    return Robustness(rows, len(labels), tta, CI_METHOD + " (paired for the change)")


def read(path: Path) -> dict[str, Any]:
    """A ``robustness.json`` as written by :meth:`Robustness.to_json`."""
    return json.loads(Path(path).read_text())
