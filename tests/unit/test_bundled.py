"""The model that ships with the package: bundle a run, load it without its checkpoint, and
``recognize`` / ``export`` it with no ``--ckpt``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from fer_lightning.errors import FERUserError
from fer_lightning.inference import bundled
from fer_lightning.inference.checkpoint import load_model
from fer_lightning.main import main
from tests.helpers.paths import REPO
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
    published = [json.loads(p.read_text()) for p in (REPO / "results").glob("**/summary.json")]
    assert any(
        s["test_accuracy"] == prov["test_accuracy"] and s["experiment"] == prov["experiment"]
        for s in published
    ), "the shipped model's test accuracy is not that of any run in results/"
    assert main(["recognize", "--about"]) == 0


def _retouched(bundle: Path, out: Path, **data: object) -> Path:
    """A copy of ``bundle`` whose data metadata says ``data`` (the weights unchanged)."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(bundle), framework="pt") as fh:
        meta = dict(fh.metadata())
        weights = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
    meta["data"] = json.dumps({**json.loads(meta["data"]), **data})
    save_file(weights, str(out), metadata=meta)
    return out


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"image_size": 64}, "1 x 64 px inputs but the model was built for 1 x 48 px"),
        ({"channels": 3}, "3 x 48 px inputs but the model was built for 1 x 48 px"),
        ({"channels": 2}, "channels is 2; a model takes 1 (grey) or 3 (RGB)"),
        ({"mean": "abc"}, "mean is 'abc'; it must be a number"),
        ({"std": 0}, "std is 0; a standard deviation must be above 0"),
        ({"std": [0.5, 0.5]}, "std has 2 values for 1 channel(s)"),
        ({"image_size": "x"}, "image_size is 'x'; it must be a whole number"),
    ],
)
def test_bundle_metadata_that_does_not_fit_its_weights_is_one_sentence(
    run: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    data: dict,
    says: str,
) -> None:
    """Checked when the bundle loads (every loader: recognize, export, explain), before a
    shape error or NaN probabilities reach the user."""
    good = bundled.bundle(*run, tmp_path / "m.safetensors")
    bad = _retouched(good, tmp_path / "bad.safetensors", **data)
    from PIL import Image

    face = tmp_path / "face.png"
    Image.new("L", (48, 48), 128).save(face)
    capsys.readouterr()
    for argv in (
        ["recognize", "--no-detect", "--ckpt", str(bad), str(face)],
        ["export", "--ckpt", str(bad), "--out", str(tmp_path / "m.onnx")],
    ):
        assert main(argv) == 2
        out, err = capsys.readouterr()
        assert out == "" and "Traceback" not in err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("fer-lightning: error: "), err
        assert str(bad) in lines[0] and says in lines[0]
    assert not (tmp_path / "m.onnx").exists()


def test_a_model_giving_nan_is_an_error_not_a_result(
    run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """NaN weights (metadata intact): recognize and test say so in one sentence and write no
    result, never NaN confidences or a report of NaN probabilities."""
    run_dir, ckpt = run
    state = torch.load(ckpt, weights_only=True)
    state["state_dict"] = {
        k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
        for k, v in state["state_dict"].items()
    }
    broken = tmp_path / "broken.ckpt"
    torch.save(state, broken)
    from PIL import Image

    face = tmp_path / "face.png"
    Image.new("L", (48, 48), 128).save(face)
    capsys.readouterr()
    # A model broken for every input stops the command (exit 2), not one face after another.
    assert main(["recognize", "--no-detect", "--ckpt", str(broken), str(face)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "non-finite probabilities" in err and "Traceback" not in err
    data = run_dir.parent / "data"
    argv = ["test", "--exp", "baseline_fer2013", f"--data.data_dir={data}", "--ckpt_path"]
    assert main([*argv, str(broken), f"--run_dir={tmp_path / 'tested'}"]) == 2
    err = capsys.readouterr().err
    assert "NaN or infinite probabilities" in err and "Traceback" not in err
    assert not (tmp_path / "tested" / "summary.json").exists()


def test_a_half_precision_bundle_is_half_the_size_and_loads_as_float32(
    run: tuple[Path, Path], tmp_path: Path
) -> None:
    full = bundled.bundle(*run, tmp_path / "full.safetensors")
    half = bundled.bundle(*run, tmp_path / "half.safetensors", storage="float16")
    assert half.stat().st_size < 0.6 * full.stat().st_size
    a, b = bundled.load_bundled(full).model, bundled.load_bundled(half).model
    assert all(p.dtype == torch.float32 for p in b.parameters())
    x = torch.randn(4, 1, 48, 48, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(a(x).softmax(-1), b(x).softmax(-1), atol=2e-3, rtol=0)


def _bf16_mixed(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        return model(x).float()


def test_a_bf16_mixed_bundle_gives_the_checkpoints_bf16_mixed_outputs_bit_for_bit(
    run: tuple[Path, Path], tmp_path: Path
) -> None:
    run_dir, ckpt = run
    full = bundled.bundle(run_dir, ckpt, tmp_path / "full.safetensors")
    small = bundled.bundle(run_dir, ckpt, tmp_path / "bf16.safetensors", storage="bf16-mixed")
    assert small.stat().st_size < 0.6 * full.stat().st_size
    from safetensors import safe_open

    with safe_open(str(small), framework="pt") as fh:
        dtypes = {k: fh.get_tensor(k).dtype for k in fh.keys()}  # noqa: SIM118
        assert fh.metadata()["dtype"] == "bf16-mixed"
    assert any(d == torch.bfloat16 for d in dtypes.values())
    assert all(d != torch.bfloat16 for k, d in dtypes.items() if "running_" in k or ".bn" in k)
    x = torch.randn(16, 1, 48, 48, generator=torch.Generator().manual_seed(1))
    expected = _bf16_mixed(load_model(ckpt).model, x)
    loaded = bundled.load_bundled(small)
    assert all(p.dtype == torch.float32 for p in loaded.model.parameters())
    assert torch.equal(_bf16_mixed(loaded.model, x), expected)
    # A float32 bundle stored again (how the zoo's files are converted) is the same file's
    # tensors with the bundle's own metadata.
    again = tmp_path / "again.safetensors"
    assert (
        main(["bundle", str(run_dir), "--ckpt", str(full), "--bf16-mixed", "--out", str(again)])
        == 0
    )
    assert bundled.read_metadata(again) == bundled.read_metadata(full)
    with safe_open(str(again), framework="pt") as a, safe_open(str(small), framework="pt") as b:
        assert all(torch.equal(a.get_tensor(k), b.get_tensor(k)) for k in b.keys())  # noqa: SIM118


def test_storing_a_layer_autocast_does_not_round_is_refused(
    run: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batch norm runs in float32 under autocast: rounding its weights to bfloat16 changes the
    outputs, and the bundle is refused before anything is written."""
    from fer_lightning.inference import storage

    wider = (*storage.AUTOCAST_LAYERS, torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)
    monkeypatch.setattr(storage, "AUTOCAST_LAYERS", wider)
    out = tmp_path / "bf16.safetensors"
    with pytest.raises(FERUserError, match="changes its bf16-mixed outputs"):
        bundled.bundle(*run, out, storage="bf16-mixed")
    assert not out.exists() and not out.with_suffix(".tmp").exists()
