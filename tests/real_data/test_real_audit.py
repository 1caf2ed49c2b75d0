"""The audit and the cleaning options on the real FER2013 in ``$FER_DATA_DIR/fer2013``.

The duplicate counts below are decoder-independent: the pixel-identical groups are exactly
the groups of byte-identical files in the release's MD5SUMS (1,516 groups, 3,369 files), and
constant images decode as constant with any JPEG decoder. The near-constant ones have pixel
std 0.65 and 4.1, far from the 5.0 threshold (the least uniform real face has 9.1).
"""

from __future__ import annotations

import time

import pytest

from fer_lightning.data import FER2013DataModule
from fer_lightning.data.audit import audit_dataset
from tests.helpers.realdata import REAL_FER2013

pytestmark = [
    pytest.mark.real_data,
    pytest.mark.skipif(
        not (REAL_FER2013 / "train").is_dir(), reason="real FER2013 not under $FER_DATA_DIR"
    ),
]

#: Per-class counts of the original csv (``../shared/datasets/README.md``).
COUNTS = {
    "Training": [3995, 436, 4097, 7215, 4830, 3171, 4965],
    "PublicTest": [467, 56, 496, 895, 653, 415, 607],
    "PrivateTest": [491, 55, 528, 879, 594, 416, 626],
}


@pytest.fixture(scope="module")
def report() -> dict:
    start = time.perf_counter()
    result = audit_dataset("fer2013", REAL_FER2013.parent)
    result["seconds"] = time.perf_counter() - start
    return result


def test_split_and_class_counts(report: dict) -> None:
    for split, counts in COUNTS.items():
        assert list(report["splits"][split]["per_class"].values()) == counts
    assert report["image_files"] == {"48x48 L JPEG": 35887}


def test_blank_and_duplicate_counts(report: dict) -> None:
    blank = report["blank"]
    assert blank["constant"]["per_split"] == {"Training": 11, "PublicTest": 1, "PrivateTest": 0}
    assert blank["near_constant"]["per_split"] == {
        "Training": 1,
        "PublicTest": 1,
        "PrivateTest": 0,
    }
    dup = report["duplicates"]
    assert (dup["groups"], dup["images_in_groups"], dup["groups_of_blank_images"]) == (
        1516,
        3369,
        1,
    )
    assert {s: w["redundant"] for s, w in dup["within_split"].items()} == {
        "Training": 1236,
        "PublicTest": 26,
        "PrivateTest": 17,
    }
    across = dup["across_splits"]
    assert across["groups"] == 557
    assert across["images_with_copy_in"]["PublicTest"]["Training"] == 280
    assert across["images_with_copy_in"]["PrivateTest"]["Training"] == 288
    assert across["images_with_copy_in"]["PrivateTest"]["PublicTest"] == 44
    assert dup["conflicting_labels"] == {"groups": 57, "images": 160}


def test_audit_is_fast(report: dict) -> None:
    assert report["seconds"] < 60


def test_cleaning_on_the_full_test_protocol() -> None:
    dm = FER2013DataModule(
        data_dir=str(REAL_FER2013.parent),
        split="full_test",
        remove_blank=True,
        remove_test_duplicates=True,
    )
    dm.setup()
    assert len(dm.dropped["blank/test"]) == 2
    assert len(dm.dropped["blank/train"]) + len(dm.dropped["blank/val"]) == 12
    assert len(dm.dropped["duplicate_of_training/test"]) == 567
    assert len(dm.splits["test"]) == 7178 - 2 - 567
