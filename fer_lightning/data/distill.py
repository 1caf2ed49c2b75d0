"""Distillation: training targets that mix each image's own label with what FER models
(teachers, e.g. the members of an ensemble) say of it (``data.distill``).

Offline distillation: before training, each teacher sees every training image once, without
augmentation, and the teachers' mean distribution is kept; the student is then trained with
the usual cross-entropy on ``(1 - weight) * label + weight * teachers`` (a one-hot label, or
the dataset's own distribution where it has one, FER+'s votes). The student sees augmented
views of images the teachers saw plain: the usual offline form, which costs one evaluation
pass per teacher instead of one per teacher in every training step.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from fer_lightning.data.labels import canonical
from fer_lightning.errors import FERUserError
from fer_lightning.paths import cache_dir

log = logging.getLogger(__name__)

KEYS = ("teachers", "weight", "temperature")


@dataclass(frozen=True)
class DistillSettings:
    """``data.distill``: ``teachers`` (zoo names, checkpoints or bundled weights files),
    ``weight`` of their distribution in the target (0-1; 1: the teachers only) and the
    ``temperature`` their log-probabilities are divided by (above 1 softens them)."""

    teachers: tuple[str, ...]
    weight: float = 0.5
    temperature: float = 1.0


def parse(settings: Mapping[str, Any] | None) -> DistillSettings | None:
    """``data.distill`` checked, each problem one sentence naming its key; None when off."""
    if settings is None:
        return None
    if not isinstance(settings, Mapping):
        raise FERUserError(
            f"data.distill must be a mapping such as {{teachers: [MODEL, ...], weight: 0.5}}, "
            f"got {settings!r}"
        )
    unknown = sorted(set(settings) - set(KEYS))
    if unknown:
        raise FERUserError(
            f"data.distill: unknown key(s) {', '.join(unknown)}; known: {', '.join(KEYS)}"
        )
    teachers = settings.get("teachers")
    if isinstance(teachers, str):
        teachers = [teachers]
    if not teachers or not all(isinstance(t, str) and t for t in teachers):
        raise FERUserError(
            "data.distill.teachers must list one or more FER models (zoo names, checkpoints "
            f"or .safetensors files), got {teachers!r}"
        )
    for teacher in teachers:
        _resolve(teacher)  # fail at config time, not after the data is loaded
    weight = settings.get("weight", 0.5)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 < weight <= 1:
        raise FERUserError(
            f"data.distill.weight must be a number within 0 (exclusive) and 1, got {weight!r}"
        )
    temperature = settings.get("temperature", 1.0)
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or not temperature > 0
    ):
        raise FERUserError(
            f"data.distill.temperature must be a positive number, got {temperature!r}"
        )
    return DistillSettings(tuple(teachers), float(weight), float(temperature))


def describe(settings: Mapping[str, Any] | None, names: bool = False) -> str | None:
    """``data.distill`` as a phrase for the tables (None when off); ``names``: list the
    teachers instead of counting them."""
    if not settings:
        return None
    teachers = settings.get("teachers") or []
    teachers = [teachers] if isinstance(teachers, str) else list(teachers)
    share = settings.get("weight", 0.5)
    who = ", ".join(teachers) if names else f"{len(teachers)} teacher(s)"
    return f"targets {share:g} from {who} (`data.distill`)"


def _resolve(teacher: str) -> Path:
    """The weights file of ``teacher`` (a zoo name, checked against its record, or a file)."""
    from fer_lightning import zoo  # the zoo imports the data package

    try:
        path = zoo.resolve(teacher)
    except FERUserError as err:  # an unknown zoo name, or weights that fail their SHA-256
        raise FERUserError(f"data.distill.teachers: {err}") from None
    if path is None or not path.is_file():
        raise FERUserError(
            f"data.distill.teachers: {teacher} is neither a zoo model ('fer-lightning models' "
            "lists them) nor a checkpoint or .safetensors file"
        )
    return path


def _columns(teacher: str, teacher_classes: Sequence[str], classes: Sequence[str]) -> list[int]:
    """The teacher's output index of each of ``classes`` (by meaning, through the synonyms)."""
    index = {canonical(c): i for i, c in enumerate(teacher_classes)}
    missing = [c for c in classes if canonical(c) not in index]
    if missing:
        raise FERUserError(
            f"data.distill: teacher {teacher} has no class {', '.join(missing)} (its classes: "
            f"{', '.join(teacher_classes)}); a teacher must know every class it teaches"
        )
    return [index[canonical(c)] for c in classes]


def _teacher(teacher: str, classes: Sequence[str]) -> tuple[Path, list[int]]:
    """The weights file of ``teacher`` and its output index of each of ``classes``, from its
    saved hyper-parameters (no model is built)."""
    from fer_lightning.models.init_from import source_hparams  # models import this package

    path = _resolve(teacher)
    _, hparams = source_hparams(str(path), "data.distill.teachers")
    return path, _columns(teacher, hparams.get("class_names") or [], classes)


def check_teachers(settings: DistillSettings | None, classes: Sequence[str]) -> None:
    """Each teacher is a FER model that knows every one of ``classes``: checked when the
    datamodule is made, before a run directory exists or any data is read."""
    for teacher in settings.teachers if settings else ():
        _teacher(teacher, classes)


@torch.no_grad()
def teacher_probabilities(
    teacher: str,
    images: np.ndarray,
    classes: Sequence[str],
    temperature: float = 1.0,
    batch_size: int = 256,
) -> np.ndarray:
    """``(N, len(classes))`` probabilities the model ``teacher`` gives the uint8 ``images``
    (gray ``(N, H, W)`` or RGB ``(N, H, W, 3)``), prepared as it was trained (its own size,
    channels and normalisation), restricted to ``classes`` and renormalised. Kept in the
    cache folder by the teacher's SHA-256, the classes, the temperature and the images, so a
    resumed or repeated run does not evaluate the teacher again."""
    from fer_lightning import zoo  # the zoo and the loaders import the data package
    from fer_lightning.inference.bundled import load_any

    path, columns = _teacher(teacher, classes)
    key = hashlib.sha1(f"{zoo.sha256(path)}|{'|'.join(classes)}|{temperature}|".encode())
    key.update(np.ascontiguousarray(images).tobytes())
    cached = cache_dir() / f"distill-{key.hexdigest()[:16]}.npy"
    if cached.is_file():
        probs = np.load(cached, allow_pickle=False)
        if probs.shape == (len(images), len(classes)):
            log.info("data.distill: teacher %s's outputs read from %s", teacher, cached)
            return probs
    loaded = load_any(path)
    prep = loaded.preprocessing
    if images.ndim == 4 and prep.color == "gray":  # RGB images for a gray model
        images = np.stack([prep.to_training_color(im) for im in images])
    square = images.shape[1] == images.shape[2]
    dataset = prep.dataset(images, native_size=images.shape[1] if square else None)
    model = loaded.model
    out = []
    for x, _ in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        log_probs = model(x.to(loaded.device)).float().log_softmax(-1)[:, columns]
        out.append((log_probs / temperature).softmax(-1).cpu().numpy())
    probs = np.concatenate(out) if out else np.zeros((0, len(classes)), np.float32)
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as fh:  # np.save on a path would add its own suffix to the temporary
        np.save(fh, probs, allow_pickle=False)
    tmp.replace(cached)  # whole or absent: a killed run leaves no half-written outputs
    return probs


def distill_targets(
    settings: DistillSettings,
    images: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    targets: np.ndarray | None = None,
) -> np.ndarray:
    """The training targets ``(N, classes)``: ``(1 - weight)`` of each image's own target (its
    ``targets`` row, else its one-hot ``labels``) plus ``weight`` of the teachers' mean."""
    own = targets if targets is not None else np.eye(len(classes), dtype=np.float32)[labels]
    teachers = []
    for name in settings.teachers:
        probs = teacher_probabilities(name, images, classes, settings.temperature)
        agree = float((probs.argmax(1) == labels).mean()) if len(labels) else float("nan")
        log.info(
            "data.distill: teacher %s agrees with %.2f %% of the %d training labels",
            name,
            100 * agree,
            len(labels),
        )
        teachers.append(probs)
    mean = np.mean(teachers, axis=0)
    w = settings.weight
    return ((1 - w) * own + w * mean).astype(np.float32)
