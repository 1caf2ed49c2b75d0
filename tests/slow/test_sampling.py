"""The training sampler (order and augmentation by (seed, epoch), resumable mid-epoch, sharded
under DDP), per-item augmentation seeds, persistent workers and the ``auto`` worker count.

Here: the tests that train for more than a few seconds; the others are in
``tests/unit/test_sampling.py``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.paths import REPO


@pytest.mark.slow
def test_a_script_with_live_persistent_workers_exits(fer_folder: Path) -> None:
    """Python ends daemon processes (DataLoader workers) with SIGTERM at exit: workers that
    ignored it made such a script hang."""
    script = (
        "from fer_lightning.data import FER2013DataModule\n"
        f"dm = FER2013DataModule(data_dir={str(fer_folder)!r}, batch_size=4, num_workers=2)\n"
        "loader = dm.train_dataloader()\n"
        "it = iter(loader)\n"
        "next(it)\n"
        "print('ok')\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
