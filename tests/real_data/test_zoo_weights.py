"""The zoo stores its weights for bf16-mixed (``bundle --bf16-mixed``): tested by name on the
real test split, a committed model gives its published probabilities bit for bit.

The other storage tests (the check before writing, the sizes) are in
``tests/unit/test_bundled.py``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fer_lightning import zoo
from fer_lightning.main import main
from tests.helpers.realdata import REAL_FER2013

NAME = "ours_fer2013/official-60ep-tencrop"  # ten crops: the longest path through the weights


@pytest.mark.real_data
@pytest.mark.skipif(not (REAL_FER2013 / "test").is_dir(), reason="real FER2013 absent")
def test_a_committed_bf16_mixed_model_repeats_its_published_probabilities(tmp_path: Path) -> None:
    model = zoo.get(NAME)
    assert model.record["dtype"] == "bf16-mixed"
    args = ["test", "--ckpt_path", NAME, f"--run_dir={tmp_path}", "--trainer.limit_test_batches=2"]
    assert main([*args, "--trainer.enable_progress_bar=false"]) == 0
    published, tested = (np.load(p / "predictions.npz") for p in (model.folder, tmp_path))
    pairs = zip(published["targets"], published["probs"], strict=True)
    rows = {(int(t), p.tobytes()) for t, p in pairs}
    now = list(zip(tested["targets"], tested["probs"], strict=True))
    # The limited test reads a class-stratified sample of the split, in its own order: every
    # image's ten-crop probabilities, to the bit, are among the published ones with its label.
    assert 100 <= len(now) < len(rows)
    assert all((int(t), p.tobytes()) in rows for t, p in now)
