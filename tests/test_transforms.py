"""Augmentation configured as data: presets and explicit albumentations lists."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fer_lightning.data.transforms import (
    PRESETS,
    build_pipeline,
    describe_augment,
    train_ten_crop,
    trains_on_ten_crops,
)
from fer_lightning.errors import FERUserError

IMAGE = np.random.default_rng(0).integers(0, 256, size=(48, 48), dtype=np.uint8)


@pytest.mark.parametrize("augment", sorted(PRESETS))
def test_presets_give_normalised_float_tensors(augment: str) -> None:
    pipe = build_pipeline(image_size=48, mean=0.5, std=0.25, augment=augment, train=True, seed=0)
    out = pipe(image=IMAGE)["image"]
    assert out.shape == (1, 48, 48) and out.dtype == torch.float32
    assert out.min() >= -2.0 - 1e-6 and out.max() <= 2.0 + 1e-6  # (0..1 - 0.5) / 0.25


def test_eval_pipeline_only_resizes_and_normalises() -> None:
    pipe = build_pipeline(image_size=64, mean=0.5, std=0.25, augment="qutub2023", train=False)
    out = pipe(image=np.full((48, 48), 255, dtype=np.uint8))["image"]
    assert out.shape == (1, 64, 64)
    torch.testing.assert_close(out, torch.full((1, 64, 64), 2.0))


def test_explicit_list_is_applied() -> None:
    flip = [{"name": "HorizontalFlip", "p": 1.0}]
    pipe = build_pipeline(image_size=48, mean=0.0, std=1.0, augment=flip, train=True, seed=0)
    out = pipe(image=IMAGE)["image"][0].numpy()
    np.testing.assert_allclose(out, IMAGE[:, ::-1] / 255.0, atol=1e-6)


def test_an_explicit_list_is_named_by_its_transforms_and_never_ten_crops() -> None:
    spec = [{"name": "HorizontalFlip", "p": 0.5}, {"name": "Affine", "rotate": [-10, 10]}]
    assert describe_augment(spec) == "HorizontalFlip + Affine"
    assert describe_augment("qutub2023") == "qutub2023" and describe_augment([]) == "none"
    assert not trains_on_ten_crops(spec) and train_ten_crop(spec, 48) is None
    assert trains_on_ten_crops("qutub2023") and train_ten_crop("qutub2023", 48) == 40


def test_unknown_transform_and_preset_are_named() -> None:
    with pytest.raises(FERUserError, match="'Flipp' is not an albumentations transform"):
        build_pipeline(image_size=48, mean=0.5, std=0.25, augment=[{"name": "Flipp"}], train=True)
    with pytest.raises(
        FERUserError, match="unknown preset 'paper'; known: keras_idg, none, qutub2023"
    ):
        build_pipeline(image_size=48, mean=0.5, std=0.25, augment="paper", train=True)
    with pytest.raises(FERUserError, match="bad arguments for albumentations.Rotate"):
        build_pipeline(
            image_size=48, mean=0.5, std=0.25, augment=[{"name": "Rotate", "limt": 3}], train=True
        )
