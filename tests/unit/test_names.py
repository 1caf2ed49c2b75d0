"""A name is a name: wherever a name becomes a folder (publish --name, the experiment field of a
run's summary.json, ensemble --name, sweeps, run directories), a separator or '..' is refused in
one sentence and nothing is written. (--experiment and the config's experiment key are cases of
tests/cli/test_bad_input.py.)"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fer_lightning.errors import FERUserError
from fer_lightning.main import main
from fer_lightning.paths import check_name
from fer_lightning.run import layout

ESCAPES = ["../../escape", "..", ".", "", "/tmp/abs", "a/b", "a\\b"]


@pytest.mark.parametrize("name", ESCAPES)
def test_names_with_separators_or_dots_are_refused(name: str) -> None:
    with pytest.raises(FERUserError, match="is not a plain name"):
        check_name(name, "--name")


@pytest.mark.parametrize("name", ["baseline_fer2013", "optim-3ep", "v1.2", "a..b"])
def test_plain_names_pass(name: str) -> None:
    assert check_name(name, "--name") == name


def _fake_run(folder: Path, experiment: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps({"experiment": experiment}))
    (folder / "config.yaml").write_text("model: {}\n")
    return folder


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


@pytest.mark.parametrize(
    ("name", "experiment", "says"),
    [
        ("../../escape", "ok", "--name '../../escape'"),
        ("{tmp}/absolute", "ok", "--name '{tmp}/absolute'"),
        (None, "../../../escape", "the experiment field of"),
    ],
)
def test_publish_writes_nothing_outside_results(
    tmp_path: Path, capsys: pytest.CaptureFixture, name: str | None, experiment: str, says: str
) -> None:
    name = name.replace("{tmp}", str(tmp_path)) if name else None
    says = says.replace("{tmp}", str(tmp_path))
    run = _fake_run(tmp_path / "runs" / "ok" / "20250101-000000", experiment)
    results = tmp_path / "deep" / "er" / "results"
    before = _files(tmp_path)
    argv = ["publish", str(run), "--results", str(results), *(["--name", name] if name else [])]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0] and "plain name" in err[0]
    assert _files(tmp_path) == before  # the absolute name pointed inside tmp_path too


def test_ensemble_name_is_refused_before_anything_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    runs = [tmp_path / "a", tmp_path / "b"]  # never read: the name is checked first
    assert main(["ensemble", *map(str, runs), "--name", "../../x"]) == 2
    assert "--name '../../x' is not a plain name" in capsys.readouterr().err
    assert not (Path(os.environ["FER_RUNS_DIR"]).parent / "x").exists()


@pytest.mark.parametrize("kind", [None, "cv"])
def test_run_and_group_directories_refuse_an_escaping_experiment(kind: str | None) -> None:
    with pytest.raises(FERUserError, match="the experiment name '../x'"):
        if kind is None:
            layout.new_run_dir("../x")
        else:
            with layout.group_dir("../x", kind):
                pass
    with pytest.raises(FERUserError, match="the sweep name"), layout.sweep_dir("../sweep"):
        pass
