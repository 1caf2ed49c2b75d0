"""``model.channels_last`` and ``model.compile``: accepted from the command line, applied, and
harmless to checkpoints.

Here: the fast tests; the others are in ``tests/slow/test_speed_options.py``."""

from __future__ import annotations

from pathlib import Path

import torch

from tests.helpers.commands import FAST_DEV, run_cli


def test_channels_last_trains_and_stores_nhwc(fer_folder: Path) -> None:
    cli = run_cli([*FAST_DEV, f"--data.data_dir={fer_folder}", "--model.channels_last=true"])
    convs = [m.weight for m in cli.model.backbone.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
    assert all(torch.isfinite(p).all() for p in cli.model.parameters())
