"""``make tables`` publishes only numbers its records' predictions give: a hand-edited accuracy
in a published summary.json, cv.json or sweep results.csv is refused in one sentence and
nothing is written (README.md included)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from fer_lightning.main import main
from tests.helpers.paths import REPO

RESULTS = REPO / "results"
RUN = RESULTS / "baseline_fer2013" / "official-30ep-tencrop"
CV = RESULTS / "cnn_ckplus" / "subject-cv5"
SWEEP = RESULTS / "cnn_fer2013_clean" / "optim-3ep"


def _published(tmp_path: Path, source: Path) -> Path:
    root = tmp_path / "results"
    dest = root / source.parent.name / source.name
    shutil.copytree(source, dest)
    return dest


def _edit_json(path: Path, change: callable) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _tables(tmp_path: Path, capsys: pytest.CaptureFixture, *extra: str) -> tuple[int, str]:
    readme = tmp_path / "README.md"
    readme.write_text("x\n<!-- results-tables:begin -->\n<!-- results-tables:end -->\n")
    capsys.readouterr()
    argv = ["tables", "--results", str(tmp_path / "results"), "--readme", str(readme)]
    rc = main([*argv, "--experiments-doc", str(tmp_path / "none.md"), *extra])
    err = capsys.readouterr().err
    assert readme.read_text().count("\n") == 3, "README.md left as it was"
    assert not (tmp_path / "results" / "tables.md").exists()
    return rc, err


def _one_sentence(err: str, *says: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fer-lightning: error: "), err
    assert "Traceback" not in err
    for text in says:
        assert text in lines[0], lines[0]


@pytest.mark.parametrize("check", [False, True])
def test_an_edited_summary_accuracy_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture, check: bool
) -> None:
    run = _published(tmp_path, RUN)
    _edit_json(run / "summary.json", lambda s: s.update(test_accuracy=s["test_accuracy"] + 0.01))
    rc, err = _tables(tmp_path, capsys, *(["--check"] if check else []))
    assert rc == 2
    _one_sentence(err, f"{run / 'summary.json'}: test_accuracy is", "predictions.npz gives")


def test_an_edited_cross_validation_mean_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    cv = _published(tmp_path, CV)
    _edit_json(cv / "cv.json", lambda c: c.update(test_acc_mean=0.97))
    rc, err = _tables(tmp_path, capsys)
    assert rc == 2
    _one_sentence(err, f"{cv / 'cv.json'}: test_acc_mean is 0.97")


def test_an_edited_sweep_line_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    sweep = _published(tmp_path, SWEEP)
    path = sweep / "results.csv"
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows[0]["test/acc"] = "0.9"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    rc, err = _tables(tmp_path, capsys)
    assert rc == 2
    _one_sentence(err, f"{path}: test/acc of 18-optimizer=AdamW,lr=0.001 is 0.9")
