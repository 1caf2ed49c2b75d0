"""Augmentation configured as data: presets and explicit albumentations lists."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fer_lightning.data import FER2013DataModule
from fer_lightning.data.transforms import (
    ROBUST_AUGMENT,
    build_pipeline,
    describe_augment,
    robust_specs,
    train_ten_crop,
    trains_on_ten_crops,
)
from fer_lightning.errors import FERUserError

IMAGE = np.random.default_rng(0).integers(0, 256, size=(48, 48), dtype=np.uint8)


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


def _train_image(robust: dict[str, float] | None, image: np.ndarray = IMAGE) -> np.ndarray:
    pipe = build_pipeline(
        image_size=48, mean=0.0, std=1.0, augment="none", train=True, seed=0, robust=robust
    )
    return pipe(image=image)["image"][0].numpy()


@pytest.mark.parametrize("option", sorted(ROBUST_AUGMENT))
def test_robust_options_change_training_images_only_when_on(option: str) -> None:
    plain = _train_image(None)
    np.testing.assert_allclose(plain, IMAGE / 255.0, atol=1e-6)  # augment none: the image
    for off in ({}, {option: 0.0}):
        np.testing.assert_array_equal(_train_image(off), plain)
    on = _train_image({option: 1.0})
    assert not np.array_equal(on, plain), option
    if option == "occlusion":  # a grey band over whole rows
        grey = np.flatnonzero((np.abs(on - 128 / 255) < 1e-6).all(axis=1))
        assert 7 <= len(grey) <= 15 and np.all(np.diff(grey) == 1)
    # the evaluation pipeline never has them
    evaluation = build_pipeline(image_size=48, mean=0.0, std=1.0, train=False, robust={option: 1})
    np.testing.assert_array_equal(evaluation(image=IMAGE)["image"][0].numpy(), plain)


def test_robust_options_are_checked_and_reach_the_datamodule() -> None:
    with pytest.raises(FERUserError, match="unknown option 'noise'; known: blur, jpeg"):
        robust_specs({"noise": 0.5})
    with pytest.raises(FERUserError, match="robust_augment.jpeg must be a probability"):
        robust_specs({"jpeg": 1.5})
    dm = FER2013DataModule(augment="none", robust_augment={"blur": 1.0})
    blurred = dm.pipeline(train=True, native_size=48)(image=IMAGE)["image"]
    assert (
        blurred.std()
        < FER2013DataModule(augment="none").pipeline(True, 48)(image=IMAGE)["image"].std()
    )
    with pytest.raises(FERUserError, match="data.robust_augment"):
        FER2013DataModule(robust_augment={"occlusion": -1})


def test_a_recipe_switches_robust_options_on_from_yaml(tmp_path: Path) -> None:
    from fer_lightning.build import settings

    default = settings("ours_fer2013").config.data.init_args
    assert default.robust_augment is None  # published recipes: off
    on = settings("ours_fer2013", ["--data.robust_augment={jpeg: 0.3, occlusion: 0.2}"])
    assert on.config.data.init_args.robust_augment == {"jpeg": 0.3, "occlusion": 0.2}
