"""``fer-lightning ensemble --choose-on-validation``: the ensemble is chosen by greedy forward
selection with replacement on the candidates' validation softmax, never on the test split, and
its test report is written as ``ensemble`` writes any; the validation softmax is computed with
each result's own test-time augmentation and cached; candidates validated on other images are
refused.

Here: the tests that train for more than a few seconds; the others are in
``tests/unit/test_ensemble_choice.py``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from fer_lightning import zoo
from fer_lightning.commands.ensemble import main as ensemble_main
from fer_lightning.evaluation import ensemble_choice as ec


# -------------------------------------------------------------- tiny generated data, for real
@pytest.fixture(scope="module")
def tiny_zoo_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """results/ with a tiny model published twice: single image and ten-crop (the ten-crop
    result's test report is the single-image one relabelled: only its validation is run)."""
    from fer_lightning.inference import bundled
    from tests.helpers.tiny_models import fit_tiny

    root = tmp_path_factory.mktemp("ens")
    ckpt = fit_tiny(root, "baseline_fer2013", "--test_after_fit=true")
    weights = bundled.bundle(root / "run", ckpt, root / zoo.WEIGHTS)
    for run, tta in (("single", "none"), ("tencrop", "ten_crop")):
        folder = root / "results" / "tiny" / run
        folder.mkdir(parents=True)
        for name in ("config.yaml", "predictions.npz"):
            shutil.copy(root / "run" / name, folder / name)
        summary = json.loads((root / "run" / "summary.json").read_text())
        (folder / "summary.json").write_text(json.dumps({**summary, "tta": tta}))
        shutil.copy(weights, folder / zoo.WEIGHTS)  # one file: one SHA-256
    return root / "results"


@pytest.mark.slow
def test_validation_softmax_uses_each_results_tta_and_is_cached(
    tiny_zoo_results: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from fer_lightning.build import build
    from fer_lightning.data.tta import default_crop_size, ten_crops
    from fer_lightning.inference.bundled import load_any

    monkeypatch.setattr(zoo, "ZOO_DIR", tiny_zoo_results)
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path / "cache"))
    assert zoo.write_records(tiny_zoo_results)
    single, tencrop = ec.candidate("tiny/single"), ec.candidate("tiny/tencrop")
    assert (single.tta, tencrop.tta) == ("none", "ten_crop")
    assert single.sha256 == tencrop.sha256 == zoo.sha256(single.weights)

    dm = build(single.config, ["--run_dir=null", "--model.pretrained=false"], "test").datamodule
    dm.setup("test")
    val, test = dm.splits["val"], dm.splits["test"]
    assert not np.array_equal(val.images, test.images)  # the check can tell them apart
    loaded = load_any(single.weights)
    x = torch.stack([dm.dataset("val")[i][0] for i in range(len(val))])
    crops = torch.stack([ten_crops(i, default_crop_size(48), 48) for i in x])
    with torch.inference_mode():
        plain = loaded.model(x).softmax(-1).numpy()
        mean_of_crops = loaded.model(crops.flatten(0, 1)).softmax(-1).view(len(x), 10, -1)
    expected = {"none": plain, "ten_crop": mean_of_crops.mean(1).numpy()}
    assert not np.allclose(expected["none"], expected["ten_crop"], atol=1e-4)
    for cand in (single, tencrop):
        preds, val_set, cached = ec.validation_predictions(cand)
        assert not cached
        np.testing.assert_array_equal(preds.targets, val.labels)
        np.testing.assert_allclose(preds.probs, expected[cand.tta], rtol=1e-4, atol=1e-6)
    assert len(list((tmp_path / "cache" / ec.CACHE_FOLDER).glob("*.npz"))) == 2  # tta: a key

    def no_model(*args: object) -> None:
        raise AssertionError("the cached softmax should have been used")

    monkeypatch.setattr(ec, "_softmax", no_model)
    again, again_set, cached = ec.validation_predictions(tencrop)
    assert cached and again_set == val_set
    np.testing.assert_allclose(again.probs, expected["ten_crop"], rtol=1e-4, atol=1e-6)

    # the command end to end (from the cache): two candidates, a report or a sentence
    out = tmp_path / "ens"
    args = ["tiny/single", "tiny/tencrop", "--choose-on-validation", "--out", str(out)]
    assert ensemble_main([*args, "--steps", "3"]) == 0
    summary_path = out / "summary.json"
    if summary_path.exists():  # an ensemble won on validation
        summary = json.loads(summary_path.read_text())
        assert summary["ensemble_choice"]["validation_images"] == len(val)
        assert len(summary["ensemble_members"]) == 2
