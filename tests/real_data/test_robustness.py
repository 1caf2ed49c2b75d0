"""``fer-lightning robustness``: each perturbation does what its name says, the paired bootstrap
interval of the change, the evaluation on a tiny model, and the command end to end.

Here: the tests on the real dataset; the others are in ``tests/unit/test_robustness.py``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fer_lightning.main import main
from tests.helpers.realdata import REAL_FER2013


@pytest.mark.real_data
@pytest.mark.skipif(not (REAL_FER2013 / "test").is_dir(), reason="real FER2013 absent")
def test_shipped_model_loses_accuracy_with_the_mouth_covered(tmp_path: Path) -> None:
    """The bundle's own test split (its provenance: the default's experiment, FER2013 official
    split). Even the model trained with occlusion loses about 13 points with the mouth covered
    (32.7 before it), and nothing under a flip."""
    from fer_lightning import zoo

    args = ["--perturbations", "occlude_mouth,flip", "--limit", "300", "--out", str(tmp_path)]
    assert main(["robustness", *args]) == 0
    record = json.loads((tmp_path / "robustness.json").read_text())
    shipped = zoo.default()
    assert shipped is not None and record["split_images"] == 3589
    assert record["experiment"] == shipped.record["provenance"]["experiment"]
    clean, mouth, flip = record["rows"]
    assert clean["accuracy"] > 0.6
    assert mouth["change_ci"][1] < -0.05 < flip["change_ci"][0]
