"""The model that ships with the package: bundle a run, load it without its checkpoint, and
``recognize`` / ``export`` it with no ``--ckpt``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from fer_lightning.cli import main
from fer_lightning.errors import FERUserError
from fer_lightning.inference import bundled
from fer_lightning.inference.checkpoint import load_model
from tests.helpers.tiny_models import fit_tiny


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("tiny")
    ckpt = fit_tiny(root, "baseline_fer2013", "--test_after_fit=true")
    return root / "run", ckpt


def test_bundled_model_predicts_as_its_checkpoint(run: tuple[Path, Path], tmp_path: Path) -> None:
    run_dir, ckpt = run
    out = bundled.bundle(run_dir, ckpt, tmp_path / "m.safetensors")
    from_ckpt, from_file = load_model(ckpt), bundled.load_bundled(out)
    x = torch.randn(4, 1, 48, 48, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(from_ckpt.model(x), from_file.model(x))
    assert from_file.class_names == from_ckpt.class_names
    assert from_file.preprocessing.mean == from_ckpt.preprocessing.mean
    summary = json.loads((run_dir / "summary.json").read_text())
    text = bundled.about(out)
    assert f"test accuracy {100 * summary['test_accuracy']:.2f} %" in text
    assert "experiment baseline_fer2013" in text
    assert f"{out} (experiment baseline_fer2013): " in from_file.describe()  # recognize's line


def test_recognize_and_export_take_a_bundled_model(
    run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = bundled.bundle(*run, tmp_path / "m.safetensors")
    assert main(["recognize", "--about", "--ckpt", str(out)]) == 0
    assert "bundled model" in capsys.readouterr().out
    face = tmp_path / "face.png"
    from PIL import Image

    Image.new("L", (48, 48), 128).save(face)
    assert main(["recognize", "--no-detect", "--ckpt", str(out), str(face)]) == 0
    record = json.loads(capsys.readouterr().out.splitlines()[0])
    assert record["status"] == "ok" and record["label"] in bundled.load_bundled(out).class_names
    assert main(["export", "--ckpt", str(out), "--out", str(tmp_path / "m.onnx")]) == 0


def test_a_file_that_is_not_a_bundled_model_is_one_sentence(tmp_path: Path) -> None:
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(FERUserError, match="not a readable safetensors file"):
        bundled.load_bundled(bad)
    with pytest.raises(FERUserError, match="has no bundled model; pass --ckpt"):
        bundled.load_bundled(tmp_path / "missing.safetensors")


@pytest.mark.skipif(not bundled.default_path().is_file(), reason="no model bundled yet")
def test_shipped_model_answers_about_and_matches_its_published_result() -> None:
    meta = bundled.read_metadata(bundled.default_path())
    assert bundled.default_path().stat().st_size <= bundled.MAX_BYTES
    prov = meta["provenance"]
    published = [
        json.loads(p.read_text())
        for p in (Path(__file__).resolve().parent.parent / "results").glob("**/summary.json")
    ]
    assert any(
        s["test_accuracy"] == prov["test_accuracy"] and s["experiment"] == prov["experiment"]
        for s in published
    ), "the shipped model's test accuracy is not that of any run in results/"
    assert main(["recognize", "--about"]) == 0
