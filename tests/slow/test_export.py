"""``fer-lightning export``: ONNX files that onnxruntime runs like PyTorch, with the class names
and preprocessing in their metadata."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest
import torch
from PIL import Image

from fer_lightning.inference.checkpoint import load_model
from fer_lightning.inference.export import INPUT_NAME, OUTPUT_NAME, read_metadata
from fer_lightning.inference.recognizer import Recognizer
from fer_lightning.main import main
from tests.helpers.tiny_models import fit_tiny

pytestmark = pytest.mark.slow  # trains a checkpoint per model, exports it, runs onnxruntime

ASTRONAUT = Path(__import__("skimage").__file__).parent / "data" / "astronaut.png"
FACE = (slice(65, 162), slice(175, 272))  # the astronaut's face (rows, columns)

EXPERIMENTS = {
    "baseline_cnn": ("baseline_fer2013",),
    "resnet18": ("resnet18_fer2013", "--model.pretrained=false"),
}


@pytest.fixture(scope="module", params=list(EXPERIMENTS))
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """(checkpoint, onnx file) of a tiny trained model, exported through the CLI."""
    root = tmp_path_factory.mktemp(request.param)
    ckpt = fit_tiny(root, *EXPERIMENTS[request.param])
    out = root / "model.onnx"
    assert main(["export", "--ckpt", str(ckpt), "--out", str(out)]) == 0
    return ckpt, out


def run_onnx(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run([OUTPUT_NAME], {INPUT_NAME: x.astype(np.float32)})[0]


def test_onnxruntime_matches_pytorch(exported: tuple[Path, Path]) -> None:
    ckpt, onnx_file = exported
    loaded = load_model(ckpt)
    rgb = np.asarray(Image.open(ASTRONAUT).convert("RGB"))
    faces = [
        loaded.preprocessing.to_training_color(rgb[FACE]),
        loaded.preprocessing.to_training_color(rgb),
    ]
    p = loaded.preprocessing
    noise = torch.randn(
        3, p.channels, p.image_size, p.image_size, generator=torch.Generator().manual_seed(1)
    )
    x = torch.cat([p.to_tensor(faces), noise])
    with torch.inference_mode():
        want = loaded.model(x).softmax(-1).numpy()
    got = run_onnx(onnx_file, x.numpy())
    assert got.shape == (5, len(loaded.class_names))
    assert np.abs(got - want).max() <= 1e-4
    single = run_onnx(onnx_file, x[:1].numpy())  # the batch axis is dynamic
    assert np.abs(single - want[:1]).max() <= 1e-4


def test_metadata_holds_class_names_and_preprocessing(exported: tuple[Path, Path]) -> None:
    ckpt, onnx_file = exported
    loaded = load_model(ckpt)
    meta = read_metadata(onnx_file)
    p = loaded.preprocessing
    assert json.loads(meta["class_names"]) == loaded.class_names
    assert int(meta["image_size"]) == p.image_size and int(meta["channels"]) == p.channels
    assert json.loads(meta["mean"]) == p.mean and json.loads(meta["std"]) == p.std
    assert meta["color"] == "gray"
    assert meta["backbone"] == loaded.model.hparams.backbone


def test_metadata_alone_reproduces_recognize(
    exported: tuple[Path, Path], capsys: pytest.CaptureFixture
) -> None:
    """A user with only the .onnx file (no fer-lightning) gets recognize's probabilities."""
    ckpt, onnx_file = exported
    meta = read_metadata(onnx_file)
    face = np.asarray(Image.open(ASTRONAUT).convert("RGB"))[FACE]
    size, channels = int(meta["image_size"]), int(meta["channels"])
    gray = cv2.cvtColor(face, cv2.COLOR_RGB2GRAY)
    pixels = cv2.resize(gray, (size, size), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    x = (pixels / 255 - json.loads(meta["mean"])) / json.loads(meta["std"])
    x = np.repeat(x[None, None], channels, axis=1)
    got = run_onnx(onnx_file, x)[0]

    want = Recognizer(load_model(ckpt), detector=None).classify([gray])[0]
    assert np.abs(got - want).max() <= 1e-4


def test_unwritable_output_is_one_line(
    exported: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    ckpt, _ = exported
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    assert main(["export", "--ckpt", str(ckpt), "--out", str(blocker / "model.onnx")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("fer-lightning: error:") and str(blocker) in err[-1]
