"""Model cards and calibration: the temperature fitted on the validation split, ``recognize``
dividing the logits by it, the card's sections, ``recognize --about`` in short, bad names."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fer_lightning import zoo
from fer_lightning.evaluation import calibration
from fer_lightning.evaluation.robustness import Robustness, Row
from fer_lightning.main import main
from fer_lightning.results import card
from tests.helpers.tiny_models import fit_tiny

CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


# ------------------------------------------------------------------------------ the fit
def sampled(temperature: float, n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits and labels drawn from softmax(logits / temperature): T is what fits them."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, 5)) * 3
    probs = np.exp(logits / temperature)
    probs /= probs.sum(axis=1, keepdims=True)
    labels = (probs.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1)
    return logits, labels


@pytest.mark.parametrize("temperature", [0.5, 2.5])
def test_the_fit_recovers_a_known_temperature(temperature: float) -> None:
    logits, labels = sampled(temperature)
    fitted = calibration.fit_temperature(logits, labels)
    assert fitted == pytest.approx(temperature, rel=0.1)
    assert calibration.nll(logits, labels, fitted) < calibration.nll(logits, labels, 1.0)


def test_rescaled_probabilities_are_the_softmax_of_the_logits_over_t() -> None:
    logits, _ = sampled(1.0, n=10)
    probs = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
    expected = torch.softmax(torch.from_numpy(logits) / 2.0, dim=1).numpy()
    np.testing.assert_allclose(calibration.rescale(probs, 2.0), expected, rtol=1e-6, atol=1e-9)


# ------------------------------------------------------------------- a tiny zoo model
@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(run folder with config.yaml, summary.json, predictions.npz; its bundle)."""
    from fer_lightning.inference import bundled

    root = tmp_path_factory.mktemp("tiny")
    ckpt = fit_tiny(root, "baseline_fer2013", "--test_after_fit=true")
    return root / "run", bundled.bundle(root / "run", ckpt, root / "model.safetensors")


@pytest.fixture
def tiny_zoo(
    tiny: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> zoo.ZooModel:
    """A zoo (results/) holding the tiny model as ``tiny/run`` with temperature 3."""
    run, weights = tiny
    folder = tmp_path / "results" / "tiny" / "run"
    folder.mkdir(parents=True)
    for name in ("summary.json", "config.yaml", "predictions.npz"):
        shutil.copy(run / name, folder / name)
    shutil.copy(weights, folder / zoo.WEIGHTS)
    (folder / zoo.CALIBRATION).write_text(json.dumps({"temperature": 3.0}))
    monkeypatch.setattr(zoo, "ZOO_DIR", tmp_path / "results")
    monkeypatch.setenv("FER_CACHE_DIR", str(run.parent / "cache"))
    assert zoo.write_records(tmp_path / "results")  # what 'fer-lightning models --write' does
    return zoo.get("tiny/run")


def test_calibrate_fits_on_the_validation_split_not_the_test_split(
    tiny_zoo: zoo.ZooModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fer_lightning.build import build
    from fer_lightning.inference.bundled import load_any

    seen = []
    fit = calibration.fit_temperature

    def spy(logits: np.ndarray, labels: np.ndarray) -> float:
        seen.append((logits, labels))
        return fit(logits, labels)

    monkeypatch.setattr(calibration, "fit_temperature", spy)
    result = calibration.calibrate(tiny_zoo.weights, tiny_zoo.folder)
    dm = build(tiny_zoo.config, ["--run_dir=null", "--model.pretrained=false"], "test").datamodule
    dm.setup("test")
    loaded = load_any(tiny_zoo.weights)
    val, test = dm.splits["val"], dm.splits["test"]
    assert not np.array_equal(val.images, test.images)  # the check can tell them apart
    [(logits, labels)] = seen
    np.testing.assert_array_equal(labels, val.labels)
    np.testing.assert_allclose(logits, calibration.logits_of(loaded, val.images), rtol=1e-6)
    assert result["fitted_on"] == f"validation split ({len(val)} images)"
    assert result["temperature"] == fit(logits, labels)
    assert result["nll_after"] <= result["nll_before"]


def face_image(path: Path) -> np.ndarray:
    pixels = np.random.default_rng(1).integers(0, 256, (48, 48), dtype=np.uint8)
    Image.fromarray(pixels, mode="L").save(path)
    return pixels


def recognized(capsys: pytest.CaptureFixture[str], *args: str) -> np.ndarray:
    assert main(["recognize", "--no-detect", *args]) == 0
    record = json.loads(capsys.readouterr().out.splitlines()[0])
    return np.array(list(record["probs"].values()))


def test_recognize_divides_the_logits_by_the_zoo_temperature(
    tiny_zoo: zoo.ZooModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fer_lightning.inference.bundled import load_any

    pixels = face_image(tmp_path / "face.png")
    loaded = load_any(tiny_zoo.weights)
    with torch.inference_mode():
        logits = loaded.model(loaded.preprocessing.to_tensor([pixels])).float()[0]
    raw, scaled = logits.softmax(-1).numpy(), (logits / 3.0).softmax(-1).numpy()
    assert np.abs(raw - scaled).max() > 1e-3  # T = 3 makes a visible difference
    by_name = recognized(capsys, "--ckpt", "tiny/run", str(tmp_path / "face.png"))
    by_path = recognized(capsys, "--ckpt", str(tiny_zoo.weights), str(tmp_path / "face.png"))
    plain = recognized(capsys, "--ckpt", "tiny/run", "--no-calibration", str(tmp_path / "face.png"))
    np.testing.assert_allclose(by_name, scaled, atol=2e-6)
    np.testing.assert_allclose(by_path, scaled, atol=2e-6)
    np.testing.assert_allclose(plain, raw, atol=2e-6)


# ------------------------------------------------------------------------------ the card
def fake_model(root: Path, robustness: bool) -> zoo.ZooModel:
    """A zoo model's result folder with the files a card is made from (no real weights)."""
    folder = root / "exp" / "run"
    folder.mkdir(parents=True)
    weights = folder / zoo.WEIGHTS
    weights.write_bytes(b"weights")
    summary = {
        "dataset": "FER2013",
        "split": "official",
        "tta": "none",
        "test_images": 1000,
        "test_accuracy": 0.7012,
        "test_accuracy_ci95": [0.68, 0.72],
        "test_accuracy_no_copies": 0.6543,
        "test_images_no_copies": 900,
        "test_accuracy_no_near_copies": 0.6421,
        "test_images_no_near_copies": 850,
        "copies": {"exact": 100, "near": 150, "method": "pixels"},
        "ece": 0.0321,
        "checkpoint": "runs/exp/1/checkpoints/best.ckpt",
        "checkpoint_selection": "best val/acc",
        "parameters": 1234,
    }
    (folder / "summary.json").write_text(json.dumps(summary))
    (folder / "command.txt").write_text("fer-lightning fit --exp exp\n")
    (folder / "report.csv").write_text(
        "class,precision,recall,f1,support,auc\n"
        + "".join(f"{c},0.5,0.6,0.55,10,0.9\n" for c in CLASSES)
        + "accuracy,,,0.7,70,\n"
    )
    (folder / "confusion_matrix_test.csv").write_text(
        "true\\pred,"
        + ",".join(CLASSES)
        + "\n"
        + "".join(f"{c}," + ",".join(["1"] * 7) + "\n" for c in CLASSES)
    )
    (folder / zoo.CALIBRATION).write_text(
        json.dumps(
            {
                "temperature": 1.5,
                "fitted_on": "validation split (500 images)",
                "nll_before": 1.0,
                "nll_after": 0.9,
                "ece_test_before": 0.0321,
                "ece_test_after": 0.0123,
                "ece_bins": 15,
                "test_tta": "none",
                "method": "temperature scaling",
            }
        )
    )
    if robustness:
        rows = [
            Row("clean", "as decoded", 0.70, (0.68, 0.72), 0.0, (0.0, 0.0), 0.0),
            Row("blur_1", "blur", 0.586, (0.56, 0.61), -0.114, (-0.13, -0.10), 0.2),
            Row("jpeg_20", "jpeg", 0.572, (0.55, 0.59), -0.128, (-0.14, -0.11), 0.2),
            Row("occlude_mouth", "mouth", 0.373, (0.35, 0.39), -0.327, (-0.35, -0.30), 0.5),
            Row("flip", "flip", 0.699, (0.68, 0.72), -0.001, (-0.01, 0.01), 0.1),
        ]
        result = Robustness(rows, 1000, "none", "bootstrap")
        (folder / card.ROBUSTNESS).write_text(json.dumps(result.to_json()))
    record = {
        "name": "exp/run",
        "weights": weights.relative_to(root.parent).as_posix(),
        "sha256": hashlib.sha256(b"weights").hexdigest(),
        "bytes": 7,
        "dtype": "float32",
        "class_names": CLASSES,
        "backbone": "baseline_cnn",
        "head": "mlp",
        "input": {"image_size": 48, "channels": 1, "color": "gray", "mean": 0.5, "std": 0.25},
        "temperature": 1.5,
        "dataset": "FER2013",
        "split": "official",
        "tta": "none",
        "provenance": {"experiment": "exp", "checkpoint": "1/best.ckpt"},
    }
    (folder / zoo.RECORD).write_text(json.dumps(record))
    return zoo.ZooModel("exp/run", folder, record)


@pytest.fixture
def card_zoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "results"
    monkeypatch.setattr(zoo, "ZOO_DIR", root)
    return root


def test_card_has_both_accuracies_calibration_and_the_robustness_rows(card_zoo: Path) -> None:
    model = fake_model(card_zoo, robustness=True)
    text = card.markdown(model)
    assert "paper protocol: 70.12 % [68.00, 72.00] on 1,000 test images" in text
    assert "without the 100 exact copies of training images: 65.43 % on 900 images" in text
    assert "without the 150 exact or near copies: 64.21 % on 850 images" in text
    assert "| angry | 50.0 | 60.0 | 55.0 | 10 |" in text
    assert "| neutral | 1 | 1 | 1 | 1 | 1 | 1 | 1 |" in text
    assert "temperature T = 1.5000" in text and "before 3.21 %, after 1.23 %" in text
    for row in ("| blur_1 | 58.60 | -11.40 |", "| jpeg_20 | 57.20 | -12.80 |",
                "| occlude_mouth | 37.30 | -32.70 |"):  # fmt: skip
        assert row in text
    assert "not measured yet" not in text.lower()
    short = card.short(model)
    assert "occlude_mouth -32.7 points, jpeg_20 -12.8 points, blur_1 -11.4 points" in short
    assert "65.43 %" in short and "temperature 1.500" in short
    assert 5 <= len(short.splitlines()) <= 8


def test_card_without_robustness_says_it_was_not_measured(card_zoo: Path) -> None:
    model = fake_model(card_zoo, robustness=False)
    text = card.markdown(model)
    assert "Not measured yet: `fer-lightning robustness --ckpt exp/run --out " in text
    assert "not measured yet" in card.short(model)


def test_card_command_writes_model_card_md(card_zoo: Path) -> None:
    model = fake_model(card_zoo, robustness=True)
    assert main(["card", "exp/run"]) == 0
    assert (model.folder / card.FILENAME).read_text() == card.markdown(model)


@pytest.mark.parametrize("command", ["card", "calibrate"])
def test_an_unknown_name_is_one_sentence_and_nothing_is_written(
    command: str, card_zoo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_model(card_zoo, robustness=True)
    before = sorted(card_zoo.rglob("*"))
    assert main([command, "exp/run", "exp/rnu"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "'exp/rnu' is neither a file nor a zoo model" in err and "zoo models: exp/run" in err
    assert sorted(card_zoo.rglob("*")) == before
