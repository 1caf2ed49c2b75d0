"""Load a ``fer-lightning fit`` checkpoint safely: the model plus its preprocessing.

Checkpoints are read with ``torch.load(weights_only=True)``: PyTorch's restricted unpickler
builds only tensors and plain containers and refuses any other Python object, so a tampered or
foreign file cannot run code while it is loaded. The checkpoints ``fit`` writes need nothing
else (their hyper-parameters are plain strings, numbers, lists, tuples and dicts), so no global
is allowlisted.

The preprocessing (input size, channels, mean, std) comes from the checkpoint's
``datamodule_hyper_parameters`` (LightningCLI saves the datamodule's init arguments there); when
a checkpoint lacks them, from the ``config.yaml`` of the run directory it sits in
(``<run>/checkpoints/<name>.ckpt``).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fer_lightning.errors import FERUserError
from fer_lightning.experiments import load_config
from fer_lightning.inference.preprocess import PREPROCESSING_KEYS, Preprocessing
from fer_lightning.inference.safe_load import _one_line, check_checkpoint
from fer_lightning.models.classifier import FERClassifier
from fer_lightning.run import layout


@dataclass
class LoadedModel:
    """A classifier in eval mode, its class names and how to prepare its input."""

    model: FERClassifier
    class_names: list[str]
    preprocessing: Preprocessing
    path: Path
    experiment: str | None = None  # known for a bundled model (its provenance)

    def __post_init__(self) -> None:
        """Every loader's result is checked here: the data settings must describe inputs the
        weights take (a bundle's or checkpoint's metadata can be edited apart from them)."""
        p, hp = self.preprocessing, self.model.hparams
        where = f"{self.path}: its data settings ({p.source})"
        if (p.channels, p.image_size) != (hp.in_chans, hp.image_size):
            raise FERUserError(
                f"{where} say {p.channels} x {p.image_size} px inputs but the model was built "
                f"for {hp.in_chans} x {hp.image_size} px"
            )
        probe = torch.zeros(1, p.channels, p.image_size, p.image_size, device=self.device)
        try:
            with torch.no_grad():
                out = self.model(probe)
        except RuntimeError as err:
            raise FERUserError(
                f"{where} say {p.channels} x {p.image_size} px inputs, which its weights do not "
                f"take ({_one_line(err, 200)})"
            ) from None
        if tuple(out.shape) != (1, len(self.class_names)):
            raise FERUserError(
                f"{self.path}: the model gives {tuple(out.shape)[1:]} outputs for "
                f"{len(self.class_names)} class names"
            )

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def describe(self) -> str:
        p = self.preprocessing
        of = f" (experiment {self.experiment})" if self.experiment else ""
        return (
            f"{self.path}{of}: {self.model.hparams.backbone} ({len(self.class_names)} classes), "
            f"input {p.image_size}x{p.image_size}, {p.channels} channel(s) from {p.color} "
            f"images, mean {p.mean}, std {p.std} (preprocessing from {p.source})"
        )


def load_model(path: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """The :class:`FERClassifier` of a ``fit`` checkpoint, in eval mode on ``device``."""
    path = Path(path)
    ckpt = check_checkpoint(path)
    hparams = ckpt.get("hyper_parameters")
    if not isinstance(hparams, dict) or "backbone" not in hparams:
        raise FERUserError(
            f"checkpoint {path} was not written by fer-lightning's FERClassifier (its "
            "hyper_parameters name no backbone)"
        )
    model = build_model(path, hparams)
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as err:
        raise FERUserError(
            f"checkpoint {path}: its weights do not fit the model its hyper-parameters "
            f"describe ({_one_line(err, 300)})"
        ) from None
    model.eval().to(device)
    preprocessing = preprocessing_of(path, ckpt)
    return LoadedModel(model, list(model.class_names), preprocessing, path)


def build_model(path: Path, hparams: dict[str, Any]) -> FERClassifier:
    kwargs = {k: v for k, v in hparams.items() if not k.startswith("_")}
    # The weights come from the checkpoint: never fetch ImageNet weights for nothing.
    kwargs["pretrained"] = False
    params = inspect.signature(FERClassifier.__init__).parameters
    unknown = sorted(k for k in kwargs if k not in params)
    if unknown:
        raise FERUserError(
            f"checkpoint {path} was written by another model or version: FERClassifier has "
            f"no hyper-parameter(s) {', '.join(unknown)}"
        )
    try:
        return FERClassifier(**kwargs)
    except FERUserError as err:
        raise FERUserError(f"checkpoint {path}: {err}") from None
    except (TypeError, ValueError) as err:
        raise FERUserError(f"checkpoint {path}: cannot rebuild its model ({err})") from None


def preprocessing_of(path: Path, ckpt: dict[str, Any]) -> Preprocessing:
    """The eval preprocessing of a checkpoint, from the checkpoint, else its run's config.yaml."""
    data = ckpt.get("datamodule_hyper_parameters")
    if isinstance(data, dict) and all(k in data for k in PREPROCESSING_KEYS):
        return Preprocessing.from_data_args(data, source="the checkpoint")
    config = layout.config_of_checkpoint(path)
    if config is None:
        raise FERUserError(
            f"checkpoint {path} holds no data settings ({', '.join(PREPROCESSING_KEYS)}) and "
            f"there is no config.yaml of its run next to it "
            f"({layout.config_of(path.parent.parent)})"
        )
    data = load_config(config).get("data")
    if isinstance(data, dict) and isinstance(data.get("init_args"), dict):
        data = {"_class_path": data.get("class_path"), **data["init_args"]}
    missing = [k for k in PREPROCESSING_KEYS if not isinstance(data, dict) or k not in data]
    if missing:
        raise FERUserError(
            f"checkpoint {path} holds no data settings and {config} lacks data.{missing[0]}"
        )
    assert isinstance(data, dict)
    return Preprocessing.from_data_args(data, source=str(config))
