"""Decode-once cache: a dataset's decoded uint8 arrays stored as one ``.npz`` file.

The key is a hash of every source file's path, size and modification time, so a changed,
added or removed file makes a new cache entry instead of serving stale pixels.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Collection, Iterable
from pathlib import Path

import numpy as np

from fer_lightning.paths import cache_dir

log = logging.getLogger(__name__)


def source_key(paths: Iterable[Path], root: Path) -> str:
    """Hash of (relative path, size, mtime) of each source file.

    On plain strings rather than Path objects (same order, same key): pathlib's sorting and
    ``relative_to`` took most of a warm start's second for FER2013's 35,887 files."""
    prefix = os.fspath(root).rstrip(os.sep) + os.sep
    digest = hashlib.sha1()
    for path in sorted((os.fspath(p) for p in paths), key=lambda s: s.split(os.sep)):
        st = os.stat(path)
        rel = path[len(prefix) :] if path.startswith(prefix) else os.path.relpath(path, root)
        digest.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _load(path: Path, keys: Collection[str], length: int | None) -> dict[str, np.ndarray]:
    """The arrays of cache file ``path``; raises :class:`CacheUnreadable` (saying why) when it
    does not load or does not hold ``keys`` as arrays of one common length (``length`` when
    given), with images of shape (N, H, W) or (N, H, W, C)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}  # reads (and decompresses) every array now
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as err:
        raise CacheUnreadable(f"{type(err).__name__}: {err}") from err
    missing = sorted(set(keys) - set(arrays))
    if missing:
        raise CacheUnreadable(f"it lacks {', '.join(missing)}")
    lengths = {k: len(a) if a.ndim else None for k, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise CacheUnreadable(f"its arrays disagree in length: {lengths}")
    if length is not None and set(lengths.values()) != {length}:
        raise CacheUnreadable(f"it holds {lengths[next(iter(keys))]} items, not {length}")
    images = arrays.get("images")
    if images is not None and images.ndim not in (3, 4):
        raise CacheUnreadable(f"its images have shape {images.shape}")
    return arrays


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class CacheUnreadable(Exception):
    """A cache file that cannot be used (internal: the cache is rebuilt)."""


def cached_arrays(
    name: str,
    key: str,
    build: Callable[[], dict[str, np.ndarray]],
    directory: Path | None = None,
    keys: Collection[str] = ("images", "labels"),
    length: int | None = None,
) -> dict[str, np.ndarray]:
    """Load ``name-key.npz`` from the cache, or build the arrays, store them and return them.

    ``keys`` are the arrays the file must hold and ``length`` (when the caller knows it) the
    number of items in each.

    A cache file that does not load (truncated, not a zip, a missing key, arrays of different
    lengths) is rebuilt from the source with one warning naming it. The file is written to a
    temporary file in the same folder and renamed into place, so a concurrent run reads the
    old file, the new one, or none, never half of one.
    """
    directory = directory or cache_dir()
    path = directory / f"{name}-{key}.npz"
    if path.exists():
        try:
            return _load(path, keys, length)
        except CacheUnreadable as err:
            log.warning(
                "decode cache %s does not load (%s); rebuilding it from the source", path, err
            )
    arrays = build()
    tmp: str | None = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # Written through an open file: np.savez would append ".npz" to a name without it.
        with tempfile.NamedTemporaryFile(
            dir=directory, prefix=f".{path.name}.", suffix=".tmp", delete=False
        ) as fh:
            tmp = fh.name
            np.savez(fh, **arrays)
        os.chmod(tmp, 0o666 & ~_umask())  # as a plain open() would (mkstemp makes it 0600)
        os.replace(tmp, path)
        tmp = None
        log.info("cached decoded %s at %s", name, path)
    except OSError as err:  # a read-only cache directory must not stop training
        log.warning("could not write cache file %s (%s); decoding again next time", path, err)
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return arrays
