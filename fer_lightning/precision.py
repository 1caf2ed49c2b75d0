"""The precision a run uses when ``--trainer.precision`` is not given: what the hardware does
natively.

- GPUs: ``bf16-mixed`` where the GPU has bf16 (Ampere and later), else ``16-mixed``.
- CPUs with native bf16 arithmetic (AVX512-BF16 or AMX tiles; oneDNN then runs convolutions and
  matrix products in bf16): ``bf16-mixed``. On this project's 2-core AMD EPYC (AVX512-BF16) a
  training step of ``baseline_fer2013`` with channels-last ran 2.0x the fp32 images/s on idle
  cores and 1.3x on heavily shared ones (``make bench``, section 4).
- other CPUs: ``32-true``. torch's ``_is_mkldnn_bf16_supported()`` is also true on plain AVX512,
  where oneDNN emulates bf16 and it is slower than fp32, so it is not what decides.
"""

from __future__ import annotations

from typing import Any

import torch

#: torch.cpu probes of native bf16 arithmetic (private but stable since torch 2.1; a probe
#: that a torch version lacks counts as "no").
_NATIVE_BF16_PROBES = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes in bf16 natively (AVX512-BF16 or AMX), as torch sees it."""
    for probe in _NATIVE_BF16_PROBES:
        check = getattr(torch.cpu, probe, None)
        if check is not None and check():
            return True
    return False


def _uses_cuda(accelerator: Any) -> bool:
    """Whether a Trainer with ``accelerator`` ("auto", "gpu", "cuda", "cpu", an Accelerator
    instance, ...) trains on a CUDA GPU."""
    name = str(accelerator or "auto").lower()
    if "cpu" in name or "mps" in name:
        return False
    return torch.cuda.is_available()


def auto_precision(accelerator: Any = "auto") -> str:
    """The Trainer precision for ``accelerator`` when the user chose none."""
    if _uses_cuda(accelerator):
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "bf16-mixed" if cpu_has_native_bf16() else "32-true"


def describe(precision: str, accelerator: Any = "auto") -> str:
    """Why ``precision`` was chosen automatically, for the run's log line."""
    if _uses_cuda(accelerator):
        where = f"GPU {torch.cuda.get_device_name(0)}"
        has = "with" if torch.cuda.is_bf16_supported() else "without"
        return f"{precision} (automatic: {where} {has} bf16)"
    has = "with" if cpu_has_native_bf16() else "without"
    return f"{precision} (automatic: CPU {has} native bf16)"
