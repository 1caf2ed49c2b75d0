"""The model zoo: a published result whose weights are kept is a model every command loads by
name, its record checked against the weights, and ``test`` by name repeats its result.

Here: the fast tests; the others are in ``tests/slow/test_zoo.py``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fer_lightning import zoo
from fer_lightning.errors import FERUserError
from fer_lightning.main import main as entry
from tests.helpers.zoo_fixtures import NAME


def test_weights_that_differ_from_their_record_are_refused(in_zoo: Path, tmp_path: Path) -> None:
    model = zoo.get(NAME)
    original = model.weights.read_bytes()
    try:
        model.weights.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        with pytest.raises(FERUserError, match="SHA-256"):
            zoo.get(NAME)
    finally:
        model.weights.write_bytes(original)
    assert zoo.get(NAME).weights == model.weights


def test_an_unknown_name_is_one_sentence_listing_the_zoo(
    in_zoo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert entry(["recognize", "--ckpt", "baseline_fer2013/tiny-publishd", "--about"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"did you mean '{NAME}'" in err and "zoo models:" in err
    assert entry(["test", "--ckpt_path", "nope/none"]) == 2
    assert "neither a file nor a zoo model" in capsys.readouterr().err


def test_a_cross_dataset_test_is_a_result_not_a_zoo_model(in_zoo: Path, tmp_path: Path) -> None:
    folder = in_zoo / NAME
    summary = json.loads((folder / "summary.json").read_text())
    root = tmp_path / "results"
    other = root / "baseline_fer2013" / "cross"
    shutil.copytree(folder, other)
    (other / "summary.json").write_text(json.dumps({**summary, "dataset": "CKPlus"}))
    assert zoo.make_record(other, root) is None
    assert zoo.make_record(folder, in_zoo) is not None


def test_the_zoo_keeps_every_weight_a_result_or_an_experiment_depends_on() -> None:
    """Weights may leave the zoo to make room in its budget (docs/evaluation.md says which),
    never those of a member of a published ensemble (a clone repeats the ensemble from them),
    of a model an experiment starts from or learns from (``model.init_from``,
    ``data.distill.teachers``: ``make train`` needs them), or of the shipped model."""
    import yaml

    from tests.helpers.paths import REPO

    needed: dict[str, str] = {}
    for summary in sorted(zoo.ZOO_DIR.glob("ensemble_*/*/summary.json")):
        for member in json.loads(summary.read_text())["ensemble_of"]:
            if member.startswith("results/"):  # an early choice named one run in runs/
                where = summary.parent.relative_to(zoo.ZOO_DIR)
                needed[member.removeprefix("results/")] = f"a member of {where}"
    for path in sorted((REPO / "experiments").glob("*.yaml")):
        config = yaml.safe_load(path.read_text())
        init_args = (config.get("data") or {}).get("init_args") or {}
        names = [(config.get("model") or {}).get("init_from")]
        names += (init_args.get("distill") or {}).get("teachers", [])
        for name in filter(None, names):
            needed[name] = f"named by experiments/{path.name}"
    assert len(needed) >= 10, needed
    models = zoo.models()
    missing = {
        name: why
        for name, why in needed.items()
        if name not in models or not models[name].weights.is_file()
    }
    assert not missing, missing
    for name in needed:
        zoo.get(name)  # and they are the weights their records describe
    assert zoo.default() is not None


def test_card_all_removes_the_card_of_a_result_whose_weights_left(
    in_zoo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Weights leave the zoo to make room; ``card --all`` then drops that result's card, which
    would describe weights that are gone, and writes every zoo model's."""
    from fer_lightning.results import card

    def write(model: zoo.ZooModel) -> Path:  # the card's content is tests/unit/test_card.py's
        (model.folder / card.FILENAME).write_text(f"# {model.name}\n")
        return model.folder / card.FILENAME

    monkeypatch.setattr(card, "write", write)
    stale = in_zoo / "baseline_fer2013" / "seed-without-weights" / "MODEL_CARD.md"
    stale.parent.mkdir()
    stale.write_text("- weights: `model.safetensors` (gone)\n")
    try:
        assert entry(["card", "--all"]) == 0
        assert not stale.exists()
        assert (in_zoo / NAME / "MODEL_CARD.md").is_file()
        assert "removed" in capsys.readouterr().out
    finally:
        shutil.rmtree(stale.parent)
        (in_zoo / NAME / "MODEL_CARD.md").unlink(missing_ok=True)


def test_every_weight_file_in_results_is_stored_for_bf16_mixed() -> None:
    """docs/evaluation.md: the zoo keeps the bfloat16 tensors bf16-mixed computed with (half of
    float32's size, the same outputs bit for bit); only the shipped model, outside results/,
    stays float32. A float32 file left in results/ spends budget another model needs."""
    from safetensors import safe_open

    files = sorted(zoo.ZOO_DIR.rglob("*.safetensors"))
    assert len(files) >= 10, files
    stored = {}
    for path in files:
        with safe_open(str(path), "pt") as fh:
            stored[str(path.relative_to(zoo.ZOO_DIR))] = (fh.metadata() or {}).get("dtype")
    assert {path: dtype for path, dtype in stored.items() if dtype != "bf16-mixed"} == {}
