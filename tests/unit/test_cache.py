"""The decode cache (fer_lightning.data.cache): a cache file that does not load is rebuilt from
the source with one warning naming it, and a cache file is never seen half-written."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

from fer_lightning.data import FER2013DataModule
from fer_lightning.data import cache as cache_module
from fer_lightning.data.cache import cached_arrays


def _arrays() -> dict[str, np.ndarray]:
    return {
        "images": np.arange(4 * 6 * 6, dtype=np.uint8).reshape(4, 6, 6),
        "labels": np.array([0, 1, 2, 3]),
    }


def _corrupt(path: Path, how: str) -> None:
    good = path.read_bytes()
    if how == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif how == "not_a_zip":
        path.write_bytes(b"this is not a zip file at all" * 10)
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "missing_key":
        np.savez(path.open("wb"), images=_arrays()["images"])
    elif how == "wrong_length":
        np.savez(path.open("wb"), images=_arrays()["images"], labels=np.array([0, 1]))
    elif how == "wrong_shape":
        np.savez(path.open("wb"), images=np.zeros(4, np.uint8), labels=np.arange(4))
    elif how == "bad_member":  # a valid zip whose array is damaged
        import zipfile

        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("images.npy", b"\x93NUMPY garbage")
            zf.writestr("labels.npy", b"garbage")
    else:
        raise AssertionError(how)


@pytest.mark.parametrize(
    "how",
    ["truncated", "not_a_zip", "empty", "missing_key", "wrong_length", "wrong_shape", "bad_member"],
)
def test_unloadable_cache_is_rebuilt_with_one_warning(
    how: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cached_arrays("toy", "k", _arrays, directory=tmp_path)
    (path,) = tmp_path.glob("*.npz")
    _corrupt(path, how)
    builds = []

    def build() -> dict[str, np.ndarray]:
        builds.append(1)
        return _arrays()

    with caplog.at_level(logging.WARNING, logger="fer_lightning"):
        arrays = cached_arrays("toy", "k", build, directory=tmp_path)
    assert builds == [1]
    np.testing.assert_array_equal(arrays["images"], _arrays()["images"])
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and str(path) in warnings[0].getMessage()
    assert "rebuilding" in warnings[0].getMessage()
    # Rebuilt in place: the next call loads it without building.
    again = cached_arrays("toy", "k", lambda: pytest.fail("rebuilt twice"), directory=tmp_path)
    np.testing.assert_array_equal(again["labels"], _arrays()["labels"])
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name], "temporary file left"


def test_corrupt_fer2013_cache_does_not_break_the_next_run(
    fer_folder: Path, cache_dir: Path
) -> None:
    FER2013DataModule(data_dir=str(fer_folder)).setup()
    (path,) = cache_dir.glob("fer2013-folder-*.npz")
    path.write_bytes(path.read_bytes()[:1000])
    dm = FER2013DataModule(data_dir=str(fer_folder))
    dm.setup()
    assert len(dm.splits["train"]) == 42
    dm2 = FER2013DataModule(data_dir=str(fer_folder))
    dm2.setup()  # from the rebuilt cache
    np.testing.assert_array_equal(dm2.splits["test"].images, dm.splits["test"].images)


def test_cache_is_written_whole_then_renamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The final name only ever appears through os.replace of a complete temporary file in the
    same folder (np.savez must not have appended '.npz' to the temporary name)."""
    replaced: list[tuple[str, str]] = []
    real_replace = os.replace

    def spy(src: str, dst: str) -> None:
        assert Path(dst).name == "toy-k.npz"
        assert Path(src).parent == Path(dst).parent and Path(src).exists()
        with np.load(src) as npz:  # complete before it gets the name
            assert sorted(npz.files) == ["images", "labels"]
        replaced.append((str(src), str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(cache_module.os, "replace", spy)
    cached_arrays("toy", "k", _arrays, directory=tmp_path)
    assert len(replaced) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["toy-k.npz"]
    # Readable by whoever may read a file this process creates (a shared cache), not 0600.
    mode = (tmp_path / "toy-k.npz").stat().st_mode & 0o777
    assert mode == 0o666 & ~cache_module._umask()


def test_failed_write_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(file: object, *args: object, **kwargs: object) -> None:
        """Writes part of the file, then fails as a full disk does."""
        if isinstance(file, (str, os.PathLike)):
            file = open(file, "wb")  # noqa: SIM115 - as np.savez would
        file.write(b"PK\x03\x04 partial")
        file.flush()
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache_module.np, "savez", full_disk)
    arrays = cached_arrays("toy", "k", _arrays, directory=tmp_path)
    assert len(arrays["labels"]) == 4
    assert list(tmp_path.iterdir()) == []


def test_wrong_item_count_is_rebuilt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cached_arrays("toy", "k", _arrays, directory=tmp_path)
    with caplog.at_level(logging.WARNING, logger="fer_lightning"):
        arrays = cached_arrays(
            "toy", "k", lambda: {k: v[:3] for k, v in _arrays().items()}, tmp_path, length=3
        )
    assert len(arrays["labels"]) == 3
    assert "holds 4 items, not 3" in caplog.text
