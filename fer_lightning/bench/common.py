"""What the benchmarks share: the experiments' objects, timing, the machine's description."""

from __future__ import annotations

import copy
import functools
import os
import platform
import statistics
import time
from typing import Any

from fer_lightning import hardware
from fer_lightning.build import Built, build
from fer_lightning.data.base import FERDataModule
from fer_lightning.evaluation.summary import git_commit
from fer_lightning.models.classifier import FERClassifier


@functools.cache
def built(
    name: str,
    image_size: int | None = None,
    channels_last: bool | None = False,
    data_class: str | None = None,
) -> Built:
    """Experiment ``name`` as ``fit`` builds it (:func:`fer_lightning.build.build`), made once.
    ImageNet weights do not change the speed, so they are not loaded. ``image_size`` replaces
    the experiment's input size (quick checks). Memory format NCHW unless asked (None: the
    model's automatic choice), so that a Trainer and a bare loop measured side by side run the
    same layout. ``data_class``: another datamodule class (its other settings kept)."""
    overrides = ["--model.pretrained=false", f"--model.channels_last={_yaml(channels_last)}"]
    if image_size is not None:
        overrides.append(f"--data.image_size={image_size}")
    if data_class is not None:
        overrides.append(f"--data={data_class}")
    return build(name, overrides)


def _yaml(value: bool | None) -> str:
    return "null" if value is None else str(value).lower()


def build_model(
    name: str, image_size: int | None = None, channels_last: bool | None = False
) -> FERClassifier:
    """A new copy of the experiment's model (see :func:`built`): the same initial weights
    each time."""
    return copy.deepcopy(built(name, image_size, channels_last).model)


def datamodule(name: str, data_class: str | None = None) -> FERDataModule:
    """A new copy of the experiment's datamodule (of ``data_class`` when given), its data not
    loaded yet."""
    return copy.deepcopy(built(name, data_class=data_class).datamodule)


def learning_rate(name: str) -> float:
    """The experiment's learning rate (the bare loops train with Adam at it)."""
    optimizer = built(name).config.get("optimizer")
    return float(optimizer.init_args.lr) if optimizer else 1e-3


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
