"""Pretrained weights through torchvision's own loading code and cache (``$TORCH_HOME``).

There is no network on many machines this runs on: when the weight file is not in the cache
and cannot be downloaded, the user gets one sentence naming the file and where to put it.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from urllib.error import URLError

import torch
from torch import nn

from fer_lightning.errors import FERUserError


def torch_cache_file(url: str) -> Path:
    """Where ``torch.hub.load_state_dict_from_url`` looks for ``url``'s file."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def load_torchvision_weights(net: nn.Module, weights) -> None:  # noqa: ANN001 - a WeightsEnum
    """Load a torchvision ``WeightsEnum`` into ``net`` from the torch hub cache."""
    target = torch_cache_file(weights.url)
    try:
        state = weights.get_state_dict(progress=False, check_hash=False)
    except (URLError, OSError, RuntimeError, EOFError, pickle.UnpicklingError) as err:
        if target.exists():
            raise FERUserError(f"{target}: cannot load pretrained weights ({err})") from err
        raise FERUserError(
            f"pretrained weights not found: put {target.name} (from {weights.url}) in "
            f"{target.parent} (set TORCH_HOME to change that directory)"
        ) from err
    net.load_state_dict(state)
