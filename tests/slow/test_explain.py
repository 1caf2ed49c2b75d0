"""Grad-CAM explanations (issue 14): a heatmap for every backbone family, the heatmap of a
trained model on the evidence that decides its class, and the ``explain`` command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fer_lightning.evaluation.explain import FAMILIES, gradcam, target_layer
from fer_lightning.main import main
from fer_lightning.models.classifier import FERClassifier
from tests.helpers.tiny_models import fit_tiny

pytestmark = pytest.mark.slow  # trains a model, then Grad-CAM on its images

#: One backbone of each family, at a small input that leaves a target map of at least 2x2
#: (googlenet 3x3 at 96, inception_v3 3x3 at 139).
FAMILY_MODELS = [
    ("baseline_cnn", 1, 48, {}),
    ("resnet18", 3, 64, {}),
    ("resnet50v2", 3, 64, {}),
    ("vgg16", 3, 64, {}),
    ("efficientnet_b0", 3, 64, {}),
    ("mobilenet_v2", 3, 64, {}),
    ("densenet121", 3, 64, {}),
    ("googlenet", 3, 96, {}),
    ("inception_v3", 3, 139, {"aux_logits": False}),
    ("vit_b16", 3, 32, {}),
]


def test_every_family_is_covered() -> None:
    assert set(FAMILIES.values()) == {
        "cnn", "resnet", "resnetv2", "features", "googlenet", "inception", "vit"
    }  # fmt: skip
    covered = {FAMILIES[name] for name, *_ in FAMILY_MODELS}
    assert covered == set(FAMILIES.values())


@pytest.mark.parametrize(("backbone", "chans", "size", "kwargs"), FAMILY_MODELS)
def test_gradcam_heatmap_for_every_backbone_family(
    backbone: str, chans: int, size: int, kwargs: dict
) -> None:
    torch.manual_seed(0)
    model = FERClassifier(
        backbone=backbone, backbone_kwargs=kwargs, num_classes=3, in_chans=chans, image_size=size
    )
    x = torch.randn(1, chans, size, size).repeat(3, 1, 1, 1)
    with torch.inference_mode():  # as at the end of a test epoch
        heat, probs = gradcam(model, x, [0, 1, 2])
    assert heat.shape == (3, size, size) and np.isfinite(heat).all()
    assert heat.min() >= 0 and heat.max() <= 1
    # an untrained net's map can be all negative for a class (ReLU'd to 0), not for every one
    assert max(np.ptp(h) for h in heat) > 0.5
    assert probs.shape == (3, 3) and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert model.training  # left as it was


def patch_images(n: int, rng: np.random.Generator, side: int = 24) -> tuple[torch.Tensor, ...]:
    """Noise; class 1 has a bright 5x5 patch somewhere, which alone decides the class."""
    x = rng.uniform(0, 0.3, (n, 1, side, side)).astype(np.float32)
    y = rng.integers(0, 2, n)
    for i in np.flatnonzero(y):
        r, c = rng.integers(0, side - 5, 2)
        x[i, 0, r : r + 5, c : c + 5] = 1.0
    return torch.from_numpy(x), torch.from_numpy(y)


def test_heatmap_peaks_on_the_planted_patch_that_decides_the_class() -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = FERClassifier(
        backbone="baseline_cnn",
        backbone_kwargs={"widths": (8, 16), "dropout": 0.0},
        num_classes=2,
        in_chans=1,
        image_size=24,
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        x, y = patch_images(64, rng)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    x, y = patch_images(200, rng)
    with torch.no_grad():
        accuracy = (model(x).argmax(1) == y).float().mean().item()
    assert accuracy > 0.95, accuracy  # the model uses the patch

    image = np.random.default_rng(1).uniform(0, 0.3, (1, 1, 24, 24)).astype(np.float32)
    checked = 0
    for r, c in [(2, 15), (16, 3), (10, 10)]:
        planted = image.copy()
        planted[0, 0, r : r + 5, c : c + 5] = 1.0
        heat, probs = gradcam(model, torch.from_numpy(planted), [1])
        assert probs[0, 1] > 0.9
        peak_r, peak_c = np.unravel_index(heat[0].argmax(), heat[0].shape)
        assert r - 2 <= peak_r <= r + 6 and c - 2 <= peak_c <= c + 6, (r, c, peak_r, peak_c)
        # far more heat on the patch than elsewhere
        inside = heat[0, r : r + 5, c : c + 5].mean()
        mask = np.ones_like(heat[0], bool)
        mask[max(r - 3, 0) : r + 8, max(c - 3, 0) : c + 8] = False
        assert inside > 3 * heat[0][mask].mean()
        checked += 1
    assert checked == 3


def test_explain_command_writes_heatmaps(tmp_path: Path) -> None:
    ckpt = fit_tiny(tmp_path / "tiny")
    faces = []
    rng = np.random.default_rng(0)
    for i in range(2):
        path = tmp_path / f"face{i}.png"
        Image.fromarray(rng.integers(0, 256, (60, 50, 3), dtype=np.uint8)).save(path)
        faces.append(str(path))
    out = tmp_path / "out"
    assert (
        main(["explain", "--ckpt", str(ckpt), *faces, "--class", "happy", "--out", str(out)]) == 0
    )
    written = sorted(p.name for p in out.iterdir())
    assert written == ["face0-gradcam.png", "face1-gradcam.png"]
    assert all((out / name).stat().st_size > 5000 for name in written)


def test_explain_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    ckpt = fit_tiny(tmp_path / "tiny")
    face = tmp_path / "face.png"
    Image.fromarray(np.zeros((48, 48), np.uint8)).save(face)
    cases = [
        (["--ckpt", str(ckpt), str(face), "--class", "joy"], "--class 'joy' is not one of"),
        (["--ckpt", str(ckpt), str(tmp_path / "no.png")], "no.png is not a file"),
        (["--ckpt", str(ckpt)], "give --ckpt CKPT and one or more image paths"),
        (["--run", str(tmp_path)], "has no config.yaml"),
    ]
    for args, message in cases:
        capsys.readouterr()
        assert main(["explain", *args, "--out", str(tmp_path / "x")]) != 0
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "x").exists()
    assert target_layer  # imported for the family table above
