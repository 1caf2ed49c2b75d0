"""``fer-lightning recognize --ckpt CKPT PATH...``: facial expressions in photos and videos.

One output record per face (JSON lines, or CSV with ``--format csv``): file, frame (videos),
face index, box ``x, y, w, h`` in the original image's pixels, predicted label, its probability
and every class probability. An image (or video frame) without a face gives one record with
status ``no_face``. A bad input gives one line on stderr and the batch carries on; the exit code
is 1 when any input failed.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import cv2

from fer_lightning import zoo
from fer_lightning.errors import FERUserError
from fer_lightning.inference.bundle_info import about
from fer_lightning.inference.detect import (
    DETECTORS,
    DetectorSettings,
    HaarDetector,
    YuNetDetector,
    YuNetSettings,
)
from fer_lightning.inference.media import (
    DEFAULT_MAX_PIXELS,
    expand_inputs,
    is_video,
    read_image,
    read_video,
)
from fer_lightning.paths import is_one_of, refuse_overwriting

if TYPE_CHECKING:  # torch and the model: imported by main() once the arguments are fine
    import torch

    from fer_lightning.inference.recognizer import Face

log = logging.getLogger("fer_lightning")


def build_parser() -> argparse.ArgumentParser:
    d, y = DetectorSettings(), YuNetSettings()
    p = argparse.ArgumentParser(
        prog="fer-lightning recognize",
        description="Detect faces (YuNet, or OpenCV's Haar cascade) in images, folders of "
        "images and videos, and classify their expressions with a checkpoint of "
        "'fer-lightning fit'.",
    )
    p.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="image, folder or video")
    p.add_argument(
        "--ckpt",
        type=Path,
        help="checkpoint (.ckpt) of a fit run, or a bundled .safetensors model; or a zoo name "
        "('fer-lightning models'); default: the "
        "model that ships with the package (see --about)",
    )
    p.add_argument(
        "--about",
        action="store_true",
        help="say what the model is and how it was tested (a zoo model: its card in short), exit",
    )
    p.add_argument(
        "--no-calibration",
        action="store_true",
        help="raw softmax probabilities: do not divide the logits by the zoo model's "
        "temperature (fitted on its validation split by 'fer-lightning calibrate')",
    )
    p.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="output format")
    p.add_argument("--out", type=Path, help="write the records here instead of stdout")
    p.add_argument("--annotate", type=Path, metavar="DIR", help="write images with boxes here")
    p.add_argument("--no-detect", action="store_true", help="each image is already a cropped face")
    p.add_argument(
        "--detector",
        choices=DETECTORS,
        default="yunet",
        help="yunet: a small CNN (libfacedetection), finds turned, partly covered, small faces "
        "(default); haar: OpenCV's frontal-face Haar cascade",
    )
    p.add_argument(
        "--margin",
        type=float,
        default=None,
        help="grow each detected box by this fraction of its size per side before cropping "
        f"(default: the margin that matches FER2013's crops, {YuNetDetector.default_margin} "
        f"for yunet, {HaarDetector.default_margin} for haar)",
    )
    p.add_argument("--score", type=float, default=y.score, help="yunet: smallest confidence")
    p.add_argument("--scale-factor", type=float, default=d.scale_factor, help="haar only")
    p.add_argument("--min-neighbors", type=int, default=d.min_neighbors, help="haar only")
    p.add_argument(
        "--min-face",
        type=int,
        default=None,
        help=f"smallest face side in pixels (default {y.min_size} for yunet, "
        f"{d.min_size} for haar)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=16,
        help="images or video frames detected and classified together",
    )
    p.add_argument("--frame-stride", type=int, default=1, help="classify every N-th video frame")
    p.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help="refuse larger images and video frames (decompression bombs)",
    )
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    return p


class RecordWriter:
    """JSON lines or CSV rows, one per face or face-less image / frame."""

    def __init__(self, stream: IO[str], fmt: str, class_names: list[str]) -> None:
        self.stream = stream
        self.fmt = fmt
        self.class_names = class_names
        self.csv: Any = None
        if fmt == "csv":
            self.csv = csv.writer(stream)
            self.csv.writerow(
                ["file", "frame", "time_s", "face", "status", "x", "y", "w", "h", "label"]
                + ["confidence"]
                + [f"prob_{name}" for name in class_names]
            )

    def write(
        self, file: Path, frame: int | None, faces: list[Face], seconds: float | None = None
    ) -> None:
        if not faces:
            self._write(str(file), (frame, seconds), None, "no_face", None, None)
        for i, face in enumerate(faces):
            label = face.label(self.class_names)
            self._write(str(file), (frame, seconds), i, "ok", face, label)

    def _write(
        self,
        file: str,
        when: tuple[int | None, float | None],
        index: int | None,
        status: str,
        face: Face | None,
        label: str | None,
    ) -> None:
        frame, seconds = when
        probs = [round(float(p), 6) for p in face.probs] if face is not None else None
        confidence = max(probs) if probs else None
        if self.csv is not None:
            box = face.box.as_list() if face is not None else [None] * 4
            self.csv.writerow(
                [file, frame, seconds, index, status, *box, label, confidence]
                + (probs or [None] * len(self.class_names))
            )
        else:
            record = {
                "file": file,
                "frame": frame,
                "time_s": seconds,  # a video frame's time: its index over the frame rate
                "face": index,
                "status": status,
                "box": face.box.as_list() if face is not None else None,
                "label": label,
                "confidence": confidence,
                "probs": dict(zip(self.class_names, probs, strict=True)) if probs else None,
            }
            self.stream.write(json.dumps(record) + "\n")
        self.stream.flush()


@contextmanager
def _output(path: Path | None) -> Iterator[IO[str]]:
    if path is None:
        yield sys.stdout
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        stream = path.open("w", newline="")
    except OSError as err:
        raise FERUserError(f"cannot write the output file {path}: {err.strerror}") from None
    with stream:
        yield stream


class Annotator:
    """Writes annotated copies under one folder, never two inputs to the same name."""

    def __init__(self, folder: Path, class_names: list[str], inputs: list[Path]) -> None:
        self.folder = folder
        self.class_names = class_names
        #: never written over: an annotated copy in an input's own folder gets a new name
        self.inputs = inputs
        self.used: set[str] = set()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise FERUserError(f"cannot create the --annotate folder {folder}: {err}") from None

    def name_for(self, file: Path, frame: int | None) -> Path:
        stem = file.stem if frame is None else f"{file.stem}_frame{frame:06d}"
        suffix = file.suffix.lower() if frame is None and file.suffix else ".jpg"
        if suffix not in (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"):
            suffix = ".png"
        if is_one_of(self.folder / f"{stem}{suffix}", self.inputs) is not None:
            stem = f"{stem}-annotated"  # beside the input, never over it
        name, n = f"{stem}{suffix}", 1
        while name in self.used or is_one_of(self.folder / name, self.inputs) is not None:
            name, n = f"{stem}-{n}{suffix}", n + 1
        self.used.add(name)
        return self.folder / name

    def write(self, rgb: Any, faces: list[Face], file: Path, frame: int | None) -> None:
        from fer_lightning.inference.recognizer import annotate

        target = self.name_for(file, frame)
        if not cv2.imwrite(str(target), annotate(rgb, faces, self.class_names)):
            raise FERUserError(f"cannot write the annotated image {target}")


def _device(name: str) -> torch.device:
    import torch

    try:
        device = torch.device(name)
    except RuntimeError:
        raise FERUserError(
            f"--device '{name}' is not a torch device (cpu, cuda, cuda:1, ...)"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise FERUserError(f"--device {name}: no CUDA GPU is available here")
    return device


class _Batch:
    """Images and video frames waiting to be recognized together, written in input order.

    Flushed at ``size`` frames or :data:`BATCH_PIXELS` pixels, whichever comes first, so that a
    batch of large photos holds at most about that many pixels (3 bytes each) in memory."""

    #: 16 frames of 1280x720 = 14.7 million pixels; one image at the --max-pixels default is
    #: 89.5 million pixels (268 MB as RGB) and is recognized alone.
    BATCH_PIXELS = 16 * 1280 * 720

    def __init__(
        self,
        recognizer: Any,
        writer: RecordWriter,
        annotator: Annotator | None,
        counts: dict[str, int],
        size: int,
    ) -> None:
        self.recognizer, self.writer, self.annotator = recognizer, writer, annotator
        self.counts, self.size = counts, size
        self.pending: list[tuple[Path, int | None, float | None, Any]] = []
        self.pixels = 0

    def add(self, file: Path, frame: int | None, seconds: float | None, rgb: Any) -> None:
        self.pending.append((file, frame, seconds, rgb))
        self.pixels += rgb.shape[0] * rgb.shape[1]
        if len(self.pending) >= self.size or self.pixels >= self.BATCH_PIXELS:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        pending, self.pending, self.pixels = self.pending, [], 0
        results = self.recognizer.recognize_many([rgb for *_, rgb in pending])
        for (file, frame, seconds, rgb), faces in zip(pending, results, strict=True):
            self.writer.write(file, frame, faces, seconds)
            self.counts["frames"] += 1
            self.counts["faces"] += len(faces)
            self.counts["no_face"] += not faces
            if self.annotator is not None:
                try:
                    self.annotator.write(rgb, faces, file, frame)
                except FERUserError as err:
                    self.counts["failed"] += 1
                    print(f"fer-lightning: error: {err}", file=sys.stderr)


def zoo_record(ckpt: Path | None) -> zoo.ZooModel | None:
    """The zoo model ``--ckpt`` is (a zoo name, its weights file, or None: the shipped model),
    with its temperature and card; None for a file the zoo does not hold."""
    if ckpt is not None and zoo.looks_like_name(str(ckpt)):
        return zoo.get(str(ckpt))
    if ckpt is not None and Path(ckpt).suffix != ".safetensors":
        return None
    return zoo.by_weights(ckpt)


def main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    record = zoo_record(args.ckpt)
    args.ckpt = record.weights if record is not None else zoo.resolve(args.ckpt)
    if args.about and record is not None:
        from fer_lightning.results.card import short

        print(short(record))
        return 0
    if args.about and (args.ckpt is None or args.ckpt.suffix == ".safetensors"):
        print(about(args.ckpt))
        return 0
    if args.about:  # a .ckpt: its hyper-parameters need torch
        from fer_lightning.inference.bundled import load_any

        print(load_any(args.ckpt).describe())
        return 0
    if not args.paths:
        parser.error("give at least one image, folder or video (or --about)")
    if args.frame_stride < 1:
        raise FERUserError("--frame-stride must be at least 1")
    if args.margin is not None and args.margin < 0:
        raise FERUserError("--margin must not be negative")
    if args.batch_size < 1:
        raise FERUserError("--batch-size must be at least 1")
    haar = DetectorSettings(
        scale_factor=args.scale_factor,
        min_neighbors=args.min_neighbors,
        min_size=DetectorSettings.min_size if args.min_face is None else args.min_face,
    )
    yunet = YuNetSettings(
        score=args.score,
        min_size=YuNetSettings.min_size if args.min_face is None else args.min_face,
    )
    items = list(expand_inputs(args.paths))
    inputs = [item for item in items if isinstance(item, Path)]
    if args.out is not None:
        refuse_overwriting(args.out, [*inputs, *([args.ckpt] if args.ckpt else [])], "--out")

    from fer_lightning.inference.bundled import load_any  # torch: only once arguments are fine
    from fer_lightning.inference.recognizer import Recognizer

    loaded = load_any(args.ckpt, device=_device(args.device))
    log.info("model %s", loaded.describe())
    temperature = None if record is None or args.no_calibration else record.temperature
    if temperature is not None:
        log.info(
            "probabilities calibrated with temperature %.4f fitted on the validation split "
            "(zoo model %s; --no-calibration: the raw softmax)",
            temperature,
            record.name,
        )
    detector = None
    if not args.no_detect:
        detector = HaarDetector(haar) if args.detector == "haar" else YuNetDetector(yunet)
    recognizer = Recognizer(loaded, detector, margin=args.margin, temperature=temperature)
    annotator = Annotator(args.annotate, loaded.class_names, inputs) if args.annotate else None

    counts = {"inputs": 0, "failed": 0, "frames": 0, "faces": 0, "no_face": 0}
    with _output(args.out) as stream:
        writer = RecordWriter(stream, args.format, loaded.class_names)
        batch = _Batch(recognizer, writer, annotator, counts, args.batch_size)
        for item in items:
            counts["inputs"] += 1
            try:
                if isinstance(item, FERUserError):
                    raise item
                if is_video(item):
                    frames = read_video(item, args.frame_stride, args.max_pixels)
                else:
                    frames = iter([(None, None, read_image(item, args.max_pixels))])
                for frame, seconds, rgb in frames:
                    batch.add(item, frame, seconds, rgb)
            except FERUserError as err:
                batch.flush()  # the records before the error first
                counts["failed"] += 1
                print(f"fer-lightning: error: {err}", file=sys.stderr)
        batch.flush()
    log.info(
        "%d input(s), %d image(s)/frame(s), %d face(s), %d without a face, %d failed",
        counts["inputs"],
        counts["frames"],
        counts["faces"],
        counts["no_face"],
        counts["failed"],
    )
    return 1 if counts["failed"] else 0
