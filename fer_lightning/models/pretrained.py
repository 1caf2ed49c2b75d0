"""Pretrained weights through torchvision's own loading code and cache (``$TORCH_HOME``).

There is no network on many machines this runs on: when the weight file is not in the cache
and cannot be downloaded, the user gets one sentence naming the file and where to put it.
"""

from __future__ import annotations

import os
import pickle
import socket
from pathlib import Path
from urllib.error import URLError
from urllib.parse import urlparse

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
        # weights_only: a tampered file in the cache cannot run code while it is loaded.
        state = weights.get_state_dict(progress=False, check_hash=False, weights_only=True)
    except (URLError, OSError, RuntimeError, EOFError, pickle.UnpicklingError) as err:
        if target.exists():
            # torch's weights-only refusal is a paragraph: keep its first sentence.
            reason = str(err).split(". ")[0] if isinstance(err, pickle.UnpicklingError) else err
            raise FERUserError(f"{target}: cannot load pretrained weights ({reason})") from err
        raise FERUserError(
            f"pretrained weights not found: put {target.name} (from {weights.url}) in "
            f"{target.parent} (set TORCH_HOME to change that directory)"
        ) from err
    net.load_state_dict(state)


# ------------------------------------------------------------------------------------ timm
#: The weight files timm's Hugging Face loading looks for, in its order of preference.
HF_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache, read from the environment at call time (``$HF_HUB_CACHE``,
    else ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``), so that a changed ``HF_HOME``
    takes effect without re-importing huggingface_hub."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = (
        os.environ.get("HF_HOME")
        or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "huggingface"
    )
    return Path(home) / "hub"


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face endpoint answers a TCP connection within ``timeout`` seconds.
    Without a network, huggingface_hub retries for about a minute before failing; this asks
    once, so that the sentence saying where to put the file comes at once."""
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def hf_snapshot_dir(repo_id: str) -> Path:
    """Where a hand-copied weight file for ``repo_id`` is found (huggingface_hub resolves the
    revision ``main`` to a ``snapshots/main`` folder when there is no ``refs/main``)."""
    return hf_cache_dir() / f"models--{repo_id.replace('/', '--')}" / "snapshots" / "main"


def create_timm_model(name: str, *, pretrained: bool, **kwargs: object) -> nn.Module:
    """``timm.create_model(name, pretrained=..., **kwargs)`` with its weights from the Hugging
    Face cache when they are there (no network call at all), else downloaded by timm; with no
    network (or ``HF_HUB_OFFLINE=1``) and no file, one sentence names the file and folder.

    ``name`` may carry a pretrained tag (``vit_base_patch16_224.orig_in21k_ft_in1k``)."""
    import timm
    from huggingface_hub import try_to_load_from_cache
    from safetensors import SafetensorError
    from timm.models import get_pretrained_cfg

    if not pretrained:
        return timm.create_model(name, pretrained=False, **kwargs)
    cfg = get_pretrained_cfg(name)
    repo_id = cfg.hf_hub_id if cfg is not None else None
    if not repo_id:
        raise FERUserError(f"model.pretrained: timm has no Hugging Face weights for '{name}'")
    cache = hf_cache_dir()
    for filename in HF_WEIGHT_FILES:
        cached = try_to_load_from_cache(repo_id, filename, cache_dir=str(cache))
        if isinstance(cached, str):
            try:
                return timm.create_model(
                    name, pretrained=True, pretrained_cfg_overlay={"file": cached}, **kwargs
                )
            except (
                OSError,
                RuntimeError,
                ValueError,
                pickle.UnpicklingError,
                SafetensorError,
            ) as err:
                raise FERUserError(f"{cached}: cannot load pretrained weights ({err})") from err
    missing = FERUserError(
        f"pretrained weights not found: put {HF_WEIGHT_FILES[0]} (from "
        f"https://huggingface.co/{repo_id}) in {hf_snapshot_dir(repo_id)} "
        "(set HF_HOME to change that directory)"
    )
    if _offline() or not _hub_reachable():
        raise missing
    try:
        return timm.create_model(name, pretrained=True, cache_dir=str(cache), **kwargs)
    except OSError as err:  # huggingface_hub's connection and not-found errors are OSErrors
        raise missing from err
