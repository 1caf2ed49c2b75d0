"""``fer-lightning ensemble --choose-on-validation``: the ensemble is chosen by greedy forward
selection with replacement on the candidates' validation softmax, never on the test split, and
its test report is written as ``ensemble`` writes any; the validation softmax is computed with
each result's own test-time augmentation and cached; candidates validated on other images are
refused.

Here: the fast tests; the others are in ``tests/slow/test_ensemble_choice.py``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from fer_lightning.commands.ensemble import main as ensemble_main
from fer_lightning.errors import FERUserError
from fer_lightning.evaluation import ensemble_choice as ec
from fer_lightning.evaluation.predictions import Predictions

NAMES = ["a", "b", "c", "d"]

# ------------------------------------------------------------------ synthetic probabilities
#: (probability of the true class, of the wrong class) of an image's row.
RIGHT, MILD_WRONG, WRONG = (0.9, 0.05), (0.35, 0.45), (0.05, 0.9)


def rows(labels: np.ndarray, kinds: list[tuple[float, float]], shift: int = 1) -> np.ndarray:
    """Probabilities: per image the true class and the class ``label + shift`` get the kind's
    two values, the other two classes share the rest."""
    probs = np.zeros((len(labels), len(NAMES)))
    for i, (label, (right, wrong)) in enumerate(zip(labels, kinds, strict=True)):
        probs[i] = (1 - right - wrong) / 2
        probs[i, label] = right
        probs[i, (label + shift) % len(NAMES)] = wrong
    return probs


def planted(n1: int, n2: int, n3: int, n4: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Candidates a, b, c on n1 + n2 + n3 + n4 images: a right (and sure) on the first and
    third groups, b on the second and third, each unsure where the other is sure: a + b is
    right on the first three groups. c is right on the third only."""
    n = n1 + n2 + n3 + n4
    labels = np.arange(n) % len(NAMES)
    a = [RIGHT] * n1 + [MILD_WRONG] * n2 + [RIGHT] * n3 + [WRONG] * n4
    b = [MILD_WRONG] * n1 + [RIGHT] * n2 + [RIGHT] * n3 + [WRONG] * n4
    c = [WRONG] * (n1 + n2) + [RIGHT] * n3 + [WRONG] * n4
    return [rows(labels, a), rows(labels, b), rows(labels, c, shift=2)], labels


def test_greedy_selection_adds_what_raises_validation_accuracy() -> None:
    probs, labels = planted(20, 10, 50, 20)  # a 70 %, b 60 %, c 50 %, a + b 80 %
    selection = ec.greedy_selection(probs, labels, steps=5)
    assert [round(acc, 2) for acc, _ in selection.singles] == [0.7, 0.6, 0.5]
    first, second = selection.steps[:2]
    assert first.added == 0 and first.accuracy == pytest.approx(0.7)
    assert second.added == 1 and second.accuracy == pytest.approx(0.8)
    assert second.tried[0][0] == pytest.approx(0.7)  # a twice is a alone
    # later steps tie at 80 % at best: the fewest models averaged are kept
    assert max(s.accuracy for s in selection.steps) == pytest.approx(0.8)
    assert selection.best.step == 2 and selection.best.counts == (1, 1, 0)
    assert selection.members == [0, 1]
    table = ec.selection_markdown(selection, ["a", "b", "c"], len(labels))
    assert "| 2 | `b` | a + b | **80.00 %** |" in table


def test_selection_ties_prefer_fewer_members_then_lower_nll() -> None:
    probs, labels = planted(20, 10, 50, 20)
    same = ec.greedy_selection([probs[0], probs[0]], labels, steps=3)
    assert same.members == [0] and same.best.step == 1  # an ensemble of copies gains nothing
    assert all(s.added == 0 for s in same.steps)  # re-adding a: one distinct member
    sharper = probs[0] ** 2 / (probs[0] ** 2).sum(1, keepdims=True)  # same argmax
    nll = [ec.accuracy_nll(p, labels)[1] for p in (probs[0], sharper)]
    lower = int(np.argmin(nll))
    assert ec.greedy_selection([probs[0], sharper], labels, steps=1).members == [lower]


def test_weights_follow_how_often_a_candidate_was_added() -> None:
    probs, labels = planted(20, 10, 50, 20)
    selection = ec.greedy_selection(probs, labels, steps=4)
    record = ec.selection_record(selection, ["a", "b", "c"], "v", len(labels), ["none"] * 3)
    assert record["weights"] == {"a": 1, "b": 1}
    assert record["chosen_step"] == 2 and record["val_accuracy"] == pytest.approx(0.8)
    assert [c["val_accuracy"] for c in record["candidates"]] == pytest.approx([0.7, 0.6, 0.5])
    assert "Caruana" in record["rule"] and "validation" in record["rule"]
    assert ec.weights_text((2, 1, 0), ["a", "b", "c"]) == "a x2 + b"


# --------------------------------------------------------- the command, validation mocked
def candidate_run(folder: Path, test: Predictions, test_set: str = "t") -> Path:
    """A run directory with a (dummy) checkpoint, config.yaml and a published test report."""
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "checkpoints" / "best-epoch000.ckpt").write_bytes(folder.name.encode())
    (folder / "config.yaml").write_text("{}\n")
    test.save(folder)
    accuracy = float((test.predicted == test.targets).mean())
    summary = {
        "model": "m",
        "dataset": "FER2013",
        "split": "official",
        "test_images": len(test),
        "test_accuracy": accuracy,
        "test_fingerprint": "f",
        "test_set": test_set,
        "parameters": 10,
        "tta": "none",
        "checkpoint_selection": "best val/acc",
    }
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


@pytest.fixture
def three_candidates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Runs a, b, c whose validation outputs (mocked) make a + b the best ensemble, and whose
    test outputs make c the best model and a + c the best pair: chosen on test, c would win."""
    val, labels = planted(20, 10, 50, 20)
    test, test_labels = planted(10, 5, 50, 35)  # a 60 %, b 55 %, c 50 % ...
    test[2] = rows(test_labels, [RIGHT] * 90 + [WRONG] * 10)  # ... c 90 %
    ids = np.array([f"img{i:03d}" for i in range(len(labels))])
    runs = {}
    by_run = {}
    for name, v, t in zip("abc", val, test, strict=True):
        runs[name] = candidate_run(tmp_path / name, Predictions(t, test_labels, NAMES, ids))
        # validation listed in another order per candidate: the choice pairs them by image
        order = np.random.default_rng(ord(name)).permutation(len(labels))
        by_run[str(runs[name])] = Predictions(v[order], labels[order], NAMES, ids[order])

    def validation(cand: ec.Candidate, batch_size: int = 256, split: str = "val"):
        assert split == "val"
        preds = by_run[str(cand.run)]
        return preds, "v", False

    monkeypatch.setattr(ec, "validation_predictions", validation)
    return runs


def test_the_ensemble_is_chosen_on_validation_not_on_test(
    three_candidates: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = three_candidates
    out = tmp_path / "ens"
    args = [*map(str, runs.values()), "--choose-on-validation", "--steps", "4", "--out", str(out)]
    assert ensemble_main(args) == 0
    printed = capsys.readouterr().out
    assert "| 2 | `" in printed and "**80.00 %**" in printed  # the validation table
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ensemble_of"] == [str(runs["a"]), str(runs["b"])]
    assert summary["ensemble_weights"] == {str(runs["a"]): 1, str(runs["b"]): 1}
    choice = summary["ensemble_choice"]
    assert choice["chosen_step"] == 2 and choice["val_accuracy"] == pytest.approx(0.8)
    assert [c["run"] for c in choice["candidates"]] == [str(r) for r in runs.values()]
    assert choice["rule"] == ec.RULE
    # the test report is the ensemble command's own: McNemar against each member
    members = summary["ensemble_members"]
    assert {m["run"] for m in members} == {str(runs["a"]), str(runs["b"])}
    a = Predictions.load(runs["a"])
    b = Predictions.load(runs["b"])
    ens = Predictions.load(out)
    np.testing.assert_allclose(ens.probs, (a.probs + b.probs) / 2, rtol=1e-6)
    assert "## How the ensemble was chosen" in (out / "report.md").read_text()


def test_a_single_best_candidate_writes_nothing(
    three_candidates: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = three_candidates
    out = tmp_path / "ens"
    args = [str(runs["a"]), str(runs["c"]), "--choose-on-validation", "--out", str(out)]
    assert ensemble_main(args) == 0
    assert "no ensemble beats the best single candidate" in capsys.readouterr().out
    assert not out.exists()


def test_candidates_on_other_test_or_validation_sets_are_refused(
    three_candidates: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = three_candidates
    out = tmp_path / "ens"
    other = tmp_path / "other"
    shutil.copytree(runs["b"], other)
    summary = json.loads((other / "summary.json").read_text())
    (other / "summary.json").write_text(json.dumps({**summary, "test_set": "elsewhere"}))
    with pytest.raises(FERUserError, match="were scored on different test sets"):
        ensemble_main([str(runs["a"]), str(other), "--choose-on-validation", "--out", str(out)])
    mocked = ec.validation_predictions

    def elsewhere(cand: ec.Candidate, batch_size: int = 256, split: str = "val"):
        preds, val_set, cached = mocked(cand, batch_size, split)
        return preds, ("w" if cand.run == runs["b"] else val_set), cached

    monkeypatch.setattr(ec, "validation_predictions", elsewhere)
    with pytest.raises(FERUserError) as err:
        ensemble_main([str(runs["a"]), str(runs["b"]), "--choose-on-validation", "--out", str(out)])
    message = str(err.value)
    assert "have different validation sets" in message
    assert ". " not in message and "\n" not in message  # one sentence
    assert not out.exists()
