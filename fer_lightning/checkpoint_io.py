"""Checkpoints written so that a half-written file never carries a checkpoint's name.

Lightning's ``TorchCheckpointIO`` serialises a checkpoint in memory and then writes it straight
to its final name: a full disk (or a kill) in the middle leaves a truncated ``best-*.ckpt`` or
``last.ckpt``, which ``--ckpt_path last`` and ``report`` then pick up, and the previous
``last.ckpt`` is already gone. Here the bytes go to a hidden temporary file in the same folder,
are flushed to disk, and replace the real name in one atomic rename; on failure the temporary
file is removed and the earlier checkpoint stays as it was.
"""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.utilities.types import _PATH
from lightning.pytorch.plugins.io import TorchCheckpointIO

from fer_lightning.errors import FERUserError


def no_space(folder: Path | str, needed: int | None = None) -> FERUserError:
    """The sentence for a full disk under ``folder``."""
    free = _free_bytes(Path(folder))
    need = f"; a checkpoint needs about {needed / 1e6:.1f} MB" if needed else ""
    have = f", {free / 1e6:.1f} MB free" if free is not None else ""
    return FERUserError(
        f"no space left on the device of {folder}{have}{need}: free some space and resume "
        "with --ckpt_path last (any earlier complete checkpoint was kept)"
    )


def _free_bytes(folder: Path) -> int | None:
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            try:
                stat = os.statvfs(candidate)
            except OSError:
                return None
            return stat.f_bavail * stat.f_frsize
    return None


def write_atomically(data: bytes, path: Path) -> None:
    """``data`` to ``path`` through a temporary file beside it and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise no_space(path.parent, len(data)) from None
        raise


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` with atomic writes (see the module's docstring); local paths
    only: a remote path (fsspec URL) is written by Lightning's own code."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: _PATH, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None or "://" in str(path):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        write_atomically(buffer.getvalue(), Path(path))
