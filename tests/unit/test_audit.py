"""The dataset audit on generated data with planted blanks and duplicates, and on RAF-DB / CK+."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from fer_lightning.data import registry
from fer_lightning.data.audit import audit_dataset, duplicate_groups
from fer_lightning.data.labels import FER7
from fer_lightning.data.pixels import blank_masks, pixel_hashes
from fer_lightning.main import main
from tests.helpers.fakedata import (
    PER_CLASS,
    plant_fer2013_findings,
    write_ckplus,
    write_dataset,
    write_fer2013_folder,
    write_rafdb,
)


@pytest.fixture
def planted(tmp_path: Path, cache_dir: Path) -> Path:
    """A data root holding a small FER2013 with planted blanks and duplicates."""
    plant_fer2013_findings(write_fer2013_folder(tmp_path / "data"))
    return tmp_path / "data"


@pytest.mark.parametrize("layout", ["fer_folder", "fer_csv"])
def test_generated_data_alone_has_no_findings(layout: str, request: pytest.FixtureRequest) -> None:
    report = audit_dataset("fer2013", request.getfixturevalue(layout))
    assert report["splits"]["Training"]["images"] == PER_CLASS["Training"] * len(FER7)
    kind = "48x48 L JPEG" if layout == "fer_folder" else "48x48 L (csv pixels)"
    assert report["image_files"] == {kind: sum(PER_CLASS.values()) * len(FER7)}
    assert report["blank"]["constant"]["count"] == 0
    assert report["blank"]["near_constant"]["count"] == 0
    assert report["duplicates"]["groups"] == 0


def test_planted_counts_are_found_exactly(planted: Path) -> None:
    report = audit_dataset("fer2013", planted)
    n = len(FER7)
    splits = report["splits"]
    assert [splits[s]["images"] for s in ("Training", "PublicTest", "PrivateTest")] == [
        PER_CLASS["Training"] * n + 4,
        PER_CLASS["PublicTest"] * n + 1,
        PER_CLASS["PrivateTest"] * n + 2,
    ]
    assert splits["Training"]["per_class"]["angry"] == PER_CLASS["Training"] + 2
    assert splits["PrivateTest"]["per_class"]["sad"] == PER_CLASS["PrivateTest"] + 1

    blank = report["blank"]
    assert blank["constant"]["count"] == 3
    assert blank["constant"]["per_split"] == {"Training": 2, "PublicTest": 1, "PrivateTest": 0}
    assert blank["near_constant"]["count"] == 1
    assert blank["near_constant"]["items"][0]["name"] == "train/sad/Training_9004.png"

    dup = report["duplicates"]
    assert (dup["groups"], dup["images_in_groups"], dup["groups_of_blank_images"]) == (4, 8, 1)
    assert dup["within_split"] == {
        "Training": {"groups": 2, "images": 4, "redundant": 2},
        "PublicTest": {"groups": 0, "images": 0, "redundant": 0},
        "PrivateTest": {"groups": 0, "images": 0, "redundant": 0},
    }
    across = dup["across_splits"]
    assert across["groups"] == 2
    assert across["by_splits"] == {"PublicTest+PrivateTest": 1, "Training+PrivateTest": 1}
    assert across["images_in_later_split"] == 2
    assert across["images_with_copy_in"]["PrivateTest"] == {"Training": 1, "PublicTest": 1}
    assert dup["conflicting_labels"] == {"groups": 1, "images": 2}
    conflicting = [e for e in dup["all_groups"] if len({i["label"] for i in e["items"]}) > 1]
    assert {i["label"] for i in conflicting[0]["items"]} == {"happy", "sad"}
    assert report["image_files"] == {"48x48 L JPEG": 7 * 10 + 3, "48x48 L PNG": 4}


def test_audit_command_writes_json_and_markdown(
    planted: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out" / "audit.json"
    assert main(["audit", "fer2013", "--root", str(planted), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "- constant images: 3 (Training 2, PublicTest 1, PrivateTest 0)" in printed
    assert "duplicates with conflicting labels: 1 groups, 2 images" in printed
    assert json.loads(out.read_text())["duplicates"]["groups"] == 4
    assert out.with_suffix(".md").read_text() in printed


def test_audit_of_a_missing_dataset_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "ckplus", "--root", str(tmp_path)]) == 2
    assert "holds no CK+ class folders" in capsys.readouterr().err


def test_rafdb_and_ckplus_audits(tmp_path: Path, cache_dir: Path) -> None:
    basic = write_rafdb(tmp_path, per_class_train=2, per_class_test=1)
    aligned = basic / "Image" / "aligned"
    # train_00001 is RAF-DB label 1 (surprise); copy it over test_0004 (label 4, happy).
    shutil.copy(aligned / "train_00001_aligned.jpg", aligned / "test_0004_aligned.jpg")
    write_ckplus(tmp_path, subjects=2, frames=2)
    raf = audit_dataset("rafdb", tmp_path)
    assert {s: v["images"] for s, v in raf["splits"].items()} == {"train": 14, "test": 7}
    assert raf["duplicates"]["across_splits"]["by_splits"] == {"train+test": 1}
    assert raf["duplicates"]["conflicting_labels"] == {"groups": 1, "images": 2}
    assert raf["image_files"] == {"100x100 RGB JPEG": 21}
    ck = audit_dataset("ckplus", tmp_path)
    assert ck["splits"]["all"]["per_class"] == {c: 4 for c in ck["class_names"]}
    assert ck["duplicates"]["groups"] == 0


@pytest.mark.parametrize("dataset", registry.names())
def test_every_dataset_is_audited(dataset: str, tmp_path: Path, cache_dir: Path) -> None:
    """Each image listed once, under the dataset's class names (first; FER+ lists its unknown
    and not-a-face images under two more); each file's kind counted."""
    write_dataset(dataset, tmp_path)
    report = audit_dataset(dataset, tmp_path)
    images = sum(split["images"] for split in report["splits"].values())
    assert images == sum(report["image_files"].values()) > 0
    # the instance's: a folder's classes are its own
    classes = list(registry.get(dataset)(data_dir=str(tmp_path)).class_names)
    assert report["class_names"][: len(classes)] == classes
    assert report["class_names"][len(classes) :] == (
        ["unknown", "NF"] if dataset == "ferplus" else []
    )
    assert report["duplicates"]["groups"] == 0


def test_duplicate_groups_and_hashes() -> None:
    images = np.zeros((5, 4, 4), dtype=np.uint8)
    images[1, 0, 0] = 1
    images[3, 0, 0] = 1
    images[4, 1, 1] = 9
    groups = duplicate_groups(pixel_hashes(images))
    assert [g.tolist() for g in groups] == [[0, 2], [1, 3]]
    constant, near = blank_masks(images)
    assert constant.tolist() == [True, False, True, False, False]
    assert near.tolist() == [False, True, False, True, True]
