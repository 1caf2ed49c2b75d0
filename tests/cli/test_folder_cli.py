"""Your own folder and class subsets through the real ``fer-lightning fit`` in a subprocess: a
bad folder, csv or class list is a non-zero exit with exactly one line on stderr naming the
folder, file, row or key and what would be valid, and nothing is left in FER_RUNS_DIR (the
cases of :mod:`tests.cli.test_bad_input`, run by the same one-process driver).

Here: the fast tests; the others are in ``tests/slow/test_folder_cli.py``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.bad_input import Case, fill
from tests.helpers.fakedata import write_ckplus, write_folder
from tests.helpers.paths import TESTS

CONFIG = """\
seed_everything: 0
trainer: {max_epochs: 1, limit_train_batches: 2, limit_val_batches: 1, enable_progress_bar: false}
optimizer: {class_path: torch.optim.Adam, init_args: {lr: 0.001}}
data:
  class_path: fer_lightning.data.FolderDataModule
  init_args: {batch_size: 8, num_workers: 0, augment: none}
"""


def _fit(data: str, *extra: str) -> list[str]:
    return ["fit", "--config={config}", f"--data.data_dir={data}", *extra]


CASES = [
    Case("one class", _fit("{one}"), ["{one}", "one class folder ('happy')", "at least two"]),
    Case("empty class", _fit("{empty}"), ["{empty}/sad", "holds no images", "remove it"]),
    Case(
        "unknown class",
        _fit("{thinking}"),
        ["{thinking}/thinking", "'thinking'", "--data.own_classes=true", "rename"],
    ),
    Case(
        "fewer subjects than folds",
        _fit("{faces}", "--data.subject_pattern=p(\\d+)_", "--data.num_folds=6"),
        ["class 'happy'", "5 subjects", "data.num_folds=6", "lower --data.num_folds"],
    ),
    Case(
        "pattern matches nothing",
        _fit("{faces}", "--data.subject_pattern=S(\\d+)_"),
        ["data.subject_pattern", "matches no file name", "Happiness/p01_0.png"],
    ),
    Case("csv missing file", _fit("{missing_csv}"), ["{missing_csv} row 2", "does not exist"]),
    Case("csv unknown label", _fit("{label_csv}"), ["{label_csv} row 2", "'smirk'", "own_classes"]),
    Case(
        "unknown subset class",
        _fit("{faces}", "--data.classes=[happy,contempt]"),
        ["data.classes", "'contempt'", "your folder's classes are happy, angry, sad"],
    ),
    Case(
        "ck+ unknown subset class",
        ["fit", "--exp", "cnn_ckplus", "--data.data_dir={data}", "--data.classes=[happy,neutral]"],
        ["'neutral' is not a class of CK+", "anger, contempt, disgust"],
    ),
    Case(
        "unreadable image",
        _fit("{broken}"),
        ["{broken}/sad/broken.png", "unreadable image"],
    ),
    Case("no folder", _fit("{missing}"), ["{missing} does not exist", "--data.data_dir"]),
]
#: Found only when the images are decoded, after the run started (its log lines come first).
AFTER_START = {"unreadable image"}


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("folder_cli")
    (tmp / "config.yaml").write_text(CONFIG)
    write_ckplus(tmp / "data", subjects=5, frames=1)
    faces = write_folder(tmp / "faces")
    one = write_folder(tmp / "one", classes=("happy",))
    empty = write_folder(tmp / "empty", classes=("happy",))
    (empty / "sad").mkdir()
    thinking = write_folder(tmp / "thinking", classes=("happy", "thinking"))
    broken = write_folder(tmp / "broken")
    (broken / "sad" / "broken.png").write_text("not a png")
    (tmp / "missing.csv").write_text("faces/folder/sad/p01_0.png,sad\nfaces/folder/sad/x.png,sad\n")
    (tmp / "label.csv").write_text(
        "faces/folder/sad/p01_0.png,sad\nfaces/folder/sad/p01_1.png,smirk\n"
    )
    return {
        "config": str(tmp / "config.yaml"),
        "data": str(tmp / "data"),
        "faces": str(faces),
        "one": str(one),
        "empty": str(empty),
        "thinking": str(thinking),
        "broken": str(broken),
        "missing_csv": str(tmp / "missing.csv"),
        "label_csv": str(tmp / "label.csv"),
        "missing": str(tmp / "missing"),
        "runs": str(tmp / "runs"),
        "cache": str(tmp / "cache"),
    }


@pytest.fixture(scope="module")
def results(places: dict[str, str]) -> dict[str, dict]:
    cases = []
    for case in CASES:
        runs = Path(places["runs"]) / case.id.replace(" ", "_")
        runs.mkdir(parents=True)
        cases.append(
            {"argv": [fill(a, places) for a in case.argv], "env": {"FER_RUNS_DIR": str(runs)}}
        )
    env = {**os.environ, "FER_CACHE_DIR": places["cache"], "WANDB_MODE": "offline"}
    done = subprocess.run(
        [sys.executable, str(TESTS / "helpers" / "cli_driver.py")],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        env=env | {"WANDB_SILENT": "true"},
        cwd=TESTS.parent,
        timeout=600,
        check=True,
    )
    return {case.id: r for case, r in zip(CASES, json.loads(done.stdout), strict=True)}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_folder_input_is_one_sentence(
    case: Case, results: dict[str, dict], places: dict[str, str]
) -> None:
    result = results[case.id]
    lines = result["stderr"].splitlines()
    assert result["rc"] == 2, result["stderr"]
    assert "Traceback" not in result["stderr"], result["stderr"]
    if case.id in AFTER_START:
        lines = lines[-1:]
    assert len(lines) == 1 and lines[0].startswith("fer-lightning: error: "), result["stderr"]
    for text in case.says:
        assert fill(text, places) in lines[0]
    runs = Path(places["runs"]) / case.id.replace(" ", "_")
    assert list(runs.iterdir()) == [], "left behind in FER_RUNS_DIR"
