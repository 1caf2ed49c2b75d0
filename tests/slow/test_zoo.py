"""The model zoo: a published result whose weights are kept is a model every command loads by
name, its record checked against the weights, and ``test`` by name repeats its result.

Here: the tests that train for more than a few seconds; the others are in
``tests/unit/test_zoo.py``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fer_lightning import zoo
from fer_lightning.main import main as entry
from tests.helpers.zoo_fixtures import NAME


@pytest.mark.slow
def test_test_by_zoo_name_repeats_the_published_accuracy(
    in_zoo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert entry(["models"]) == 0
    assert f"`{NAME}`" in capsys.readouterr().out
    record = zoo.get(NAME).record
    args = ["test", "--ckpt_path", NAME, f"--run_dir={tmp_path / 'test'}"]
    assert entry([*args, "--trainer.enable_progress_bar=false", "--data.num_workers=0"]) == 0
    summary = json.loads((tmp_path / "test" / "summary.json").read_text())
    assert summary["test_accuracy"] == record["test_accuracy"]
    assert summary["test_set"] == record["test_set"]
    assert summary["checkpoint"] == str(zoo.get(NAME).weights)  # the report names the zoo file
