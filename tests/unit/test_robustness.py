"""``fer-lightning robustness``: each perturbation does what its name says, the paired bootstrap
interval of the change, the evaluation on a tiny model, and the command end to end.

Here: the fast tests; the others are in ``tests/real_data/test_robustness.py``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from fer_lightning.evaluation import robustness
from fer_lightning.evaluation.robustness import (
    DESCRIPTIONS,
    PERTURBATIONS,
    change_interval,
    evaluate,
    occlusion_rows,
    register,
)
from fer_lightning.experiments import resolve
from fer_lightning.inference.checkpoint import load_model
from fer_lightning.main import main
from tests.helpers.fakedata import write_ckplus
from tests.helpers.tiny_models import fit_tiny


def smooth_image(side: int = 48, rgb: bool = False, seed: int = 0) -> np.ndarray:
    """A face-sized uint8 image with structure at every scale: a gradient, a blob, noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side] / side
    base = 40 + 120 * x + 60 * np.exp(-((x - 0.3) ** 2 + (y - 0.6) ** 2) / 0.02)
    shape = (side, side, 3) if rgb else (side, side)
    noisy = (base[..., None] if rgb else base) + rng.normal(0, 15, size=shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


GREY = smooth_image()
RGB = smooth_image(96, rgb=True)


@pytest.fixture
def extra_perturbation() -> Iterator[str]:
    """An identity perturbation registered for the test, removed after it."""
    name = "identity_for_test"
    register(name, "the image unchanged", lambda image: image.copy())
    yield name
    del PERTURBATIONS[name], DESCRIPTIONS[name]


@pytest.mark.parametrize("name", list(PERTURBATIONS))
@pytest.mark.parametrize("image", [GREY, RGB], ids=["grey48", "rgb96"])
def test_every_perturbation_keeps_shape_and_dtype_and_is_deterministic(
    name: str, image: np.ndarray
) -> None:
    before = image.copy()
    out = PERTURBATIONS[name](image)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert not np.array_equal(out, image), f"{name} left the image unchanged"
    np.testing.assert_array_equal(PERTURBATIONS[name](image), out)
    np.testing.assert_array_equal(image, before)  # the input is not written to


@pytest.mark.parametrize("image", [GREY, RGB], ids=["grey48", "rgb96"])
def test_flip_is_the_mirror_image(image: np.ndarray) -> None:
    np.testing.assert_array_equal(PERTURBATIONS["flip"](image), np.fliplr(image))


def test_brightness_multiplies_and_clips() -> None:
    x = GREY.astype(np.float64)
    np.testing.assert_array_equal(PERTURBATIONS["brightness_0.7"](GREY), np.rint(x * 0.7))
    bright = PERTURBATIONS["brightness_1.3"](GREY)
    np.testing.assert_array_equal(bright, np.clip(np.rint(x * 1.3), 0, 255))
    assert bright.max() == 255  # the blob saturates


def test_contrast_scales_deviations_from_the_mean() -> None:
    out = PERTURBATIONS["contrast_0.6"](GREY).astype(np.float64)
    x = GREY.astype(np.float64)
    assert abs(out.mean() - x.mean()) < 0.5
    np.testing.assert_allclose(out - x.mean(), (x - x.mean()) * 0.6, atol=0.5 + 1e-9)


@pytest.mark.parametrize(("name", "degrees"), [("rotate_+10", 10), ("rotate_-10", -10)])
def test_rotation_turns_a_point_about_the_centre(name: str, degrees: float) -> None:
    """+10 is counter-clockwise on screen: a point right of the centre moves up."""
    image = np.zeros((48, 48), np.uint8)
    centre = 23.5
    image[22:26, 39:43] = 255  # centred on (row 23.5, column 40.5): 17 px right of the centre
    out = PERTURBATIONS[name](image).astype(np.float64)
    rows, cols = np.mgrid[0:48, 0:48]
    row = (rows * out).sum() / out.sum()
    col = (cols * out).sum() / out.sum()
    angle = np.radians(degrees)
    assert row == pytest.approx(centre - 17 * np.sin(angle), abs=0.3)
    assert col == pytest.approx(centre + 17 * np.cos(angle), abs=0.3)


def test_blur_is_a_gaussian_of_sigma_one() -> None:
    """The same filter by OpenCV: 9 x 9 (4 sigma each side), border reflected (abc|cba)."""
    for image in (GREY, RGB):
        expected = cv2.GaussianBlur(
            image.astype(np.float64), (9, 9), 1.0, borderType=cv2.BORDER_REFLECT
        )
        out = PERTURBATIONS["blur_1"](image).astype(np.float64)
        assert np.abs(out - expected).max() <= 0.5 + 1e-6  # uint8 rounding
        assert out.std() < image.std()


@pytest.mark.parametrize("image", [GREY, RGB], ids=["grey48", "rgb96"])
def test_jpeg_20_loses_detail_but_keeps_the_image(image: np.ndarray) -> None:
    out = PERTURBATIONS["jpeg_20"](image)
    error = np.abs(out.astype(np.int16) - image).mean()
    assert 5 < error < 20  # lossy, but the same picture
    if image.ndim == 2:  # OpenCV's encoder at quality 20 gives the same pixels
        _, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 20])
        np.testing.assert_array_equal(out, cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED))


def test_shift_moves_content_4_px_right_and_down_at_48_and_8_at_96() -> None:
    for image, d in ((GREY, 4), (RGB, 8)):
        out = PERTURBATIONS["shift_4"](image)
        np.testing.assert_array_equal(out[d:, d:], image[:-d, :-d])
        np.testing.assert_array_equal(
            out[:d, d:], np.broadcast_to(image[0, :-d], out[:d, d:].shape)
        )
        np.testing.assert_array_equal(out[d:, :d], np.repeat(image[:-d, :1], d, axis=1))


@pytest.mark.parametrize(
    ("name", "first", "last"), [("occlude_mouth", 30, 44), ("occlude_eyes", 12, 24)]
)
def test_occlusion_is_grey_over_exactly_its_rows(name: str, first: int, last: int) -> None:
    for image, scale in ((GREY, 1), (RGB, 2)):
        out = PERTURBATIONS[name](image)
        band = slice(first * scale, (last + 1) * scale)
        assert (out[band] == 128).all()
        outside = np.ones(image.shape[0], bool)
        outside[band] = False
        np.testing.assert_array_equal(out[outside], image[outside])
    assert occlusion_rows(30, 44, 100) == slice(62, 94)  # rounded for sizes not a multiple of 48


def test_register_refuses_taken_and_bad_names(extra_perturbation: str) -> None:
    with pytest.raises(ValueError, match="registered already"):
        register(extra_perturbation, "again", lambda image: image)
    for bad in ("a,b", "clean", "", "with space"):
        with pytest.raises(ValueError, match="letters, digits"):
            register(bad, "bad", lambda image: image)
    assert robustness.chosen([extra_perturbation]) == [extra_perturbation]


def test_paired_interval_contains_the_change_and_is_paired() -> None:
    rng = np.random.default_rng(1)
    clean = rng.random(500) < 0.7
    perturbed = clean & (rng.random(500) < 0.8)  # loses about 14 points
    change = perturbed.mean() - clean.mean()
    low, high = change_interval(clean, perturbed)
    assert low < change < high and high < 0
    # Three images of 500 change: resampling both conditions together sees only those three
    # (an interval within a point); resampled apart, each accuracy's own spread (+-4 points).
    few = clean.copy()
    few[np.flatnonzero(clean)[:3]] = False
    low, high = change_interval(clean, few)
    assert -0.02 < low <= -0.006 <= high <= 0.0
    assert change_interval(clean, clean) == (0.0, 0.0)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fit_tiny(tmp_path_factory.mktemp("tiny"))


def test_identity_perturbation_changes_nothing(tiny: Path, extra_perturbation: str) -> None:
    loaded = load_model(tiny)
    images = np.stack([smooth_image(seed=s) for s in range(20)])
    labels = np.arange(20) % 7
    result = evaluate(loaded, images, labels, [extra_perturbation, "occlude_eyes"], batch_size=8)
    clean, same, eyes = result.rows
    assert clean.name == "clean" and same.name == extra_perturbation
    assert same.accuracy == clean.accuracy and same.change == 0.0
    assert same.changed == 0.0 and same.change_ci == (0.0, 0.0)
    assert clean.accuracy_ci[0] <= clean.accuracy <= clean.accuracy_ci[1]
    assert eyes.change_ci[0] <= eyes.change <= eyes.change_ci[1]
    ten = evaluate(loaded, images, labels, ["flip"], batch_size=8, tta="ten_crop")
    assert ten.tta == "ten_crop" and len(ten.rows) == 2


def test_command_writes_the_table_and_the_json_beside_the_run(
    tiny: Path, capsys: pytest.CaptureFixture
) -> None:
    run = tiny.parent.parent
    assert main(["robustness", "--ckpt", str(tiny), "--perturbations", "flip,occlude_mouth"]) == 0
    out = capsys.readouterr().out
    assert "| occlude_mouth |" in out and "wrote" in out
    record = json.loads((run / "robustness.json").read_text())
    assert [r["name"] for r in record["rows"]] == ["clean", "flip", "occlude_mouth"]
    assert record["test_images"] == 14 and record["split"] == "official"  # 7 classes x 2
    clean, flip, _ = record["rows"]
    assert flip["change"] == pytest.approx(flip["accuracy"] - clean["accuracy"])
    assert (run / "robustness.md").read_text().count("\n| ") == 4  # header and 3 rows
    # --out elsewhere, and --limit: a class-stratified subset
    other = run.parent / "elsewhere"
    args = ["robustness", "--ckpt", str(tiny), "--perturbations", "jpeg_20", "--limit", "7"]
    assert main([*args, "--out", str(other)]) == 0
    assert json.loads((other / "robustness.json").read_text())["test_images"] == 7


def test_bad_inputs_are_one_sentence(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    ckplus = tmp_path / "ckplus.yaml"
    config = yaml.safe_load(resolve("cnn_ckplus").read_text())
    config["data"]["init_args"]["data_dir"] = str(write_ckplus(tmp_path / "data"))
    ckplus.write_text(yaml.safe_dump(config))
    alone = tmp_path / "alone.ckpt"
    alone.write_bytes(tiny.read_bytes())
    own = tmp_path / "robustness.json"  # a config named as an output would be
    own.write_text((tiny.parent.parent / "config.yaml").read_text())
    cases = [
        (["--ckpt", str(tiny), "--perturbations", "blurr"], "'blurr'; known: flip, brightness"),
        (["--ckpt", str(tmp_path / "no.ckpt")], "no.ckpt: no such file"),
        (["--ckpt", str(tiny), "--config", str(ckplus)], "but the data has anger, contempt"),
        (["--ckpt", str(alone)], "no config.yaml of its run beside it"),
        (["--ckpt", str(tiny), "--limit", "0"], "--limit 0: give a number"),
        (["--ckpt", str(tiny), "--config", str(own), "--out", str(tmp_path)], "also an input"),
    ]  # fmt: skip
    for args, message in cases:
        capsys.readouterr()
        assert main(["robustness", *args]) != 0, args
        err = capsys.readouterr().err.strip().splitlines()
        assert message in err[-1], err
    assert own.read_text() == (tiny.parent.parent / "config.yaml").read_text()
    assert not (tmp_path / "robustness.md").exists()


def test_stage_val_perturbs_the_validation_images_and_keeps_the_test_record(
    tiny: Path, capsys: pytest.CaptureFixture
) -> None:
    """Recipes are compared on validation: ``--stage val`` must perturb the validation images
    (named by their order-free set id) and write beside, never over, the test's record."""
    from fer_lightning.commands.robustness import own_data, test_split
    from fer_lightning.data.copies import image_ids, test_set_id

    run = tiny.parent.parent
    flags = ["robustness", "--ckpt", str(tiny), "--perturbations", "flip"]
    assert main(flags) == 0
    test_record = (run / "robustness.json").read_bytes()
    assert main([*flags, "--stage", "val"]) == 0
    assert "on the val split" in capsys.readouterr().out
    assert (run / "robustness.json").read_bytes() == test_record
    val_record = json.loads((run / "robustness_val.json").read_text())
    config, overrides = own_data(tiny)
    ids = {}
    for stage in ("val", "test"):
        _, _, images, labels = test_split(config, overrides, stage)
        ids[stage] = test_set_id(image_ids(images), labels)
    assert ids["val"] != ids["test"]
    assert val_record["stage"] == "val" and val_record["image_set"] == ids["val"]
    assert json.loads(test_record)["image_set"] == ids["test"]
