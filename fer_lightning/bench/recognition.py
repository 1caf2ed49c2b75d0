"""Recognition: face-detection recall on real photos, and faces / frames per second of
``recognize`` on 640x480 and 1280x720 videos, Haar cascade vs YuNet, in the same process.

``python -m fer_lightning.bench.recognition`` prints both; ``make bench`` includes them.

The photos: ``tests/data/photos/truth.json`` holds a box per visible face (``faces``) and
faces that may or may not be found (``optional``: blurred, cut by the frame, in profile).
Names ``pkg:<package>/<path>`` are photos that ship inside installed packages (scikit-image,
matplotlib, scikit-learn); the other names are looked up in ``$FER_PHOTOS_DIR`` (default
``$FER_DATA_DIR/photos``; sources and licences in ``tests/data/photos/SOURCES.md``).

A detection finds a face when its centre lies inside the face's box and its side is between
half and twice the box's height (the detectors draw boxes of different shapes, so IoU would
measure the box convention more than the finding); each face is found at most once. A
detection that finds no face and no optional face is a false positive.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from fer_lightning.inference.detect import Box, make_detector

TRUTH = Path(__file__).resolve().parents[2] / "tests" / "data" / "photos" / "truth.json"


def photos_dir() -> Path:
    env = os.environ.get("FER_PHOTOS_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("FER_DATA_DIR", "data")) / "photos"


def resolve(name: str) -> Path | None:
    """The file of a photo of the set, or None where it is not on this machine."""
    if name.startswith("pkg:"):
        package, _, rest = name[4:].partition("/")
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            return None
        path = Path(spec.origin).parent / rest
    else:
        path = photos_dir() / name
    return path if path.is_file() else None


def photo_set(truth: Path = TRUTH) -> list[tuple[str, Path, list[Box], list[Box]]]:
    """``(name, file, faces, optional faces)`` of every photo found here."""
    out = []
    for name, entry in json.loads(truth.read_text()).items():
        path = resolve(name)
        if path is not None:
            faces = [Box(*b) for b in entry["faces"]]
            out.append((name, path, faces, [Box(*b) for b in entry["optional"]]))
    return out


def finds(detection: Box, face: Box) -> bool:
    cx, cy = detection.x + detection.w / 2, detection.y + detection.h / 2
    inside = face.x <= cx <= face.x + face.w and face.y <= cy <= face.y + face.h
    return inside and 0.5 * face.h <= max(detection.w, detection.h) <= 2 * face.h


def score(detections: list[Box], faces: list[Box], optional: list[Box]) -> tuple[int, int]:
    """(faces found, false positives) of one photo."""
    left, hits, false = list(faces), 0, 0
    for d in detections:
        match = next((f for f in left if finds(d, f)), None)
        if match is not None:
            left.remove(match)
            hits += 1
        elif not any(finds(d, f) for f in optional):
            false += 1
    return hits, false


def read_rgb(path: Path) -> np.ndarray:
    from fer_lightning.inference.media import read_image

    return read_image(path)


def photo_recall(detectors: tuple[str, ...] = ("haar", "yunet"), rounds: int = 3) -> dict:
    """Recall, false positives and ms per photo of each detector on the photo set; the
    detectors alternate photo by photo so that a shared CPU slows both alike."""
    photos = [(n, read_rgb(p), f, o) for n, p, f, o in photo_set()]
    made = {name: make_detector(name) for name in detectors}
    result: dict[str, Any] = {"photos": len(photos), "faces": sum(len(f) for _, _, f, _ in photos)}
    times = {name: 0.0 for name in detectors}
    per_photo = {name: {} for name in detectors}
    for _ in range(rounds):
        for name_photo, rgb, faces, optional in photos:
            for name, detector in made.items():
                start = time.perf_counter()
                boxes = detector.detect(rgb)
                times[name] += time.perf_counter() - start
                per_photo[name][name_photo] = score(boxes, faces, optional)
    for name in detectors:
        hits = sum(h for h, _ in per_photo[name].values())
        false = sum(f for _, f in per_photo[name].values())
        result[name] = {
            "found": hits,
            "recall": round(hits / max(1, result["faces"]), 3),
            "false_positives": false,
            "ms_per_photo": round(1000 * times[name] / (rounds * max(1, len(photos))), 1),
            "missed_in": sorted(
                n
                for n, (h, _) in per_photo[name].items()
                if h < len(dict((p[0], p[2]) for p in photos)[n])
            ),
        }
    return result


def synthetic_video(path: Path, width: int, height: int, frames: int) -> Path:
    """A video of real photos (the set's group photos) panned across the frame: the faces
    move a few pixels per frame, as in a hand-held clip."""
    sources = [read_rgb(p) for n, p, f, _ in photo_set() if len(f) >= 2] or [
        read_rgb(p) for _, p, _, _ in photo_set()
    ]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (width, height))
    for i in range(frames):
        src = sources[(i // 10) % len(sources)]
        scale = max(width / src.shape[1], height / src.shape[0]) * 1.1
        big = cv2.resize(src, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        dx = (i * 3) % max(1, big.shape[1] - width)
        frame = big[:height, dx : dx + width]
        writer.write(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def video_speed(
    sizes: tuple[tuple[int, int], ...] = ((640, 480), (1280, 720)),
    frames: int = 60,
    rounds: int = 2,
    detectors: tuple[str, ...] = ("haar", "yunet"),
    ckpt: Path | None = None,
) -> list[dict]:
    """Frames/s and faces/s of ``recognize`` (decode, detect, crop, classify in batches of
    16 frames, no output) with the shipped model, detectors alternating within each round."""
    from fer_lightning.inference.bundled import load_any
    from fer_lightning.inference.media import read_video
    from fer_lightning.inference.recognizer import Recognizer

    loaded = load_any(ckpt)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for width, height in sizes:
            video = synthetic_video(Path(tmp) / f"{width}x{height}.avi", width, height, frames)
            stats = {name: [] for name in detectors}
            for _ in range(rounds):
                for name in detectors:
                    recognizer = Recognizer(loaded, make_detector(name))
                    start, faces, batch = time.perf_counter(), 0, []
                    for _, _, rgb in read_video(video):
                        batch.append(rgb)
                        if len(batch) == 16:
                            faces += sum(map(len, recognizer.recognize_many(batch)))
                            batch = []
                    faces += sum(map(len, recognizer.recognize_many(batch))) if batch else 0
                    seconds = time.perf_counter() - start
                    stats[name].append((frames / seconds, faces / seconds, faces))
            row: dict[str, Any] = {"video": f"{width}x{height}", "frames": frames}
            for name in detectors:
                best = max(stats[name])  # the least disturbed round
                row[name] = {
                    "frames_per_s": round(best[0], 1),
                    "faces_per_s": round(best[1], 1),
                    "faces": best[2],
                }
            row["yunet_over_haar_fps"] = round(
                row["yunet"]["frames_per_s"] / row["haar"]["frames_per_s"], 2
            )
            rows.append(row)
    return rows


def measure(rounds: int = 2, frames: int = 60, log: Any = print) -> dict:
    result = {
        "photos": photo_recall(rounds=rounds),
        "video": video_speed(frames=frames, rounds=rounds),
    }
    log(json.dumps(result))
    return result


if __name__ == "__main__":
    json.dump(measure(), sys.stdout, indent=1)
    print()
