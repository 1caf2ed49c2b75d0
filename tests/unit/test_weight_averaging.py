"""Weight averaging through Lightning's own callbacks (``EMAWeightAveraging`` in
``trainer.callbacks``, as ``ours_ckplus_finetune_v5`` uses it): the saved checkpoint holds the
averaged weights (Lightning keeps the last step's beside them), and every later load reads
the average: ``test``, ``recognize``, ``model.init_from`` and the zoo's bundles."""

from __future__ import annotations

from pathlib import Path

import torch

from fer_lightning.inference.checkpoint import load_model
from fer_lightning.models import init_from
from tests.helpers.tiny_models import fit_tiny

EMA = (
    "--trainer.callbacks=[{class_path: lightning.pytorch.callbacks.EMAWeightAveraging, "
    "init_args: {decay: 0.5}}]"
)


def test_an_averaged_run_saves_and_loads_the_average(tmp_path: Path) -> None:
    best = fit_tiny(tmp_path, "baseline_fer2013", EMA)
    ckpt = torch.load(best, map_location="cpu", weights_only=False)
    averaged, current = ckpt["state_dict"], ckpt["current_model_state"]
    floats = [k for k in averaged if averaged[k].is_floating_point()]
    assert any(not torch.equal(averaged[k], current[k]) for k in floats), (
        "two steps with decay 0.5: the average differs from the last step's weights"
    )

    loaded = load_model(best).model.state_dict()  # test, recognize, export
    assert all(torch.equal(loaded[k], averaged[k]) for k in averaged)
    source = init_from.open_source(str(best)).state  # model.init_from
    assert all(torch.equal(source[k], averaged[k]) for k in source)
