"""Decode-once cache: a dataset's decoded uint8 arrays stored as one ``.npz`` file.

The key is a hash of every source file's path, size and modification time, so a changed,
added or removed file makes a new cache entry instead of serving stale pixels.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterable
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


def cached_arrays(
    name: str, key: str, build: Callable[[], dict[str, np.ndarray]], directory: Path | None = None
) -> dict[str, np.ndarray]:
    """Load ``name-key.npz`` from the cache, or build the arrays, store them and return them."""
    directory = directory or cache_dir()
    path = directory / f"{name}-{key}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as npz:
                return {k: npz[k] for k in npz.files}
        except (OSError, ValueError) as err:  # a truncated cache file is rebuilt, not trusted
            log.warning("ignoring unreadable cache file %s (%s); rebuilding it", path, err)
    arrays = build()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
        log.info("cached decoded %s at %s", name, path)
    except OSError as err:  # a read-only cache directory must not stop training
        log.warning("could not write cache file %s (%s); decoding again next time", path, err)
    return arrays
