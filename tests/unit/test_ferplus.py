"""FER+: the four training modes of microsoft/FERPlus, the two on-disk forms (official layout,
csv pair) giving the same items, soft targets through the classifier's loss, the audit's vote
statistics and agreement matrix, bad input as one sentence, and the real split sizes.

Here: the fast tests; the others are in ``tests/real_data/test_ferplus.py``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fer_lightning.data.audit import audit_dataset, markdown
from fer_lightning.data.ferplus import (
    FERPLUS8,
    MODES,
    FERPlusDataModule,
    mode_targets,
    process_votes,
)
from fer_lightning.data.labels import canonical
from fer_lightning.data.sampling import Draw
from fer_lightning.models.classifier import FERClassifier, multi_target_loss
from tests.helpers.bad_input import Case, fill
from tests.helpers.fakedata import FERPLUS_SPECIAL, ferplus_rows, write_ferplus
from tests.helpers.paths import TESTS


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path / "cache"))


def datamodule(root: Path, **kwargs) -> FERPlusDataModule:
    dm = FERPlusDataModule(data_dir=str(root), num_workers=0, batch_size=4, **kwargs)
    dm.setup()
    return dm


# ----------------------------------------------------------------------------- the modes
def test_modes_follow_the_ferplus_code_vote_by_vote() -> None:
    """microsoft/FERPlus _process_data on hand-checked rows (outlier removal first)."""
    # 7 neutral, 2 happiness, 1 surprise: the single vote goes; 7 of 9 is a majority.
    clear = [7, 2, 1, 0, 0, 0, 0, 0, 0, 0]
    assert process_votes(clear, "majority") == [1.0] + [0.0] * 9
    assert process_votes(clear, "crossentropy")[:2] == [1.0, 0.0]  # 7 >= 75 % of 9: stop
    assert process_votes(clear, "multi_target")[:2] == [1.0, 0.0]  # 2 < 30 % of 9
    # 5-3-2: the distribution modes take 5, then 3 (8 >= 75 %); multi-target 5 and 3 (>= 3)
    mixed = [5, 3, 2, 0, 0, 0, 0, 0, 0, 0]
    for mode in ("probability", "crossentropy", "multi_target"):
        assert np.allclose(process_votes(mixed, mode)[:3], [5 / 8, 3 / 8, 0]), mode
    # 4-3-3: no majority (unknown); the distribution modes take all three (10 >= 75 %).
    split = FERPLUS_SPECIAL["no majority"]
    assert int(np.argmax(process_votes(split, "majority"))) == 8
    assert np.allclose(process_votes(split, "probability")[:4], [0.4, 0, 0.3, 0.3])
    assert np.allclose(process_votes(split, "multi_target")[:4], [0.4, 0, 0.3, 0.3])
    # a tie of an emotion with unknown: unknown is zeroed (the emotion came first), which
    # leaves 5 of 10 votes, not more than half: unknown
    tie = [5, 0, 0, 0, 0, 0, 0, 0, 5, 0]
    assert int(np.argmax(process_votes(tie, "crossentropy"))) == 8
    # 5 happiness and five single votes: only happiness is left, 5 of 5
    assert process_votes(FERPLUS_SPECIAL["outliers"], "majority")[1] == 1.0
    for mode in MODES:
        assert int(np.argmax(process_votes(FERPLUS_SPECIAL["not a face"], mode))) >= 8


def test_unknown_and_not_a_face_are_dropped_and_targets_sum_to_one() -> None:
    votes = np.array([[7, 2, 1, 0, 0, 0, 0, 0, 0, 0], *FERPLUS_SPECIAL.values()], dtype=np.float32)
    kept = {m: mode_targets(votes, m) for m in MODES}
    # clear, unknown, not a face, no majority, outliers
    assert kept["majority"].keep.tolist() == [True, False, False, False, True]
    assert kept["crossentropy"].keep.tolist() == [True, False, False, True, True]
    assert kept["majority"].targets is None
    assert np.allclose(kept["crossentropy"].targets.sum(1), 1.0)
    assert kept["multi_target"].targets.tolist()[1] == [1, 0, 1, 1, 0, 0, 0, 0]
    assert kept["crossentropy"].labels.tolist() == [0, 0, 1]


def test_splits_on_generated_data_val_and_test_are_majority(tmp_path: Path) -> None:
    write_ferplus(tmp_path)
    majority = datamodule(tmp_path)
    soft = datamodule(tmp_path, mode="crossentropy")
    # 24 clear rows + "outliers"; crossentropy keeps "no majority" too
    assert [len(majority.splits[s]) for s in ("train", "val", "test")] == [25, 9, 9]
    assert [len(soft.splits[s]) for s in ("train", "val", "test")] == [26, 9, 9]
    assert soft.splits["train"].targets.shape == (26, 8)
    assert soft.splits["val"].targets is None  # evaluation: majority labels
    image, target = soft.dataset("train", train=True)[Draw(0, 1)]
    assert target.dtype == torch.float32 and target.shape == (8,)
    assert soft.dataset("val")[0][1].dtype == torch.long
    assert majority.dataset("train", train=True)[Draw(0, 1)][1].dtype == torch.long


def test_probability_mode_draws_a_label_per_load_reproducibly(tmp_path: Path) -> None:
    write_ferplus(tmp_path)
    dm = datamodule(tmp_path, mode="probability")
    train = dm.dataset("train", train=True)
    item = int(np.flatnonzero(dm.splits["train"].targets.max(1) < 1)[0])  # a mixed one
    draws = [int(train[Draw(item, seed)][1]) for seed in range(40)]
    assert draws == [int(train[Draw(item, seed)][1]) for seed in range(40)]  # seeded
    assert len(set(draws)) > 1  # a new label in another epoch
    allowed = set(np.flatnonzero(dm.splits["train"].targets[item]).tolist())
    assert set(draws) <= allowed


def test_csv_pair_gives_the_items_and_labels_of_the_folder_layout(tmp_path: Path) -> None:
    """Joined by row position: the generated names of rows 1 and 2 are swapped."""
    write_ferplus(tmp_path / "folder", form="folder")
    write_ferplus(tmp_path / "pair", form="csv")
    for mode in MODES:
        a = datamodule(tmp_path / "folder", mode=mode, source="folder")
        b = datamodule(tmp_path / "pair", mode=mode, source="csv")
        for name in ("train", "val", "test"):
            sa, sb = a.splits[name], b.splits[name]
            assert np.array_equal(sa.images, sb.images), (mode, name)
            assert np.array_equal(sa.labels, sb.labels), (mode, name)
            assert (sa.targets is None) == (sb.targets is None)
            if sa.targets is not None:
                assert np.array_equal(sa.targets, sb.targets)


def test_class_names_map_to_fer2013_names() -> None:
    assert [canonical(c) for c in FERPLUS8] == [
        "neutral",
        "happy",
        "surprise",
        "sad",
        "angry",
        "disgust",
        "fear",
        "contempt",
    ]


# ------------------------------------------------------------------------------ the loss
def test_soft_targets_train_through_the_classifier() -> None:
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 3.0]])
    targets = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    p = logits.softmax(-1)
    expected = -torch.log(torch.stack([p[0, 0] + p[0, 1], p[1, 2]])).mean()
    assert torch.allclose(multi_target_loss(logits, targets), expected)
    assert torch.allclose(
        multi_target_loss(logits, torch.tensor([0, 2])),
        torch.nn.functional.cross_entropy(logits, torch.tensor([0, 2])),
    )
    x = torch.randn(4, 1, 48, 48)
    soft = torch.tensor([[0.5, 0.5] + [0.0] * 6] * 4)
    for loss in ("cross_entropy", "multi_target"):
        model = FERClassifier(num_classes=8, loss=loss).eval()  # no dropout: same logits
        value, _ = model._step((x, soft), "train")
        logp = model(x).log_softmax(-1)
        want = (
            -(soft * logp).sum(-1).mean()
            if loss == "cross_entropy"
            else -torch.logsumexp(logp[:, :2], -1).mean()
        )
        assert torch.allclose(value, want, atol=1e-5), loss
        value.backward()


# ----------------------------------------------------------------------------- the audit
def test_audit_reports_votes_and_the_agreement_matrix(tmp_path: Path) -> None:
    write_ferplus(tmp_path, form="csv")
    report = audit_dataset("ferplus", tmp_path)
    votes = report["ferplus"]["votes"]["FER2013Train"]
    assert votes["images"] == 28 and votes["kept_by_mode"]["majority"] == 25
    assert (votes["unknown_majority"], votes["nf_majority"], votes["no_majority"]) == (1, 1, 1)
    assert votes["mean_votes_of_majority_emotion"] == pytest.approx((24 * 7 + 5) / 25, 1e-3)
    agreement = report["ferplus"]["agreement"]
    matrix = np.array(agreement["matrix"])
    assert matrix.sum() == 28 + 12 + 12 and agreement["images"] == 52
    # every fifth row carries another FER2013 label; contempt is no FER2013 label at all
    from fer_lightning.data.labels import FER7

    expected = dict.fromkeys(FER7, 0)
    for _, _, votes, fer, _ in ferplus_rows():
        top = int(np.argmax(votes))
        if top < 8 and canonical(FERPLUS8[top]) != FER7[fer]:
            expected[FER7[fer]] += 1
    got = {c: v["contradicted"] for c, v in agreement["contradicted"].items()}
    assert got == expected and sum(got.values()) > 0
    assert "FER2013 label (rows) vs FER+ majority" in markdown(report)
    assert report["splits"]["FER2013Train"]["per_class"]["NF"] == 1


# ----------------------------------------------------------------------------- bad input
def _fit(*extra: str) -> list[str]:
    return ["fit", "--exp", "vgg13_ferplus_majority", "--data.num_workers=0", *extra]


BAD = [
    Case(
        "label.csv row of the wrong width",
        _fit("--data.data_dir={narrow}"),
        ["{narrow}/ferplus/FER2013Train/label.csv line 3", "12 fields", "got 11"],
    ),
    Case(
        "votes that are not numbers",
        _fit("--data.data_dir={words}"),
        ["{words}/ferplus/FER2013Valid/label.csv line 2", "not all numbers"],
    ),
    Case(
        "a PNG missing",
        _fit("--data.data_dir={no_png}"),
        ["{no_png}/ferplus/FER2013Test/label.csv line 1", "fer00000", "does not exist"],
    ),
    Case(
        "csv pair of different lengths",
        _fit("--data.data_dir={short}"),
        ["{short}/ferplus/fer2013.csv has 52 rows", "fer2013new.csv has 51"],
    ),
    Case(
        "unknown mode",
        _fit("--data.data_dir={good}", "--data.mode=majorty"),
        ["data.mode 'majorty'", "majority, probability, crossentropy, multi_target"],
    ),
]


def _edit(path: Path, line: int, change) -> None:
    lines = path.read_text().splitlines()
    lines[line - 1] = change(lines[line - 1])
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def bad_places(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("ferplus_bad")
    places = {name: str(tmp / name) for name in ("good", "narrow", "words", "no_png", "short")}
    for name in ("good", "narrow", "words", "no_png"):
        write_ferplus(Path(places[name]))
    write_ferplus(Path(places["short"]), form="csv")
    root = {name: Path(p) / "ferplus" for name, p in places.items()}
    _edit(root["narrow"] / "FER2013Train" / "label.csv", 3, lambda s: s.rsplit(",", 1)[0])
    _edit(root["words"] / "FER2013Valid" / "label.csv", 2, lambda s: s[: s.rfind(",")] + ",x")
    first = (root["no_png"] / "FER2013Test" / "label.csv").read_text().split(",", 1)[0]
    (root["no_png"] / "FER2013Test" / first).unlink()
    new = root["short"] / "fer2013new.csv"
    new.write_text("".join(new.read_text().splitlines(keepends=True)[:-1]))
    return places | {"runs": str(tmp / "runs"), "cache": str(tmp / "cache")}


@pytest.fixture(scope="module")
def bad_results(bad_places: dict[str, str]) -> dict[str, dict]:
    cases = []
    for case in BAD:
        runs = Path(bad_places["runs"]) / case.id.replace(" ", "_")
        runs.mkdir(parents=True)
        cases.append({"argv": [fill(a, bad_places) for a in case.argv], "env": {}})
        cases[-1]["env"]["FER_RUNS_DIR"] = str(runs)
    env = {**os.environ, "FER_CACHE_DIR": bad_places["cache"], "WANDB_MODE": "offline"}
    done = subprocess.run(
        [sys.executable, str(TESTS / "helpers" / "cli_driver.py")],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        env=env,
        cwd=TESTS.parent,
        timeout=600,
        check=True,
    )
    return {case.id: r for case, r in zip(BAD, json.loads(done.stdout), strict=True)}


@pytest.mark.parametrize("case", BAD, ids=[c.id for c in BAD])
def test_bad_ferplus_input_is_one_sentence(
    case: Case, bad_results: dict[str, dict], bad_places: dict[str, str]
) -> None:
    result = bad_results[case.id]
    # A file's content is read once the run has started (its log lines come first): the
    # error is the last line, one sentence, and the run folder is removed.
    errors = [s for s in result["stderr"].splitlines() if s.startswith("fer-lightning: error: ")]
    assert result["rc"] != 0, result["stderr"]
    assert "Traceback" not in result["stderr"], result["stderr"]
    assert len(errors) == 1 and result["stderr"].rstrip().endswith(errors[0]), result["stderr"]
    for text in case.says:
        assert fill(text, bad_places) in errors[0], errors[0]
    runs = Path(bad_places["runs"]) / case.id.replace(" ", "_")
    assert list(runs.iterdir()) == [], "left behind in FER_RUNS_DIR"
