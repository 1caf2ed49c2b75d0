"""The pictures of ``results/``: stored in a smaller PNG encoding of the same pixels, and compared
by what they show.

matplotlib writes its PNGs with an alpha channel it leaves fully opaque, at zlib's default
effort. Pillow's optimised encoding of the same pixels without that channel is about 12 % smaller
(measured on ``results/ours_fer2013_wide/official-40ep``: 524 KB of pictures became 464 KB), which
the results' size budget (:data:`fer_lightning.zoo.BUDGET_BYTES`, mostly weights) needs. Nothing a
reader sees changes: :func:`pack_png` keeps its input unless the new encoding decodes to exactly
the same pixels.

``python -m fer_lightning.results.pictures results`` re-encodes every picture already published
(in place, each file replaced whole); :func:`fer_lightning.results.publish.publish` stores each
new one this way.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

from PIL import Image, UnidentifiedImageError


def _decode(data: bytes) -> Image.Image | None:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    return image


def _rgba(image: Image.Image) -> tuple[tuple[int, int], bytes]:
    return image.size, image.convert("RGBA").tobytes()


def pack_png(data: bytes) -> bytes:
    """``data`` (a PNG file's bytes) re-encoded smaller with the same pixels, else unchanged
    (not a picture Pillow reads, or no smaller)."""
    image = _decode(data)
    if image is None or image.format != "PNG":
        return data
    target = image
    if image.mode == "RGBA" and image.getchannel("A").getextrema() == (255, 255):
        target = image.convert("RGB")  # an alpha channel that hides nothing
    out = io.BytesIO()
    target.save(out, format="PNG", optimize=True)
    packed = out.getvalue()
    again = _decode(packed)
    if len(packed) >= len(data) or again is None or _rgba(again) != _rgba(image):
        return data
    return packed


def same_picture(a: bytes, b: bytes) -> bool:
    """Whether two PNG files show the same pixels (equal bytes, or two encodings of one
    picture, as :func:`pack_png` makes)."""
    if a == b:
        return True
    first, second = _decode(a), _decode(b)
    return first is not None and second is not None and _rgba(first) == _rgba(second)


def repack(root: Path) -> tuple[int, int]:
    """Re-encode every PNG under ``root`` with :func:`pack_png`, each file replaced whole
    (written beside it, then renamed); returns the bytes before and after."""
    from fer_lightning.checkpoint_io import write_atomically  # imports torch: only here

    before = after = 0
    for path in sorted(Path(root).rglob("*.png")):
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        packed = pack_png(data)
        before, after = before + len(data), after + len(packed)
        if packed is data:
            continue
        times = (path.stat().st_atime_ns, path.stat().st_mtime_ns)
        write_atomically(packed, path)
        os.utime(path, ns=times)
    return before, after


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    problem = (
        f"expected one folder (such as results), got {len(args)} arguments"
        if len(args) != 1
        else f"{args[0]} is not a folder"
        if not Path(args[0]).is_dir()
        else None
    )
    if problem:
        print(f"fer_lightning.results.pictures: error: {problem}", file=sys.stderr)
        return 2
    before, after = repack(Path(args[0]))
    print(f"{args[0]}: pictures {before:,} -> {after:,} bytes, same pixels")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
