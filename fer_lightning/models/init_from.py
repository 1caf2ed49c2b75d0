"""Start a fit from a FER model: a zoo name, a ``fit`` checkpoint or a bundled weights file.

``model.init_from`` names the source; its weights are copied into the new classifier when the
fit starts (:meth:`FERClassifier.setup`, before Lightning restores a checkpoint, so a resumed
run continues from its own weights). Everything but the head's last layer must fit:

- the same backbone and head layers, key for key and shape for shape; the first key that does
  not fit is named in one sentence (another backbone, a missing layer, an input size a
  flattening head cannot take);
- the input convolution is adapted to the new number of channels the way timm adapts
  ``in_chans`` (gray to RGB: repeated and scaled by 1/3; RGB to gray: summed), with
  :func:`timm.models.adapt_input_conv`;
- the head's last layer (one row per class) follows ``model.init_head``: ``match`` keeps the
  rows of the classes that mean the same in both models (through the label synonyms: FER2013
  *angry* is CK+ *anger*) and starts the others afresh; ``new`` starts the whole layer afresh.

The source's name, file and SHA-256 are kept with the classifier (its checkpoints carry them)
and written to the run's ``summary.json`` and report.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fer_lightning.errors import FERUserError

log = logging.getLogger(__name__)

HEAD_MODES = ("match", "new")
#: Buffers that describe the training data, not the model: never copied.
DATA_BUFFERS = ("loss_weight",)
#: The key in a Lightning checkpoint that records the source.
CHECKPOINT_KEY = "init_from"


def last_linear(head: nn.Module) -> str:
    """The dotted name (inside ``head``) of its last linear layer: the one with a row per
    class."""
    names = [name for name, module in head.named_modules() if isinstance(module, nn.Linear)]
    if not names:
        raise FERUserError("model.init_head: the head has no linear layer whose rows are classes")
    return names[-1]


@dataclass
class Source:
    """A FER model's weights and settings, read from its file without building it."""

    name: str
    path: Path
    sha256: str
    state: dict[str, torch.Tensor]
    hparams: dict[str, Any]
    #: (mean, std) its training data were normalised with, when the file says
    norm: tuple[Any, Any] | None


def open_source(spec: str) -> Source:
    """The model ``spec`` names; a zoo name's weights are checked against its record."""
    from fer_lightning import zoo

    path, hparams = source_hparams(spec)
    # A zoo name's file was hashed and checked against its record by source_hparams already.
    named = zoo.looks_like_name(spec)
    digest = zoo.models()[spec].record["sha256"] if named else zoo.sha256(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        from fer_lightning.inference.bundle_info import read_metadata

        data = read_metadata(path).get("data") or {}
        state = load_file(str(path))
    else:
        from fer_lightning.inference.safe_load import check_checkpoint

        # Memory-mapped, as source_hparams read it before the run: only the tensors copied
        # into the model are read from disk, not the optimizer state a fit checkpoint holds.
        ckpt = check_checkpoint(path, mmap=True)
        data = ckpt.get("datamodule_hyper_parameters") or {}
        state = ckpt["state_dict"]
    norm = (data["mean"], data["std"]) if "mean" in data and "std" in data else None
    return Source(spec, path, digest, state, hparams, norm)


#: The model settings that decide its tensors' names and shapes.
ARCHITECTURE = ("backbone", "backbone_kwargs", "head", "head_kwargs")


def source_hparams(spec: str, key: str = "model.init_from") -> tuple[Path, dict[str, Any]]:
    """The file ``spec`` stands for and the hyper-parameters of the model in it, read without
    building the model (a zoo name's weights are checked against its record); ``key``: the
    setting that named it, for the messages."""
    from fer_lightning import zoo

    if zoo.looks_like_name(spec):
        path = zoo.get(spec).weights
    else:
        path = Path(spec)
        if not path.is_file():
            raise FERUserError(
                f"{key}: {spec} is not a file; give a zoo name ('fer-lightning "
                "models' lists them), a checkpoint (.ckpt) or a bundled model (.safetensors)"
            )
    if path.suffix == ".safetensors":
        from fer_lightning.inference.bundle_info import read_metadata

        return path, read_metadata(path)["hparams"]
    from fer_lightning.inference.safe_load import check_checkpoint

    saved = check_checkpoint(path, mmap=True).get("hyper_parameters")
    if not isinstance(saved, dict) or "backbone" not in saved:
        raise FERUserError(
            f"{key}: checkpoint {spec} was not written by fer-lightning's "
            "FERClassifier (its hyper_parameters name no backbone)"
        )
    return path, saved


def check_source(model: Any) -> None:
    """Before anything starts: ``model.init_from`` names a readable FER model built as the
    configured one (``model``: the fit's ``model`` settings), and ``model.init_head`` is
    known; each problem is one sentence naming the setting and both values."""
    spec = model.get("init_from") if model is not None else None
    mode = model.get("init_head", "match") if model is not None else "match"
    if mode not in HEAD_MODES:
        raise FERUserError(f"model.init_head must be one of {', '.join(HEAD_MODES)}, got {mode!r}")
    if not spec:
        return
    _, saved = source_hparams(str(spec))
    for key in ARCHITECTURE:
        want, have = _plain(model.get(key)), _plain(saved.get(key))
        if key.endswith("_kwargs"):  # dropout rates change no tensor: they may differ
            want, have = _shaping(want), _shaping(have)
        if want != have:
            raise FERUserError(
                f"model.init_from: {spec} was built with model.{key} {have!r} and this "
                f"experiment sets {want!r}: set model.{key} as the source's (its config.yaml) "
                "or choose a source of the same architecture"
            )


def _shaping(kwargs: Any) -> dict[str, Any]:
    return {k: v for k, v in (kwargs or {}).items() if "drop" not in k}


def _plain(value: Any) -> Any:
    """jsonargparse Namespaces and tuples as plain dicts and lists, for comparing settings."""
    if hasattr(value, "as_dict"):
        value = value.as_dict()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _describe(hparams: Any) -> str:
    return f"{hparams.get('backbone')} with a {hparams.get('head')} head"


def check_architecture(source: Any, target: Any, spec: str) -> None:
    """Same backbone and head builders, or one sentence saying what each model is."""
    for key in ("backbone", "head"):
        if source.get(key) != target.get(key):
            raise FERUserError(
                f"model.init_from: {spec} is a {_describe(source)}; this experiment builds a "
                f"{_describe(target)}: set model.{key}: {source.get(key)} (and its "
                f"{key}_kwargs as the source's) or choose a source of the same architecture"
            )


def head_rows(source_names: list[str], target_names: list[str], mode: str) -> dict[int, int]:
    """``{target row: source row}`` of the classes the head's last layer keeps."""
    if mode == "new":
        return {}
    from fer_lightning.data.labels import canonical

    source_index = {canonical(name): i for i, name in enumerate(source_names)}
    return {
        i: source_index[canonical(name)]
        for i, name in enumerate(target_names)
        if canonical(name) in source_index
    }


def _shape(t: torch.Tensor) -> str:
    return "x".join(str(s) for s in t.shape) or "scalar"


def merged_state(
    target: dict[str, torch.Tensor],
    source: dict[str, torch.Tensor],
    class_layer: str,
    rows: dict[int, int],
    spec: str,
) -> dict[str, torch.Tensor]:
    """The target's state with the source's tensors in it (the class layer row by row)."""
    from timm.models import adapt_input_conv

    missing = [k for k in target if k not in source and k not in DATA_BUFFERS]
    if missing:
        raise FERUserError(
            f"model.init_from: {spec} has no '{missing[0]}', which this model needs (another "
            "backbone or head layout; the first missing key)"
        )
    extra = [k for k in source if k not in target and k not in DATA_BUFFERS]
    if extra:
        raise FERUserError(
            f"model.init_from: {spec} has '{extra[0]}', which this model lacks (another "
            "backbone or head layout; the first unexpected key)"
        )
    out = dict(target)
    for key, value in target.items():
        if key in DATA_BUFFERS:
            continue
        src = source[key]
        if key.startswith(f"head.{class_layer}."):
            if src.shape[1:] != value.shape[1:]:
                raise FERUserError(
                    f"model.init_from: '{key}' is {_shape(src)} in {spec} and {_shape(value)} "
                    "here: the head's layers before the class layer differ"
                )
            merged = value.clone()
            for new, old in rows.items():
                merged[new] = src[old]
            out[key] = merged
            continue
        if src.shape != value.shape:
            channels_only = src.shape[0] == value.shape[0] and src.shape[2:] == value.shape[2:]
            if value.ndim == 4 and channels_only:
                adapted = adapt_input_conv(value.shape[1], src, base_chans=src.shape[1])
                out[key] = adapted.to(value.dtype)
                log.info(
                    "model.init_from: '%s' adapted from %d to %d input channels",
                    key,
                    src.shape[1],
                    value.shape[1],
                )
                continue
            raise FERUserError(
                f"model.init_from: '{key}' is {_shape(src)} in {spec} and {_shape(value)} here "
                "(another backbone setting, or an input size this head cannot take); it is the "
                "first tensor that does not fit"
            )
        out[key] = src.to(value.dtype)
    return out


def initialise(model: nn.Module, spec: str, mode: str, data_norm: tuple[Any, Any] | None) -> dict:
    """Copy the weights of ``spec`` into ``model`` (a FERClassifier); returns the record of the
    source: its name, file, SHA-256, the classes whose rows were kept and the head mode."""
    if mode not in HEAD_MODES:
        raise FERUserError(f"model.init_head must be one of {', '.join(HEAD_MODES)}, got {mode!r}")
    source = open_source(spec)
    check_architecture(source.hparams, model.hparams, spec)
    class_layer = last_linear(model.head)
    names = source.hparams.get("class_names") or []
    rows = head_rows(list(names), list(model.class_names), mode)
    state = merged_state(model.state_dict(), source.state, class_layer, rows, spec)
    model.load_state_dict(state)
    kept = [model.class_names[i] for i in sorted(rows)]
    fresh = [n for i, n in enumerate(model.class_names) if i not in rows]
    log.info(
        "model.init_from: %s (%s, SHA-256 %s…); class rows kept: %s; new: %s",
        spec,
        source.path,
        source.sha256[:12],
        ", ".join(kept) or "none",
        ", ".join(fresh) or "none",
    )
    if data_norm is not None and source.norm is not None and not _same(data_norm, source.norm):
        log.warning(
            "model.init_from: %s was trained on inputs normalised with mean %s, std %s; this "
            "data uses mean %s, std %s (set data.mean / data.std to the source's to transfer "
            "best)",
            spec,
            *source.norm,
            *data_norm,
        )
    return {
        "model": spec,
        "path": _shown(source.path),
        "sha256": source.sha256,
        "head": mode,
        "classes_kept": kept,
        "classes_new": fresh,
    }


def _shown(path: Path) -> str:
    """A file in the repository by its repository-relative path (records stay portable)."""
    from fer_lightning.zoo import ZOO_DIR

    try:
        return str(path.resolve().relative_to(ZOO_DIR.parent))
    except ValueError:
        return str(path.resolve())


def _same(a: tuple[Any, Any], b: tuple[Any, Any]) -> bool:
    """Equal (mean, std) settings, a number standing for the same value on every channel."""

    def values(v: Any) -> list[float]:
        return [float(x) for x in (v if isinstance(v, (list, tuple)) else [v])]

    for x, y in zip(a, b, strict=True):
        vx, vy = values(x), values(y)
        n = max(len(vx), len(vy))
        vx, vy = vx * (n // len(vx)), vy * (n // len(vy))
        if len(vx) != len(vy) or any(abs(p - q) > 1e-4 for p, q in zip(vx, vy, strict=True)):
            return False
    return True
