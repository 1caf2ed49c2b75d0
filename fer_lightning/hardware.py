"""What a run ran on, for its summary and for the results tables."""

from __future__ import annotations

import os
import platform
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def cpu_name() -> str:
    """The CPU's marketing name, for people reading a table (not for feature checks)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_cores() -> int:
    """Cores this process may use (the affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def describe(accelerator: str | None = None, devices: int = 1) -> dict[str, Any]:
    """CPU name and usable cores, the GPU name and count when one is used, library versions."""
    import lightning
    import torch

    gpu = None
    if accelerator in ("gpu", "cuda") and torch.cuda.is_available():
        gpu = torch.cuda.get_device_name(0)
    return {
        "cpu": cpu_name(),
        "cpu_cores": cpu_cores(),
        "gpu": gpu,
        "gpus": devices if gpu else 0,
        "torch": torch.__version__,
        "lightning": lightning.__version__,
    }


def short(hardware: dict[str, Any] | None) -> str:
    """``1x NVIDIA H100`` or ``2-core AMD EPYC`` for a table cell."""
    if not hardware:
        return "n/a"
    if hardware.get("gpu"):
        return f"{hardware.get('gpus', 1)}x {hardware['gpu']}"
    return f"{hardware.get('cpu_cores', '?')}-core {hardware.get('cpu', 'CPU')}"
