"""Automatic precision: bf16 where the hardware computes in it, fp32 elsewhere, the choice
logged and recorded; every experiment's model trains in bf16 autocast on a CPU.

Here: the fast tests; the others are in ``tests/slow/test_precision.py``."""

from __future__ import annotations

import pytest
import torch

from fer_lightning import precision


def _cpu(monkeypatch: pytest.MonkeyPatch, native_bf16: bool) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: native_bf16)


@pytest.mark.parametrize(("native", "expected"), [(True, "bf16-mixed"), (False, "32-true")])
def test_cpu_precision_follows_native_bf16(
    monkeypatch: pytest.MonkeyPatch, native: bool, expected: str
) -> None:
    _cpu(monkeypatch, native)
    assert precision.auto_precision() == expected
    assert precision.auto_precision("cpu") == expected


@pytest.mark.parametrize(("bf16", "expected"), [(True, "bf16-mixed"), (False, "16-mixed")])
def test_gpu_precision(monkeypatch: pytest.MonkeyPatch, bf16: bool, expected: str) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: bf16)
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)
    assert precision.auto_precision("auto") == expected
    assert precision.auto_precision("gpu") == expected
    assert precision.auto_precision("cpu") == "32-true", "--trainer.accelerator=cpu on a GPU box"


def test_native_bf16_is_asked_of_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert precision.cpu_has_native_bf16() is False
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert precision.cpu_has_native_bf16() is True
