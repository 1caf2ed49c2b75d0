"""The model that ships with the package: weights in safetensors, everything else in its header.

``fer-lightning bundle RUN_DIR`` writes ``fer_lightning/pretrained/<name>.safetensors`` from a
run's best checkpoint: the classifier's weights (float32 unless told,
:mod:`fer_lightning.inference.storage`) and, as the file's string metadata,
the model's hyper-parameters, the data settings inference needs (input size, channels, mean,
std, colour) and the provenance (experiment, commit, test accuracy from the run's
summary.json). ``recognize`` and ``export`` use it when no ``--ckpt`` is given. safetensors files
hold only tensors and strings: loading one cannot run code.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from fer_lightning.errors import FERUserError
from fer_lightning.evaluation.summary import read_summary
from fer_lightning.inference.bundle_info import about, default_path, read_metadata
from fer_lightning.inference.checkpoint import (
    LoadedModel,
    build_model,
    load_model,
    preprocessing_of,
)
from fer_lightning.inference.preprocess import PREPROCESSING_KEYS, Preprocessing
from fer_lightning.inference.safe_load import safe_load
from fer_lightning.inference.storage import stored_weights

MAX_BYTES = 10_000_000
#: The provenance fields copied from the run's summary.json.
PROVENANCE = (
    "experiment",
    "model",
    "dataset",
    "split",
    "test_images",
    "test_accuracy",
    "macro_f1",
    "tta",
    "epochs",
    "best_epoch",
    "precision",
    "git_commit",
    "git_dirty",
    "seed",
    "checkpoint_selection",
)


def bundle(run_dir: Path, ckpt: Path, out: Path, storage: str = "float32") -> Path:
    """Write the weights of ``ckpt`` (a checkpoint of ``run_dir``, or a bundled model to store
    again) and their metadata to ``out``; refuses a shipped model (:func:`default_path`) over
    10 MB (the package ships it). ``storage``: how the weights are kept
    (:mod:`fer_lightning.inference.storage`; loading casts them back to float32)."""
    if Path(ckpt).suffix == ".safetensors":  # a bundle stored again: its metadata as it was
        meta = read_metadata(ckpt)
        model = load_bundled(ckpt).model
        hparams, data, provenance = meta["hparams"], meta["data"], meta["provenance"]
    else:
        summary = read_summary(run_dir)
        raw = safe_load(ckpt)
        loaded_hparams = raw.get("hyper_parameters") if isinstance(raw, dict) else None
        if not isinstance(loaded_hparams, dict):
            raise FERUserError(f"checkpoint {ckpt} has no model hyper-parameters")
        preprocessing = preprocessing_of(ckpt, raw)
        hparams = {k: v for k, v in loaded_hparams.items() if not k.startswith("_")}
        hparams["pretrained"] = False
        model = build_model(ckpt, hparams)
        model.load_state_dict(raw["state_dict"])
        data = {k: getattr(preprocessing, k) for k in PREPROCESSING_KEYS}
        data["color"] = preprocessing.color
        provenance = {
            **{k: summary.get(k) for k in PROVENANCE},
            "checkpoint": f"{Path(run_dir).name}/{ckpt.name}",
        }
    shape = (int(data["channels"]), int(data["image_size"]), int(data["image_size"]))
    weights = stored_weights(model.eval(), storage, shape)
    metadata = {
        "format": "fer-lightning bundled model 1",
        "dtype": storage,
        "hparams": json.dumps(hparams),
        "data": json.dumps(data),
        "provenance": json.dumps(provenance),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    save_file(weights, str(tmp), metadata=metadata)
    if out.resolve() == default_path().resolve() and tmp.stat().st_size > MAX_BYTES:
        size = tmp.stat().st_size
        tmp.unlink()
        raise FERUserError(f"{out}: {size:,} bytes is over the {MAX_BYTES:,} a package ships")
    tmp.replace(out)
    return out


def load_bundled(path: Path | None = None, device: str | torch.device = "cpu") -> LoadedModel:
    """The classifier of a bundled model file (default: the one shipped), in eval mode."""
    path = Path(path or default_path())
    meta = read_metadata(path)
    model = build_model(path, meta["hparams"])
    with safe_open(str(path), framework="pt") as fh:
        state = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 - safe_open has no iter
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise FERUserError(f"{path}: its weights do not fit its model ({err})") from None
    model.eval().to(device)
    data = meta["data"]
    missing = [k for k in PREPROCESSING_KEYS if not isinstance(data, dict) or k not in data]
    if missing:
        raise FERUserError(f"{path}: its metadata has no data setting {missing[0]}")
    preprocessing = Preprocessing.from_data_args(
        {**data, "color": data.get("color", "gray")}, source=str(path)
    )
    experiment = meta["provenance"].get("experiment")
    return LoadedModel(model, list(model.class_names), preprocessing, path, experiment)


#: The layout of the checkpoints :func:`as_checkpoint` writes (part of their cached name).
AS_CHECKPOINT_VERSION = 2


def as_checkpoint(path: Path) -> Path:
    """A bundled model as a Lightning checkpoint file (weights, hyper-parameters, its best
    epoch and how it was chosen) that ``test`` / ``validate`` / ``predict`` and fine-tuning can
    load; written once per file content into ``<cache>/bundles/``."""
    import lightning

    from fer_lightning.paths import cache_dir
    from fer_lightning.zoo import sha256

    path = Path(path)
    meta = read_metadata(path)
    digest = sha256(path)
    out = cache_dir() / "bundles" / f"{digest[:20]}-{AS_CHECKPOINT_VERSION}.ckpt"
    if out.is_file():
        return out
    model = load_bundled(path)
    provenance = meta["provenance"]
    checkpoint = {
        "state_dict": model.model.state_dict(),
        "hyper_parameters": meta["hparams"],
        "epoch": provenance.get("best_epoch"),
        "global_step": 0,
        "pytorch-lightning_version": lightning.__version__,
        # Lightning calls the callbacks' on_load_checkpoint (where the report learns where the
        # weights come from) only when the checkpoint has callback states, even none.
        "callbacks": {},
        "bundle": {"path": str(path), "sha256": digest, "provenance": provenance},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    torch.save(checkpoint, tmp)
    tmp.replace(out)
    return out


def load_any(path: Path | None, device: str | torch.device = "cpu") -> LoadedModel:
    """A ``fit`` checkpoint (.ckpt), a bundled ``.safetensors`` model, or (None) the shipped one."""
    if path is None or Path(path).suffix == ".safetensors":
        return load_bundled(path, device)
    return load_model(path, device)


__all__ = ["about", "bundle", "default_path", "load_any", "load_bundled", "read_metadata"]
