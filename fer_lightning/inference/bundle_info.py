"""What a bundled model file says about itself, read from its header alone (light: no torch,
so that ``recognize --about`` answers at once)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors import SafetensorError, safe_open

from fer_lightning.errors import FERUserError

PRETRAINED_DIR = Path(__file__).resolve().parent.parent / "pretrained"
DEFAULT_NAME = "fer2013"


def default_path() -> Path:
    return PRETRAINED_DIR / f"{DEFAULT_NAME}.safetensors"


def read_metadata(path: Path) -> dict[str, Any]:
    """The decoded metadata of a bundled model file (hparams, data, provenance)."""
    if not path.is_file():
        raise FERUserError(
            f"{path} does not exist: this installation has no bundled model; pass --ckpt"
        )
    try:
        with safe_open(str(path), framework="numpy") as fh:
            meta = fh.metadata() or {}
    except (SafetensorError, OSError) as err:
        raise FERUserError(f"{path} is not a readable safetensors file ({err})") from None
    try:
        return {k: json.loads(meta[k]) for k in ("hparams", "data", "provenance")}
    except (KeyError, json.JSONDecodeError):
        raise FERUserError(
            f"{path} is not a fer-lightning model (no hparams/data metadata)"
        ) from None


def about(path: Path | None = None) -> str:
    """Where the bundled model comes from, in a few lines."""
    path = Path(path or default_path())
    meta = read_metadata(path)
    p, d = meta["provenance"], meta["data"]
    acc = p.get("test_accuracy")
    commit = (p.get("git_commit") or "unknown")[:12] + (
        " (uncommitted changes)" if p.get("git_dirty") else ""
    )
    return "\n".join(
        [
            f"bundled model: {path}",
            f"experiment {p.get('experiment')}: {p.get('model')}, "
            f"{len(meta['hparams'].get('class_names') or [])} classes "
            f"({', '.join(meta['hparams'].get('class_names') or [])})",
            f"input {d['image_size']}x{d['image_size']}, {d['channels']} channel(s), "
            f"{d.get('color', 'gray')}, mean {d['mean']}, std {d['std']}",
            f"trained on {p.get('dataset')} split {p.get('split')}, {p.get('epochs')} epochs "
            f"(best epoch {p.get('best_epoch')}, chosen on validation), {p.get('precision')}, "
            f"seed {p.get('seed')}, commit {commit}",
            f"test accuracy {100 * acc:.2f} % on {p.get('test_images')} images "
            f"(test-time augmentation: {p.get('tta')}), checkpoint {p.get('checkpoint')}"
            if acc is not None
            else "test accuracy: n/a",
        ]
    )
