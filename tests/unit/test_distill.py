"""data.distill: training targets mixed from the labels and teacher models' distributions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fer_lightning.data import FER7, FER2013DataModule, distill
from fer_lightning.errors import FERUserError
from fer_lightning.inference.checkpoint import load_model
from fer_lightning.models import init_from
from tests.helpers.commands import TINY_EPOCH, run_cli
from tests.helpers.fakedata import write_fer2013_folder
from tests.helpers.tiny_models import fit_tiny


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"teachers": []}, ["data.distill.teachers", "one or more"]),
        ({"teacher": ["x"]}, ["data.distill", "teacher", "known: teachers"]),
        ("ours", ["data.distill must be a mapping"]),
        ({"teachers": ["no/such-model"]}, ["no/such-model", "zoo model"]),
        ({"teachers": ["missing.ckpt"]}, ["missing.ckpt", "checkpoint"]),
    ],
)
def test_settings_refused_in_one_sentence(settings: object, says: list[str]) -> None:
    with pytest.raises(FERUserError) as err:
        distill.parse(settings)  # type: ignore[arg-type]
    assert all(s in str(err.value) for s in says), err.value


@pytest.mark.parametrize(
    ("key", "value"), [("weight", 0), ("weight", 1.5), ("temperature", 0), ("weight", "x")]
)
def test_numbers_refused_naming_their_key(tmp_path: Path, key: str, value: object) -> None:
    teacher = tmp_path / "t.ckpt"
    teacher.write_bytes(b"x")  # found; its contents are read only when teaching
    with pytest.raises(FERUserError, match=f"data.distill.{key}"):
        distill.parse({"teachers": [str(teacher)], key: value})


def test_targets_mix_the_label_and_the_teachers_mean(monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = {
        "a": np.array([[0.6, 0.4, 0.0], [0.2, 0.2, 0.6]], np.float32),
        "b": np.array([[0.2, 0.8, 0.0], [0.0, 0.0, 1.0]], np.float32),
    }
    monkeypatch.setattr(distill, "teacher_probabilities", lambda name, *a, **k: outputs[name])
    settings = distill.DistillSettings(("a", "b"), weight=0.25)
    got = distill.distill_targets(settings, np.zeros((2, 4, 4), np.uint8), np.array([0, 2]), "xyz")
    mean = np.array([[0.4, 0.6, 0.0], [0.1, 0.1, 0.8]])
    np.testing.assert_allclose(got, 0.75 * np.eye(3)[[0, 2]] + 0.25 * mean, atol=1e-6)
    # a dataset's own distributions (FER+'s votes) take the label's place
    own = np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]], np.float32)
    got = distill.distill_targets(
        settings, np.zeros((2, 4, 4), np.uint8), np.array([0, 2]), "xyz", own
    )
    np.testing.assert_allclose(got, 0.75 * own + 0.25 * mean, atol=1e-6)


def test_training_yields_the_targets_and_evaluation_the_labels(
    fer_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def fake(name: str, images: np.ndarray, classes: list[str], *a: object) -> np.ndarray:
        calls.append(name)
        return np.full((len(images), len(classes)), 1 / len(classes), np.float32)

    monkeypatch.setattr(distill, "teacher_probabilities", fake)
    monkeypatch.setattr(distill, "_resolve", lambda name: Path(name))
    monkeypatch.setattr(init_from, "source_hparams", lambda *a: (None, {"class_names": FER7}))
    dm = FER2013DataModule(data_dir=str(fer_folder), distill={"teachers": ["t"], "weight": 0.5})
    dm.setup("fit")
    train = dm.dataset("train", train=True)
    labels = dm.splits["train"].labels
    _, target = train[3]
    assert target.dtype == torch.float32
    expected = 0.5 * np.eye(7)[labels[3]] + 0.5 / 7
    np.testing.assert_allclose(target.numpy(), expected, atol=1e-6)
    dm.dataset("train", train=True)
    assert calls == ["t"]  # once per datamodule
    _, label = dm.dataset("val")[0]
    assert label.dtype == torch.long


@pytest.fixture(scope="module")
def teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny trained FER2013 checkpoint (7 classes)."""
    return fit_tiny(tmp_path_factory.mktemp("teacher"))


def test_a_teacher_sees_images_as_it_was_trained_and_is_cached(
    teacher: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probabilities are the model's on its own preprocessing (the recognize path), in the
    student's class order; a second call reads them from the cache."""
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20, 48, 48), dtype=np.uint8)
    order = ["happy", "angry", "surprise", "neutral", "sad", "fear", "disgust"]
    probs = distill.teacher_probabilities(str(teacher), images, order)
    loaded = load_model(teacher)
    with torch.no_grad():
        expected = loaded.model(loaded.preprocessing.to_tensor(list(images))).softmax(-1)
    expected = expected[:, [FER7.index(c) for c in order]].numpy()
    np.testing.assert_allclose(probs, expected, atol=1e-5)
    assert len(list((tmp_path / "cache").glob("distill-*.npy"))) == 1
    # a temperature divides the log-probabilities
    soft = distill.teacher_probabilities(str(teacher), images, order, temperature=2.0)
    sharp = soft**2
    np.testing.assert_allclose(sharp / sharp.sum(1, keepdims=True), probs, atol=1e-5)
    monkeypatch.setattr(distill, "DataLoader", None)  # the model is not run again
    np.testing.assert_array_equal(distill.teacher_probabilities(str(teacher), images, order), probs)


def test_a_teacher_without_a_students_class_is_one_sentence(teacher: Path) -> None:
    images = np.zeros((2, 48, 48), np.uint8)
    with pytest.raises(FERUserError, match=r"has no class contempt .*every class it teaches"):
        distill.teacher_probabilities(str(teacher), images, ["happy", "contempt"])


def test_fit_with_a_teacher_through_the_command_line(
    teacher: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_fer2013_folder(tmp_path / "data")
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("WANDB_MODE", "disabled")
    cli = run_cli(
        [
            "fit",
            "--exp",
            "baseline_fer2013",
            f"--data.data_dir={tmp_path / 'data'}",
            f"--run_dir={tmp_path / 'run'}",
            f"--data.distill={{teachers: [{teacher}], weight: 0.5, temperature: 2}}",
            *TINY_EPOCH,
            "--test_after_fit=false",
        ]
    )
    dm = cli.datamodule
    split = dm.splits["train"]
    mean = distill.teacher_probabilities(str(teacher), split.images, dm.class_names, 2.0)
    expected = 0.5 * np.eye(7)[split.labels] + 0.5 * mean
    np.testing.assert_allclose(dm.dataset("train", train=True).labels.numpy(), expected, atol=1e-6)
    assert cli.trainer.global_step == 2
    assert "distill:" in (tmp_path / "run" / "config.yaml").read_text()  # the run's record
