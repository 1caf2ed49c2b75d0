"""FER+: the four training modes of microsoft/FERPlus, the two on-disk forms (official layout,
csv pair) giving the same items, soft targets through the classifier's loss, the audit's vote
statistics and agreement matrix, bad input as one sentence, and the real split sizes.

Here: the tests on the real dataset; the others are in ``tests/unit/test_ferplus.py``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fer_lightning.data.ferplus import (
    mode_targets,
)

REAL_FERPLUS = Path(os.environ.get("FER_DATA_DIR", "data")) / "ferplus"


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path / "cache"))


# ----------------------------------------------------------------------------- real data
@pytest.mark.real_data
@pytest.mark.skipif(not REAL_FERPLUS.is_dir(), reason="real FER+ not under FER_DATA_DIR")
def test_real_majority_split_sizes_are_the_papers() -> None:
    """Votes only (no image is decoded): the majority rule keeps 25,045 / 3,191 / 3,137."""
    from fer_lightning.data.ferplus import FOLDERS, read_label_csv

    sizes = []
    for folder in FOLDERS.values():
        _, votes = read_label_csv(REAL_FERPLUS / folder / "label.csv")
        sizes.append(int(mode_targets(votes, "majority").keep.sum()))
    assert sizes == [25_045, 3_191, 3_137]
