"""``fer-lightning recognize``: face detection on real photos, classification, videos, bad input.

Here: the fast tests; the others are in ``tests/real_data/test_recognize.py``."""

from __future__ import annotations

import csv
import io
import struct
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from fer_lightning.inference.checkpoint import load_model
from fer_lightning.inference.detect import Box
from tests.helpers.recognizing import iou, recognize
from tests.helpers.tiny_models import fit_tiny

ASTRONAUT = Path(__import__("skimage").__file__).parent / "data" / "astronaut.png"
#: Where the astronaut's face is in astronaut.png (512x512), checked by eye: x, y, w, h.
ASTRONAUT_FACE = Box(175, 65, 97, 97)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fit_tiny(tmp_path_factory.mktemp("tiny"))


def save(path: Path, rgb: np.ndarray) -> Path:
    Image.fromarray(rgb).save(path)
    return path


# ---------------------------------------------------------------------------- detection
def test_astronaut_face_is_found(ckpt: Path, capsys: pytest.CaptureFixture) -> None:
    rc, records, errors = recognize(capsys, "--ckpt", str(ckpt), str(ASTRONAUT))
    assert rc == 0 and not errors
    (record,) = records
    assert record["status"] == "ok" and record["frame"] is None and record["face"] == 0
    assert iou(Box(*record["box"]), ASTRONAUT_FACE) > 0.7, record["box"]
    assert list(record["probs"]) == load_model(ckpt).class_names
    assert sum(record["probs"].values()) == pytest.approx(1, abs=1e-4)
    assert record["label"] == max(record["probs"], key=record["probs"].get)


def test_blank_and_textured_images_have_no_face(
    ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    blank = save(tmp_path / "blank.png", np.full((400, 600, 3), 200, np.uint8))
    noise = np.random.default_rng(0).integers(0, 256, (400, 600, 3), dtype=np.uint8)
    noisy = save(tmp_path / "noise.png", noise)
    rc, records, errors = recognize(capsys, "--ckpt", str(ckpt), str(blank), str(noisy))
    assert rc == 0 and not errors
    assert [(r["file"], r["status"], r["box"], r["probs"]) for r in records] == [
        (str(blank), "no_face", None, None),
        (str(noisy), "no_face", None, None),
    ]


# ----------------------------------------------------------------------- classification
def test_no_detect_classifies_the_whole_image_like_evaluation(
    ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """--no-detect on a 48x48 FER-style image = the model on (pixel/255 - mean)/std."""
    files = sorted((ckpt.parents[2] / "data" / "fer2013" / "test").rglob("*.jpg"))[:5]
    rc, records, _ = recognize(capsys, "--ckpt", str(ckpt), "--no-detect", *map(str, files))
    assert rc == 0 and [r["file"] for r in records] == [str(f) for f in files]
    loaded = load_model(ckpt)
    mean, std = loaded.preprocessing.mean, loaded.preprocessing.std
    pixels = np.stack([np.asarray(Image.open(f)) for f in files]).astype(np.float32)
    x = torch.from_numpy((pixels / 255 - mean) / std)[:, None]
    with torch.inference_mode():
        want = loaded.model(x).softmax(-1).numpy()
    got = np.array([list(r["probs"].values()) for r in records])
    np.testing.assert_allclose(got, want, atol=2e-6)
    assert all(r["box"] == [0, 0, 48, 48] for r in records)


@pytest.mark.parametrize("margin", ["0", "0.25"])
def test_detected_face_is_classified_from_its_box(
    margin: str, ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The probabilities of a detected face are those of the crop at its reported box (grown by
    the margin) taken from the original image: boxes are in original coordinates."""
    rgb = np.asarray(Image.open(ASTRONAUT).convert("RGB"))
    rc, (record,), _ = recognize(capsys, "--ckpt", str(ckpt), "--margin", margin, str(ASTRONAUT))
    crop_box = Box(*record["box"]).with_margin(float(margin), rgb.shape[1], rgb.shape[0])
    crop = save(tmp_path / "crop.png", crop_box.crop(rgb))
    rc, (whole,), _ = recognize(capsys, "--ckpt", str(ckpt), "--no-detect", str(crop))
    assert whole["box"] == [0, 0, crop_box.w, crop_box.h]
    assert whole["probs"] == pytest.approx(record["probs"], abs=1e-6)


def test_csv_output_and_out_file(ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    blank = save(tmp_path / "blank.png", np.zeros((100, 100, 3), np.uint8))
    out = tmp_path / "out" / "faces.csv"
    args = ["--ckpt", str(ckpt), "--format", "csv", "--out", str(out), str(ASTRONAUT), str(blank)]
    rc, records, _ = recognize(capsys, *args)
    assert rc == 0 and records == []  # all of it went to the file
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    names = load_model(ckpt).class_names
    assert list(rows[0]) == [
        "file", "frame", "time_s", "face", "status", "x", "y", "w", "h", "label", "confidence",
        *[f"prob_{n}" for n in names],
    ]  # fmt: skip
    assert [(r["file"], r["status"]) for r in rows] == [
        (str(ASTRONAUT), "ok"),
        (str(blank), "no_face"),
    ]
    assert sum(float(rows[0][f"prob_{n}"]) for n in names) == pytest.approx(1, abs=1e-4)
    assert rows[1]["x"] == "" and rows[1]["label"] == ""


def test_folder_input_and_annotated_copies(
    ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    rgb = np.asarray(Image.open(ASTRONAUT).convert("RGB"))
    save(folder / "a.jpg", rgb)
    save(folder / "sub" / "a.jpg", rgb[:, ::-1].copy())  # same name, other folder
    (folder / "notes.txt").write_text("not an image")  # ignored inside folders
    annotated = tmp_path / "annotated"
    rc, records, errors = recognize(  # Haar: its box's left side lies on a dark background
        capsys, "--ckpt", str(ckpt), "--detector", "haar", "--annotate", str(annotated), str(folder)
    )
    assert rc == 0 and not errors
    assert [Path(r["file"]).relative_to(folder).as_posix() for r in records] == [
        "a.jpg",
        "sub/a.jpg",
    ]
    assert sorted(p.name for p in annotated.iterdir()) == ["a-1.jpg", "a.jpg"]
    drawn = np.asarray(Image.open(annotated / "a.jpg"))
    assert drawn.shape == rgb.shape
    b = Box(*records[0]["box"])
    # The left side of the box is drawn green there (JPEG blurs it over 2-3 px).
    change = drawn[b.y : b.y + b.h, b.x : b.x + 2].astype(int) - rgb[b.y : b.y + b.h, b.x : b.x + 2]
    assert change[..., 1].mean() > 40 and change[..., 0].mean() < 0, "box not drawn there"
    away = np.abs(drawn[: b.y - 30].astype(int) - rgb[: b.y - 30]).mean()
    assert away < 5, "the rest is the photo (up to JPEG)"


# ------------------------------------------------------------------------------- videos
#: The frame rate test videos are written at.
FPS = 10


def write_video(path: Path, frames: list[np.ndarray]) -> Path:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (width, height))
    assert writer.isOpened()
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def test_video_frames_with_stride(
    ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    face = np.asarray(Image.open(ASTRONAUT).convert("RGB"))[40:200, 150:310]  # 160x160
    frames = []
    for i in range(7):
        frame = np.full((240, 320, 3), 90, np.uint8)
        if i % 4 != 2:  # frames 2 and 6 are blank
            x = 20 + 15 * i
            frame[40:200, x : x + 160] = face
        frames.append(frame)
    video = write_video(tmp_path / "clip.avi", frames)
    annotated = tmp_path / "annotated"
    rc, records, errors = recognize(
        capsys, "--ckpt", str(ckpt), "--frame-stride", "2", "--annotate", str(annotated), str(video)
    )
    assert rc == 0 and not errors
    assert [(r["frame"], r["status"]) for r in records] == [
        (0, "ok"),
        (2, "no_face"),
        (4, "ok"),
        (6, "no_face"),
    ]
    # each frame's time in the video: its index over the frame rate the file was written at
    assert [r["time_s"] for r in records] == [round(i / FPS, 3) for i in (0, 2, 4, 6)]
    for r in records:
        if r["status"] == "ok":  # the face moves 15 px per frame
            x = 20 + 15 * r["frame"]
            assert iou(Box(*r["box"]), Box(x + 25, 25 + 40, 97, 97)) > 0.6, r
    assert sorted(p.name for p in annotated.iterdir()) == [
        f"clip_frame{i:06d}.jpg" for i in (0, 2, 4, 6)
    ]


# ---------------------------------------------------------------------------- bad input
def png_header(path: Path, width: int, height: int) -> Path:
    """A PNG that declares ``width`` x ``height`` gray pixels but holds almost no data: a
    decompression bomb is as small on disk and fails only once decoded."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = (
        chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(10_000))) + chunk(b"IEND", b"")
    )
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


def test_each_bad_input_is_one_line_and_the_batch_goes_on(
    ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    good = save(tmp_path / "good.jpg", np.asarray(Image.open(ASTRONAUT).convert("RGB")))
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    empty = tmp_path / "empty.png"
    empty.touch()
    text = tmp_path / "text.jpg"
    text.write_text("this is not a JPEG\n")
    bomb = png_header(tmp_path / "bomb.png", 30_000, 30_000)
    video = tmp_path / "garbage.mp4"
    video.write_bytes(np.random.default_rng(0).bytes(20_000))
    empty_dir = tmp_path / "no_images"
    empty_dir.mkdir()
    (empty_dir / "readme.txt").write_text("nothing here")
    missing = tmp_path / "missing.png"
    bad = [truncated, empty, text, bomb, video, empty_dir, missing]

    rc, records, errors = recognize(
        capsys, "--ckpt", str(ckpt), str(bad[0]), str(good), *map(str, bad[1:])
    )
    assert rc == 1
    assert [r["file"] for r in records] == [str(good)], "the good image is still processed"
    assert len(errors) == len(bad), errors
    for path, line in zip(bad, errors, strict=True):
        assert str(path) in line and "Traceback" not in line
    assert "truncated" in errors[0]
    assert "0 bytes" in errors[1]
    assert "not an image" in errors[2]
    assert "900,000,000 pixels" in errors[3] and "decompression bomb" in errors[3]
    assert "cannot be opened as a video" in errors[4]
    assert "no images or videos" in errors[5]
    assert "does not exist" in errors[6]


def test_max_pixels_is_configurable(ckpt: Path, capsys: pytest.CaptureFixture) -> None:
    rc, records, errors = recognize(
        capsys, "--ckpt", str(ckpt), "--max-pixels", "10000", str(ASTRONAUT)
    )
    assert rc == 1 and records == [] and "512x512 = 262,144 pixels" in errors[0]


def test_missing_checkpoint_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rc, records, errors = recognize(capsys, "--ckpt", str(tmp_path / "none.ckpt"), str(ASTRONAUT))
    assert rc == 2 and records == []
    assert errors == [f"fer-lightning: error: checkpoint {tmp_path / 'none.ckpt'} does not exist"]


def test_exif_orientation_is_applied(
    ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A phone photo stored sideways with an EXIF orientation: boxes are in the upright image."""
    sideways = Image.open(ASTRONAUT).convert("RGB").transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    path = tmp_path / "phone.jpg"
    sideways.save(path, exif=exif, quality=95)
    rc, (record,), _ = recognize(capsys, "--ckpt", str(ckpt), str(path))
    assert rc == 0 and iou(Box(*record["box"]), ASTRONAUT_FACE) > 0.7, record["box"]


@pytest.mark.parametrize(
    ("class_path", "color"),
    [
        ("fer_lightning.data.FER2013DataModule", "gray"),
        ("fer_lightning.data.RAFDBDataModule", "rgb"),  # RAF-DB trains on colour images
        ("this.Zen", "gray"),  # never imported (importing prints the Zen): only ours are
        (None, "gray"),
    ],
)
def test_faces_take_the_colour_of_the_training_images(class_path: str | None, color: str) -> None:
    from fer_lightning.inference.preprocess import Preprocessing

    data = {"image_size": 8, "channels": 3, "mean": 0.5, "std": 0.25, "_class_path": class_path}
    p = Preprocessing.from_data_args(data, source="test")
    assert p.color == color
    assert "this" not in sys.modules
    rgb = np.zeros((10, 12, 3), np.uint8)
    rgb[..., 0] = 255  # pure red: gray 76, so the channels differ only for an RGB model
    x = p.to_tensor([p.to_training_color(rgb)])
    assert x.shape == (1, 3, 8, 8)
    first = ((255 if color == "rgb" else 76) / 255 - 0.5) / 0.25
    assert x[0, 0, 0, 0].item() == pytest.approx(first, abs=1e-5)
    assert (x[0, 1] != x[0, 0]).all() == (color == "rgb")


def test_out_over_an_input_is_refused_and_the_input_kept(
    ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    photo = save(tmp_path / "photo.png", np.asarray(Image.open(ASTRONAUT).convert("RGB")))
    before = photo.read_bytes()
    for out in (photo, tmp_path / "." / "photo.png", ckpt):
        rc, records, errors = recognize(capsys, "--ckpt", str(ckpt), "--out", str(out), str(photo))
        assert rc == 2 and not records
    assert photo.read_bytes() == before
    assert ckpt.stat().st_size > 0


def test_annotating_into_the_inputs_folder_writes_beside_them(
    ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    rgb = np.asarray(Image.open(ASTRONAUT).convert("RGB"))
    photos = [save(tmp_path / name, rgb) for name in ("a.png", "a-annotated.png")]
    before = [p.read_bytes() for p in photos]
    rc, records, errors = recognize(
        capsys, "--ckpt", str(ckpt), "--annotate", str(tmp_path), *map(str, photos)
    )
    assert rc == 0 and not errors and len(records) == 2
    assert [p.read_bytes() for p in photos] == before, "the inputs are untouched"
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "a-annotated-1.png",
        "a-annotated-annotated.png",
        "a-annotated.png",
        "a.png",
    ]


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--scale-factor", "1.0", "--scale-factor 1.0: the face detector needs above 1.0"),
        ("--scale-factor", "0.5", "--scale-factor 0.5"),
        ("--min-neighbors", "-3", "--min-neighbors -3: the face detector needs 0 or more"),
        ("--min-face", "0", "--min-face 0"),
    ],
)
def test_detector_options_out_of_range_are_one_sentence(
    ckpt: Path, capsys: pytest.CaptureFixture, option: str, value: str, says: str
) -> None:
    rc, records, errors = recognize(capsys, "--ckpt", str(ckpt), option, value, str(ASTRONAUT))
    assert rc == 2 and records == [] and len(errors) == 1 and says in errors[0]


def test_images_of_every_bit_depth_read_as_their_8_bit_version(
    ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A 16-bit greyscale PNG is the same picture as its 8-bit version (PIL alone clips it
    white); CMYK and palette images convert; floating-point pixels are refused in one line."""
    gray = np.asarray(Image.open(ASTRONAUT).convert("L").resize((96, 96)))
    eight = save(tmp_path / "eight.png", gray)
    Image.fromarray(gray.astype(np.uint16) * 257).save(tmp_path / "sixteen.png")
    Image.fromarray(gray).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=100)
    Image.fromarray(gray.astype(np.float32)).save(tmp_path / "float.tif")
    assert Image.open(tmp_path / "sixteen.png").mode == "I;16"
    names = ["eight.png", "sixteen.png", "float.tif"]
    rc, records, errors = recognize(
        capsys, "--ckpt", str(ckpt), "--no-detect", *(str(tmp_path / n) for n in names)
    )
    assert rc == 1 and len(records) == 2
    assert records[1]["probs"] == records[0]["probs"]
    assert len(errors) == 1 and "float.tif" in errors[0] and "floating-point" in errors[0]
    from fer_lightning.inference.media import read_image

    assert np.abs(read_image(tmp_path / "cmyk.jpg")[..., 0].astype(int) - gray).mean() < 3
    assert read_image(eight).shape == (96, 96, 3)


# ------------------------------------------------------------- detectors on real photos
def test_yunet_finds_more_real_faces_than_haar() -> None:
    """Recall on the real-photo set (tests/data/photos; the photos that ship inside installed
    packages are always there, the others where $FER_PHOTOS_DIR has them). Measured on all
    36 photos, 52 faces: YuNet 52 (1.00) with 0 false positives, Haar 46 (0.88) with 10."""
    from fer_lightning.bench.recognition import photo_recall

    result = photo_recall(rounds=1)
    assert result["photos"] >= 6 and result["faces"] >= 2
    yunet, haar = result["yunet"], result["haar"]
    assert yunet["recall"] >= 0.95, yunet
    assert yunet["false_positives"] <= 2, yunet
    if result["faces"] > 10:  # the whole set: the cascade misses turned and partial faces
        assert haar["found"] < yunet["found"], (haar, yunet)


def test_haar_is_still_an_option(ckpt: Path, capsys: pytest.CaptureFixture) -> None:
    rc, (record,), errors = recognize(
        capsys, "--ckpt", str(ckpt), "--detector", "haar", str(ASTRONAUT)
    )
    assert rc == 0 and not errors
    assert iou(Box(*record["box"]), ASTRONAUT_FACE) > 0.7, record["box"]


def test_yunet_box_grown_by_its_margin_matches_a_fer2013_crop() -> None:
    """The default detector's box, grown by its default margin, is about the size of the
    face as FER2013 crops it (astronaut: the face checked by eye is 97 px)."""
    from fer_lightning.inference.detect import YuNetDetector

    rgb = np.asarray(Image.open(ASTRONAUT).convert("RGB"))
    (box,) = YuNetDetector().detect(rgb)
    crop = box.with_margin(YuNetDetector.default_margin, 512, 512)
    assert abs(box.w - box.h) <= 1, "square boxes"
    assert iou(crop, ASTRONAUT_FACE) > 0.6, crop


# ------------------------------------------------------------------------------ batches
@pytest.mark.parametrize("detector", ["yunet", "haar"])
def test_batched_recognition_equals_one_image_at_a_time(
    detector: str, ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    rgb = np.asarray(Image.open(ASTRONAUT).convert("RGB"))
    files = [
        save(tmp_path / "a.png", rgb),
        save(tmp_path / "b.png", rgb[:, ::-1].copy()),
        save(tmp_path / "blank.png", np.full((200, 300, 3), 120, np.uint8)),
        save(tmp_path / "two.png", np.concatenate([rgb, rgb[::1, ::-1]], axis=1)),
    ]
    args = ["--ckpt", str(ckpt), "--detector", detector, *map(str, files)]
    _, one, _ = recognize(capsys, "--batch-size", "1", *args)
    _, many, _ = recognize(capsys, "--batch-size", "16", *args)
    assert [(r["file"], r["face"], r["box"]) for r in many] == [
        (r["file"], r["face"], r["box"]) for r in one
    ]
    assert len(many) == 5
    for a, b in zip(one, many, strict=True):
        assert (a["probs"] is None) == (b["probs"] is None)
        if a["probs"]:
            assert b["probs"] == pytest.approx(a["probs"], abs=1e-5)


# ------------------------------------------------------------------------ more bad input
def test_more_bad_inputs_are_one_line_each(
    ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 1x1 image and a photo without a face are records; a truncated video and a folder
    that cannot be listed are one line each; the good image after them is still processed."""
    one = save(tmp_path / "one.png", np.zeros((1, 1, 3), np.uint8))
    frames = [np.full((120, 160, 3), 40 * i, np.uint8) for i in range(5)]
    video = write_video(tmp_path / "clip.avi", frames)
    truncated = tmp_path / "truncated.avi"
    truncated.write_bytes(video.read_bytes()[:200])
    locked = tmp_path / "locked"
    locked.mkdir()
    save(locked / "x.png", np.zeros((8, 8, 3), np.uint8))
    real_rglob = Path.rglob

    def rglob(self: Path, pattern: str):  # root reads any folder: refuse this one by hand
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real_rglob(self, pattern)

    monkeypatch.setattr(Path, "rglob", rglob)
    good = save(tmp_path / "good.png", np.asarray(Image.open(ASTRONAUT).convert("RGB")))
    rc, records, errors = recognize(
        capsys, "--ckpt", str(ckpt), str(one), str(truncated), str(locked), str(good)
    )
    assert rc == 1
    assert [(Path(r["file"]).name, r["status"]) for r in records] == [
        ("one.png", "no_face"),
        ("good.png", "ok"),
    ]
    assert len(errors) == 2, errors
    assert "truncated.avi" in errors[0]
    assert "locked" in errors[1] and "cannot be read" in errors[1] and "Permission" in errors[1]
