"""The studies' augmentation presets: what the model gets, repeatably; ten-crop training samples;
the augment-preview grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fer_lightning.data import FER2013DataModule
from fer_lightning.data.transforms import PRESETS, build_pipeline, train_ten_crop
from fer_lightning.main import main
from fer_lightning.models import FERClassifier

RNG = np.random.default_rng(0)
GRAY = RNG.integers(0, 256, size=(48, 48), dtype=np.uint8)
RGB = RNG.integers(0, 256, size=(100, 100, 3), dtype=np.uint8)
STUDY_PRESETS = ["qutub2023", "keras_idg", "trinh2023", "none"]


def test_the_studies_presets_exist() -> None:
    assert set(STUDY_PRESETS) <= set(PRESETS)


@pytest.mark.parametrize("augment", sorted(PRESETS))
@pytest.mark.parametrize(
    ("image", "size", "channels"), [(GRAY, 48, 1), (GRAY, 224, 1), (RGB, 100, 3)]
)
def test_preset_gives_the_models_input(
    augment: str, image: np.ndarray, size: int, channels: int
) -> None:
    mean, std = 0.5, 0.25
    pipe = build_pipeline(image_size=size, mean=mean, std=std, augment=augment, train=True, seed=0)
    out = pipe(image=image)["image"]
    assert out.shape == (channels, size, size) and out.dtype == torch.float32
    low, high = (0 - mean) / std, (1 - mean) / std
    assert out.min() >= low - 1e-5 and out.max() <= high + 1e-5
    # ...augmented: some draw differs from the evaluation pipeline's (resize, normalise only)
    plain = build_pipeline(image_size=size, mean=mean, std=std, augment=augment, train=False)
    reference = plain(image=image)["image"]
    draws = [pipe(image=image)["image"] for _ in range(8)]
    augmented = any(not torch.allclose(d, reference, atol=1e-4) for d in draws)
    assert augmented == (augment != "none"), f"{augment}: augmented={augmented}"


@pytest.mark.parametrize("augment", STUDY_PRESETS)
def test_preset_is_repeatable_under_a_seed(augment: str) -> None:
    def run(seed: int) -> torch.Tensor:
        pipe = build_pipeline(
            image_size=48, mean=0.5, std=0.25, augment=augment, train=True, seed=seed
        )
        return torch.stack([pipe(image=GRAY)["image"] for _ in range(4)])

    torch.testing.assert_close(run(3), run(3), rtol=0, atol=0)
    if augment != "none":
        assert not torch.equal(run(3), run(4))


def test_keras_idg_moves_the_image_but_keeps_its_content() -> None:
    """Small geometric changes (<= 15 degrees, 15 % shift and zoom): an augmented face stays
    close to the original, unlike qutub2023's 45-degree rotations."""

    def distance(augment: str) -> float:
        pipe = build_pipeline(image_size=48, mean=0.0, std=1.0, augment=augment, train=True, seed=0)
        base = torch.from_numpy(GRAY / 255.0).float()
        smooth = torch.nn.functional.avg_pool2d(base[None, None], 5, 1, 2)[0, 0]
        image = (smooth * 255).byte().numpy()
        ref = torch.from_numpy(image / 255.0).float()
        outs = [pipe(image=image)["image"][0] for _ in range(20)]
        return float(torch.stack([(o - ref).abs().mean() for o in outs]).mean())

    assert distance("keras_idg") < distance("qutub2023")


@pytest.mark.filterwarnings(r"ignore:You are trying to `self.log\(\)`")
def test_qutub2023_trains_on_ten_crops_as_samples(fer_folder: Path) -> None:
    assert train_ten_crop("qutub2023", 48) == 40 and train_ten_crop("keras_idg", 48) is None
    dm = FER2013DataModule(
        data_dir=str(fer_folder), batch_size=4, num_workers=0, augment="qutub2023"
    )
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (4, 10, 1, 48, 48) and y.shape == (4,)
    x_val, _ = next(iter(dm.val_dataloader()))
    assert x_val.shape == (4, 1, 48, 48)  # evaluation sees whole images
    model = FERClassifier(
        backbone="baseline_cnn",
        head="mlp",
        head_kwargs={"hidden": [16]},
    )
    seen: list[int] = []
    model.head.register_forward_hook(lambda mod, inp, out: seen.append(out.shape[0]))
    loss = model.training_step((x, y), 0)
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert seen == [40]  # each of the ten crops of the four images is one sample


def test_augment_preview_writes_the_grid(fer_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "grid.png"
    rc = main(
        [
            "augment-preview",
            "--exp",
            "baseline_fer2013",
            f"--data_dir={fer_folder}",
            "--augment=qutub2023",
            f"--out={out}",
            "--samples=3",
            "--augmented=2",
        ]
    )
    assert rc == 0
    with Image.open(out) as img:
        width, height = img.size
    assert width > 200 and height > 200


def test_augment_preview_names_a_bad_experiment(capsys: pytest.CaptureFixture) -> None:
    assert main(["augment-preview", "--exp", "nope", "--out", "x.png"]) == 2
    assert "unknown experiment 'nope'" in capsys.readouterr().err
