"""A folder with its own experiments/ adds to the packaged experiments and never hides them;
an unknown name says where it looked."""

from __future__ import annotations

from pathlib import Path

import pytest

from fer_lightning import experiments
from fer_lightning.errors import FERUserError


def test_own_experiments_add_to_the_packaged_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "mything.yaml").write_text("# mine\n")
    (tmp_path / "experiments" / "cnn_ckplus.yaml").write_text("# my version\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(experiments.ENV, raising=False)
    packaged = experiments.PACKAGED / "baseline_fer2013.yaml"
    assert experiments.resolve("baseline_fer2013") == packaged
    assert experiments.resolve("mything") == Path("experiments/mything.yaml")
    assert experiments.resolve("cnn_ckplus") == Path("experiments/cnn_ckplus.yaml")  # replaced
    with pytest.raises(FERUserError) as err:
        experiments.resolve("nope")
    message = str(err.value)
    assert f"looked in {experiments.PACKAGED} and experiments" in message
    assert "baseline_fer2013" in message and "mything" in message
