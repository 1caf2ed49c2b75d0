"""Pictures stored in ``results/``: a smaller PNG encoding of exactly the same pixels, and
pictures compared by what they show (``fer_lightning.results.pictures``)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from fer_lightning.results.pictures import main, pack_png, repack, same_picture
from fer_lightning.results.publish import share_pictures


def _figure_png() -> bytes:
    """A picture as the reports draw them: matplotlib, opaque RGBA."""
    fig = Figure(figsize=(4, 3))
    ax = fig.subplots()
    ax.imshow(np.arange(49).reshape(7, 7), cmap="Blues")
    ax.plot([0, 6], [0, 6], color="red")
    ax.set_title("confusion matrix")
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=100)
    return out.getvalue()


def _pixels(data: bytes) -> tuple[tuple[int, int], bytes]:
    image = Image.open(io.BytesIO(data))
    return image.size, image.convert("RGBA").tobytes()


def test_a_report_picture_is_stored_smaller_with_the_same_pixels() -> None:
    original = _figure_png()
    assert Image.open(io.BytesIO(original)).mode == "RGBA"
    packed = pack_png(original)
    assert len(packed) < len(original)
    assert _pixels(packed) == _pixels(original)
    assert Image.open(io.BytesIO(packed)).mode == "RGB"  # the opaque alpha channel is gone


def test_a_picture_with_transparency_keeps_it() -> None:
    rgba = np.zeros((40, 60, 4), np.uint8)
    rgba[..., 0] = np.arange(60, dtype=np.uint8)
    rgba[..., 3] = 255
    rgba[:10, :10, 3] = 0  # a transparent corner
    out = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(out, format="PNG", compress_level=0)
    packed = pack_png(out.getvalue())
    assert _pixels(packed) == _pixels(out.getvalue())
    assert Image.open(io.BytesIO(packed)).getchannel("A").getextrema() == (0, 255)


@pytest.mark.parametrize("data", [b"not a picture", b""])
def test_what_is_not_a_png_is_kept_as_it_is(data: bytes) -> None:
    assert pack_png(data) is data


def test_same_picture_compares_pixels_not_bytes() -> None:
    original = _figure_png()
    assert same_picture(original, pack_png(original))
    other = Image.open(io.BytesIO(original)).convert("RGBA")
    other.putpixel((0, 0), (1, 2, 3, 255))
    out = io.BytesIO()
    other.save(out, format="PNG")
    assert not same_picture(original, out.getvalue())
    assert same_picture(b"junk", b"junk") and not same_picture(b"junk", b"junk2")


def test_a_twin_links_its_siblings_picture_stored_in_the_other_encoding(tmp_path: Path) -> None:
    """An earlier result's pictures were re-encoded (``repack``); the twin's copy of the same
    training curves, drawn again by matplotlib, is still recognised as the same picture."""
    curves = _figure_png()
    for name, picture in (("official-60ep", pack_png(curves)), ("official-60ep-tencrop", curves)):
        folder = tmp_path / "ours_fer2013" / name
        folder.mkdir(parents=True)
        (folder / "curves.png").write_bytes(picture)
        (folder / "report.md").write_text("![training curves](curves.png)\n")
    twin = tmp_path / "ours_fer2013" / "official-60ep-tencrop"
    assert share_pictures(twin) == ["curves.png -> ../official-60ep/curves.png"]
    assert not (twin / "curves.png").exists()


def test_repack_rewrites_every_picture_in_place_with_the_same_pixels(tmp_path: Path) -> None:
    original = _figure_png()
    pictures = [tmp_path / "a" / "roc.png", tmp_path / "a" / "fold0" / "curves.png"]
    for path in pictures:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(original)
    (tmp_path / "a" / "broken.png").write_bytes(b"not a picture")
    before, after = repack(tmp_path)
    assert before == 2 * len(original) + len(b"not a picture") and after < before
    for path in pictures:
        assert _pixels(path.read_bytes()) == _pixels(original)
        assert len(path.read_bytes()) < len(original)
    assert (tmp_path / "a" / "broken.png").read_bytes() == b"not a picture"
    assert not list(tmp_path.rglob("*.tmp")), "no temporary file left"
    assert repack(tmp_path)[0] == after, "a second pass finds nothing smaller"


def test_repack_without_a_folder_is_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope is not a folder" in err[0]
    assert main([]) == 2
    assert "got 0 arguments" in capsys.readouterr().err
