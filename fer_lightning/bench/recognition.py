"""Recognition: face-detection recall on real photos, and faces / frames per second of
``recognize`` on 640x480 and 1280x720 videos, Haar cascade vs YuNet, in the same process.

``python -m fer_lightning.bench.recognition`` prints both; ``make bench`` includes them.

The photos: ``tests/data/photos/truth.json`` holds a box per visible face (``faces``) and
faces that may or may not be found (``optional``: blurred, cut by the frame, in profile).
Names ``pkg:<package>/<path>`` are photos that ship inside installed packages (scikit-image,
matplotlib, scikit-learn); the other names are looked up in ``$FER_PHOTOS_DIR`` (default
``$FER_DATA_DIR/photos``; sources and licences in ``tests/data/photos/SOURCES.md``).

The videos (:func:`synthetic_video`) are made of the same real photos: the group photos panned
where ``$FER_PHOTOS_DIR`` holds them, else a mosaic of the packaged photos that have a face, 2x2
tiles at 640x480 (4 faces in every frame) and 3x2 at 1280x720 (6 faces in every frame). Each
video row says how many faces its frames hold (``faces_per_frame``, from the photos' truth) and
how many each detector found per frame, so that faces/s is read against it.

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
from dataclasses import dataclass
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


#: Tiles of the fallback mosaic: columns by frame width (up to 960 px: 2, wider: 3), 2 rows.
MOSAIC_ROWS = 2
#: Pixels per frame the photos move (a hand-held clip).
PAN = 3


@dataclass
class Video:
    """A synthetic video and the real faces it holds: ``faces_per_frame[i]`` faces of the
    photo set's truth lie wholly inside frame ``i``."""

    path: Path
    faces_per_frame: list[int]
    source: str

    def summary(self) -> dict[str, Any]:
        counts = self.faces_per_frame
        return {
            "faces_per_frame": round(sum(counts) / max(1, len(counts)), 2),
            "faces_per_frame_min": min(counts, default=0),
            "faces_per_frame_max": max(counts, default=0),
            "source": self.source,
        }


def _inside(face: Box, x0: float, y0: float, w: float, h: float) -> bool:
    return x0 <= face.x and y0 <= face.y and face.x + face.w <= x0 + w and face.y + face.h <= y0 + h


def _wave(i: int, period: int = 16) -> float:
    """A triangle wave of slope 1 per frame, between -period/2 and period/2."""
    return abs(i % (2 * period) - period) - period / 2


def _group_frames(
    photos: list[tuple[np.ndarray, list[Box]]], width: int, height: int, frames: int
) -> tuple[list[np.ndarray], list[int]]:
    """Each group photo for 10 frames, scaled to cover the frame and panned right by PAN
    pixels per frame; the faces counted are those wholly inside the frame."""
    out, counts = [], []
    for i in range(frames):
        src, faces = photos[(i // 10) % len(photos)]
        scale = max(width / src.shape[1], height / src.shape[0]) * 1.1
        big = cv2.resize(src, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        dx = (i * PAN) % max(1, big.shape[1] - width)
        out.append(np.ascontiguousarray(big[:height, dx : dx + width]))
        shown = (dx / scale, 0, width / scale, height / scale)
        counts.append(sum(_inside(f, *shown) for f in faces))
    return out, counts


def _mosaic_frames(
    photos: list[tuple[np.ndarray, list[Box]]], width: int, height: int, frames: int
) -> tuple[list[np.ndarray], list[int], str]:
    """Frames tiled with the photos that have a face, each tile a window around the photo's
    first face (2 to 3 times its height), panned PAN pixels per frame (each tile out of phase)
    and never cutting that face. The photos repeat when there are fewer than tiles, mirrored
    and zoomed otherwise on each repeat."""
    cols = 2 if width <= 960 else 3
    rows = MOSAIC_ROWS
    tw, th = width // cols, height // rows
    tiles = []
    for k in range(cols * rows):
        src, faces = photos[k % len(photos)]
        repeat = k // len(photos)
        if repeat % 2:
            w = src.shape[1]
            src = np.ascontiguousarray(src[:, ::-1])
            faces = [Box(w - f.x - f.w, f.y, f.w, f.h) for f in faces]
        tiles.append((src, faces, 2.2 + 0.4 * repeat))
    out, counts = [], []
    for i in range(frames):
        frame = np.zeros((height, width, 3), np.uint8)
        count = 0
        for k, (src, faces, zoom) in enumerate(tiles):
            sh, sw = src.shape[:2]
            face = faces[0]
            wh = face.h * zoom
            ww = wh * tw / th
            shrink = min(1.0, sw / ww, sh / wh)
            ww, wh = ww * shrink, wh * shrink
            scale = tw / ww  # source pixels to tile pixels
            x0 = face.x + face.w / 2 - ww / 2 + PAN * _wave(i + 5 * k) / scale
            y0 = face.y + face.h / 2 - wh / 2 + PAN * _wave(i + 7 * k, 8) / scale
            x0 = min(max(x0, face.x + face.w - ww, 0.0), face.x, sw - ww)
            y0 = min(max(y0, face.y + face.h - wh, 0.0), face.y, sh - wh)
            x, y = int(round(x0)), int(round(y0))
            crop = src[y : y + int(round(wh)), x : x + int(round(ww))]
            r, c = divmod(k, cols)
            frame[r * th : (r + 1) * th, c * tw : (c + 1) * tw] = cv2.resize(
                crop, (tw, th), interpolation=cv2.INTER_AREA
            )
            count += sum(_inside(f, x, y, ww, wh) for f in faces)
        out.append(frame)
        counts.append(count)
    source = (
        f"a {cols}x{rows} mosaic of {len(photos)} single-face photo(s) of the set, panned "
        f"{PAN} px per frame"
    )
    return out, counts, source


def synthetic_video(path: Path, width: int, height: int, frames: int) -> Video:
    """A deterministic video (MJPG, 25 fps) of the set's real photos, the faces moving a few
    pixels per frame as in a hand-held clip, and how many real faces each frame holds.

    Where the group photos (two faces or more, in ``$FER_PHOTOS_DIR``) are here, each is shown
    for 10 frames, panned across the frame (faces per frame: those wholly inside, about 2 to 6).
    Else every frame is a mosaic of the photos that have a face (the ones inside installed
    packages: the astronaut and Grace Hopper, mirrored and zoomed on repeats): 2x2 tiles on
    frames up to 960 px wide (4 faces per frame), 3x2 wider (6 faces per frame), each tile
    panned on its own and never cutting its face."""
    found = photo_set()
    group = [(read_rgb(p), f) for _, p, f, _ in found if len(f) >= 2]
    if group:
        images, counts = _group_frames(group, width, height, frames)
        source = f"{len(group)} group photo(s) panned {PAN} px per frame, 10 frames each"
    else:
        single = [(read_rgb(p), f) for _, p, f, _ in found if f]
        if not single:
            raise FileNotFoundError("no photo of the set with a face is on this machine")
        images, counts, source = _mosaic_frames(single, width, height, frames)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (width, height))
    for frame in images:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return Video(path, counts, source)


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
                    for _, _, rgb in read_video(video.path):
                        batch.append(rgb)
                        if len(batch) == 16:
                            faces += sum(map(len, recognizer.recognize_many(batch)))
                            batch = []
                    faces += sum(map(len, recognizer.recognize_many(batch))) if batch else 0
                    seconds = time.perf_counter() - start
                    stats[name].append((frames / seconds, faces / seconds, faces))
            row: dict[str, Any] = {"video": f"{width}x{height}", "frames": frames}
            row |= video.summary()
            for name in detectors:
                best = max(stats[name])  # the least disturbed round
                row[name] = {
                    "frames_per_s": round(best[0], 1),
                    "faces_per_s": round(best[1], 1),
                    "faces": best[2],
                    "found_per_frame": round(best[2] / frames, 2),
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
