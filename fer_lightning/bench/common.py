"""What the benchmarks share: experiment settings, timing, the machine's description."""

from __future__ import annotations

import os
import platform
import statistics
import time
from typing import Any

from fer_lightning import hardware
from fer_lightning.data.labels import FER7
from fer_lightning.evaluation.summary import git_commit
from fer_lightning.experiments import load_config, resolve
from fer_lightning.models.classifier import FERClassifier


def experiment_config(name: str) -> dict[str, Any]:
    """The experiment's YAML as a dict."""
    return load_config(resolve(name))


def data_args(name: str) -> dict[str, Any]:
    """``data.init_args`` of experiment ``name``."""
    data = experiment_config(name).get("data") or {}
    return dict(data.get("init_args") or {})


def build_model(
    name: str,
    pretrained: bool = False,
    image_size: int | None = None,
    channels_last: bool | None = False,
) -> FERClassifier:
    """The experiment's model with the links LightningCLI would make from the datamodule.
    ImageNet weights do not change the speed, so they are not loaded by default.
    ``image_size`` replaces the experiment's input size (quick checks). Memory format NCHW
    unless asked (None: the model's automatic choice), so that a Trainer and a bare loop
    measured side by side run the same layout."""
    model = dict(experiment_config(name).get("model") or {})
    model["pretrained"] = pretrained
    model["channels_last"] = channels_last
    data = data_args(name)
    return FERClassifier(
        **model,
        num_classes=len(FER7),
        class_names=list(FER7),
        in_chans=int(data.get("channels", 1)),
        image_size=image_size or int(data.get("image_size", 48)),
    )


def learning_rate(name: str) -> float:
    optimizer = experiment_config(name).get("optimizer") or {}
    return float((optimizer.get("init_args") or {}).get("lr", 1e-3))


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def load_average() -> list[float]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


def machine() -> dict[str, Any]:
    """CPU, cores, library versions and the git commit: what a figure depends on."""
    import albumentations
    import lightning
    import torch
    import torchvision

    commit, dirty = git_commit()
    return {
        "cpu": hardware.cpu_name(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "lightning": lightning.__version__,
        "albumentations": albumentations.__version__,
        "git_commit": (commit[:7] + ("+dirty" if dirty else "")) if commit else "",
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
    }
