"""``make bench`` machinery on a tiny scale: every measurement runs and the report shows it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fer_lightning.bench import harness, pipeline
from fer_lightning.bench.__main__ import main

pytestmark = pytest.mark.slow  # runs the benchmark harness on real training loops


def test_harness_times_both_loops_on_the_same_batches() -> None:
    result = harness.measure("baseline_fer2013", rounds=2, steps=4, warmup=2, batch_size=8)
    assert len(result["rounds"]) == 2
    for row, ratio in zip(result["rounds"], result["round_ratios"], strict=True):
        assert row["bare"] > 0 and row["lightning"] > 0
        assert ratio == pytest.approx(row["lightning"] / row["bare"], abs=1e-3)


def test_bench_writes_results_and_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("FER_DATA_DIR", str(tmp_path / "no-data"))  # synthetic images, no prep
    out = tmp_path / "out"
    assert main(["--quick", "--experiments", "baseline_fer2013", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["harness"]["ratio"] > 0 and results["data_prep"] is None
    assert [p["experiment"] for p in results["pipeline"]] == ["baseline_fer2013"]
    for p in results["pipeline"]:
        assert p["data"].startswith("synthetic")
        assert p["ratio_default_workers"] == pytest.approx(
            p["default_workers_images_per_s"] / p["model_images_per_s"], rel=0.01
        )
    text = (out / "BENCHMARKS.md").read_text()
    # the report shows the measured figures (not merely what markdown() makes of them)
    harness = results["harness"]
    assert f"**Ratio (median of rounds): {harness['ratio']:.3f}**" in text
    for i, row in enumerate(harness["rounds"], 1):
        assert f"| {i} | {row['bare']:.1f} | {row['lightning']:.1f} |" in text
    (p,) = results["pipeline"]
    assert f"| {p['model_images_per_s']:.0f} | {p['ratio_one_worker']:.2f} |" in text
    assert "## 1. Harness overhead" in text and "Not measured" in text


def test_ten_crop_batches_count_every_crop() -> None:
    import torch

    assert pipeline._images(torch.zeros(4, 10, 3, 8, 8)) == 40
    assert pipeline._images(torch.zeros(4, 3, 8, 8)) == 4


@pytest.mark.parametrize(("width", "height", "tiles"), [(640, 480, 4), (1280, 720, 6)])
def test_the_fallback_video_holds_several_real_faces_in_every_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, width: int, height: int, tiles: int
) -> None:
    """Without the group photos, each frame is a mosaic of the packaged photos with a face:
    every frame holds (and YuNet finds) several faces, the same video each time."""
    from fer_lightning.bench.recognition import synthetic_video
    from fer_lightning.inference.detect import make_detector
    from fer_lightning.inference.media import read_video

    monkeypatch.setenv("FER_PHOTOS_DIR", str(tmp_path / "no-photos"))
    video = synthetic_video(tmp_path / "a.avi", width, height, frames=12)
    assert video.faces_per_frame == [tiles] * 12, video.faces_per_frame
    assert video.summary()["faces_per_frame"] == tiles and "mosaic" in video.source
    detector = make_detector("yunet")
    frames = [rgb for _, _, rgb in read_video(video.path)]
    assert len(frames) == 12 and frames[0].shape == (height, width, 3)
    found = [len(detector.detect(rgb)) for rgb in frames]
    assert min(found) >= 2 and sum(found) >= 0.9 * tiles * 12, found
    assert not np.array_equal(frames[0], frames[1])  # the tiles move
    again = synthetic_video(tmp_path / "b.avi", width, height, frames=12)
    assert (tmp_path / "a.avi").read_bytes() == again.path.read_bytes()
