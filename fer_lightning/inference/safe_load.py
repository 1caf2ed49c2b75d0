"""Loading a checkpoint file without running code from it: ``torch.load(weights_only=True)``
with one sentence for whatever a foreign, truncated or tampered file does. Light (no model
classes), so that anything may read a checkpoint's contents without importing the classifier.
"""

from __future__ import annotations

import pickle
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from fer_lightning.errors import FERUserError


def _one_line(err: BaseException, limit: int) -> str:
    """An error's text on one line, cut at ``limit`` characters (torch's are pages long)."""
    return " ".join(str(err).split())[:limit]


def safe_load(path: str | Path, mmap: bool = False) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU; anything else is one sentence.

    ``mmap``: map the tensors instead of reading them (only to look at the keys: cheap for
    a large checkpoint); used only where the file is a zip archive, which mmap needs."""
    path = Path(path)
    if not path.exists():
        raise FERUserError(f"checkpoint {path} does not exist")
    if not path.is_file():
        raise FERUserError(f"checkpoint {path} is not a file")
    if path.stat().st_size == 0:
        raise FERUserError(f"checkpoint {path} is empty (0 bytes)")
    try:
        with warnings.catch_warnings():  # torch warns before refusing newer pickle protocols
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            mmap = mmap and zipfile.is_zipfile(path)
            return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as err:
        if "Weights only load failed" not in str(err):
            raise FERUserError(
                f"checkpoint {path} is not a PyTorch checkpoint (it cannot be unpickled)"
            ) from None
        found = re.search(r"GLOBAL ([\w.]+)", str(err))
        if found:
            raise FERUserError(
                f"checkpoint {path} was refused: it needs the Python object "
                f"'{found.group(1)}', which a weights-only load never builds (a file from "
                "another program, or a tampered one)"
            ) from None
        reason = re.search(r"WeightsUnpickler error:\s*(\S[^\n]*)", str(err))
        raise FERUserError(
            f"checkpoint {path} was refused: it is not a plain PyTorch checkpoint (corrupt, "
            f"from another program, or tampered: {reason.group(1) if reason else 'unpickling'})"
        ) from None
    except Exception as err:  # whatever a foreign file makes the unpickler raise is its fault
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise FERUserError(
            f"checkpoint {path} is truncated or not a PyTorch checkpoint ({reason})"
        ) from None


def check_checkpoint(path: str | Path, mmap: bool = False) -> dict[str, Any]:
    """The contents of a Lightning checkpoint (a dict with a ``state_dict``); a missing,
    foreign or bare-weights file is one sentence."""
    path = Path(path)
    ckpt = safe_load(path, mmap=mmap)
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        if (
            isinstance(ckpt, dict)
            and ckpt
            and all(isinstance(v, torch.Tensor) for v in ckpt.values())
        ):
            raise FERUserError(
                f"checkpoint {path} holds bare weights (a state_dict) without the model's "
                "hyper-parameters; use a checkpoint written by 'fer-lightning fit'"
            )
        raise FERUserError(
            f"checkpoint {path} is not a Lightning checkpoint (no 'state_dict'); use one "
            "written by 'fer-lightning fit'"
        )
    return ckpt
