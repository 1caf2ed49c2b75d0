"""results/: publishing runs, the papers' tables, and that committed results agree with their
own artifacts (no number in a table that its run's files do not hold).

Here: the fast tests; the others are in ``tests/slow/test_results.py``."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from fer_lightning.errors import FERUserError
from fer_lightning.evaluation.predictions import Predictions
from fer_lightning.main import main
from fer_lightning.results.markdown import training_time
from fer_lightning.results.pictures import same_picture
from fer_lightning.results.publish import PICTURE_LINE, publish, share_pictures, unlink_pictures
from fer_lightning.results.tables import (
    load_results,
    own_experiments,
    own_table,
    recipe,
    render,
    starts_from_a_model,
)
from fer_lightning.run import record
from tests.helpers.commands import fit_args
from tests.helpers.fakedata import write_fer2013_folder
from tests.helpers.paths import REPO

COMMITTED = REPO / "results"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny 2-epoch run for the module (each test publishes its own copy of it)."""
    root = tmp_path_factory.mktemp("trained")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FER_RUNS_DIR", str(root / "runs"))
        mp.setenv("FER_CACHE_DIR", str(root / "cache"))
        mp.setenv("WANDB_MODE", "disabled")
        data = write_fer2013_folder(root / "data")
        assert main(fit_args(data, "--trainer.max_epochs=2")) == 0
    (run,) = (root / "runs" / "baseline_fer2013").iterdir()
    return run


@pytest.fixture
def published(trained: Path, tmp_path: Path) -> Path:
    """The module's run, copied into this test's runs folder, published under ``tmp_path``."""
    run = Path(os.environ["FER_RUNS_DIR"]) / "baseline_fer2013" / trained.name
    shutil.copytree(trained, run, symlinks=True)
    return publish(run, "tiny", tmp_path / "results")


def test_publish_copies_the_record_of_a_run_without_checkpoints(published: Path) -> None:
    names = {p.name for p in published.iterdir()}
    for expected in ("config.yaml", "command.txt", "timing.json", "summary.json", "report.md"):
        assert expected in names
    assert {"metrics.csv", "report.csv", "confusion_matrix.png", "predictions.npz"} <= names
    assert "checkpoints" not in names and "wandb" not in names
    assert "fer-lightning fit --exp baseline_fer2013" in (published / "command.txt").read_text()
    summary = json.loads((published / "summary.json").read_text())
    assert summary["precision"] and summary["hardware"]["cpu_cores"] >= 1
    (run,) = (Path(os.environ["FER_RUNS_DIR"]) / "baseline_fer2013").iterdir()
    drawn = (run / "confusion_matrix.png").read_bytes()
    stored = (published / "confusion_matrix.png").read_bytes()
    assert same_picture(stored, drawn) and len(stored) < len(drawn), "same pixels, smaller"


def test_a_picture_an_earlier_result_holds_is_linked_not_copied_again(published: Path) -> None:
    """A second publication of the same run (as a ten-crop twin draws its training's curves
    again) links the sibling's identical pictures; a picture that differs is kept."""
    (run,) = (Path(os.environ["FER_RUNS_DIR"]) / "baseline_fer2013").iterdir()
    (run / "roc.png").write_bytes(b"another picture")
    twin = publish(run, "tiny-twin", published.parent.parent)
    report = (twin / "report.md").read_text()
    assert not (twin / "curves.png").exists() and "](../tiny/curves.png)" in report
    assert (twin / "roc.png").read_bytes() == b"another picture" and "](roc.png)" in report


def test_a_rerun_links_the_pictures_each_fold_repeats(tmp_path: Path) -> None:
    """An exact re-run of a cross-validation draws fold 0's pictures again: linked, at depth."""
    for name, roc in (("subject-cv5", b"roc"), ("subject-cv5-rerun", b"another roc")):
        fold = tmp_path / "cnn_ckplus" / name / "fold0"
        fold.mkdir(parents=True)
        (fold / "curves.png").write_bytes(b"curves")
        (fold / "roc.png").write_bytes(roc)
        (fold / "report.md").write_text(
            "![training curves](curves.png)\n\n![ROC curves](roc.png)\n"
        )
    rerun = tmp_path / "cnn_ckplus" / "subject-cv5-rerun"
    assert share_pictures(rerun) == ["fold0/curves.png -> ../../subject-cv5/fold0/curves.png"]
    report = (rerun / "fold0" / "report.md").read_text()
    assert "](../../subject-cv5/fold0/curves.png)" in report and "](roc.png)" in report
    assert not (rerun / "fold0" / "curves.png").exists() and (rerun / "fold0" / "roc.png").exists()
    assert (rerun / "fold0" / "../../subject-cv5/fold0/curves.png").resolve().is_file()


def test_publish_never_overwrites(published: Path) -> None:
    run = Path(os.environ["FER_RUNS_DIR"]) / "baseline_fer2013"
    (source,) = run.iterdir()
    with pytest.raises(FERUserError, match="exists already"):
        publish(source, "tiny", published.parent.parent)


def test_tables_show_the_published_number_and_what_was_not_run(published: Path) -> None:
    summary = json.loads((published / "summary.json").read_text())
    text = render(published.parent.parent)
    row = next(line for line in text.splitlines() if line.startswith("| `baseline_fer2013`"))
    assert f"**{100 * summary['test_accuracy']:.2f} %**" in row
    assert "60.85 %" in row  # the paper's
    vgg = next(line for line in text.splitlines() if line.startswith("| `vgg16_fer2013` "))
    assert "not run: needs ImageNet weights" in vgg
    for title in ("qutub2023", "almsari2024", "trinh2023", "jahangir2024", "bodapati2024"):
        assert title.split("2")[0].capitalize() in text


def test_own_recipes_table_shows_the_run_its_recipe_and_what_it_must_beat(
    published: Path,
) -> None:
    (result,) = load_results(published.parent.parent)
    name = next(n for n in own_experiments() if not starts_from_a_model(n))
    result.experiment = name
    text = own_table([result])
    assert text is not None
    assert "60.85 % (qutub2023, test)" in text and "67.23 % (jahangir2024, validation)" in text
    row = next(line for line in text.splitlines() if line.startswith(f"| `{name}`"))
    assert f"**{100 * result.summary['test_accuracy']:.2f} %**" in row
    optimizer = result.config["optimizer"]
    lr = optimizer["init_args"]["lr"]
    assert f"{optimizer['class_path'].rsplit('.', 1)[-1]} (lr {lr:g}" in row
    assert f"augmentation: {result.data_args['augment']}" in row
    unrun = own_table([])
    assert unrun is not None and f"not run yet: `make train EXP={name}`" in unrun
    assert f"{result.summary['epochs']} epochs, " in row and "test-only" not in row  # a fit


def test_recipe_says_what_the_config_does_not_record(published: Path) -> None:
    (result,) = load_results(published.parent.parent)
    result.config = {"optimizer": "Adam", "model": None, "data": {"init_args": {"augment": None}}}
    assert recipe(result) == "Adam; augmentation: ?"
    result.config = {}
    assert recipe(result) == "optimizer ?; augmentation: ?"


# ------------------------------------------------------------------ the committed results
COMMITTED_RUNS = sorted(p.parent for p in COMMITTED.glob("**/summary.json"))


@pytest.mark.parametrize("run", COMMITTED_RUNS, ids=lambda p: str(p.relative_to(COMMITTED)))
def test_committed_report_equals_its_predictions(run: Path) -> None:
    summary = json.loads((run / "summary.json").read_text())
    with (run / "report.csv").open() as fh:
        csv_acc = next(float(r["f1"]) for r in csv.DictReader(fh) if r["class"] == "accuracy")
    assert csv_acc == pytest.approx(summary["test_accuracy"], abs=1e-6)
    if (run / "predictions.npz").is_file():
        pred = Predictions.load(run / "predictions.npz")
        assert len(pred) == summary["test_images"]
        assert np.mean(pred.predicted == pred.targets) == pytest.approx(
            summary["test_accuracy"], abs=1e-6
        )


@pytest.mark.parametrize(
    "cv", sorted(COMMITTED.glob("**/cv.json")), ids=lambda p: str(p.parent.relative_to(COMMITTED))
)
def test_committed_cross_validation_equals_its_folds(cv: Path) -> None:
    summary = json.loads(cv.read_text())
    folds = [
        json.loads((cv.parent / f"fold{f['fold']}" / "summary.json").read_text())
        for f in summary["folds"]
    ]
    accs = [f["test_accuracy"] for f in folds]
    assert summary["test_acc_mean"] == pytest.approx(np.mean(accs), abs=1e-6)
    assert summary["test_acc_std"] == pytest.approx(np.std(accs, ddof=1), abs=1e-6)
    pictures = {p.relative_to(cv.parent).as_posix() for p in cv.parent.glob("fold*/*.png")}
    assert all(p.startswith("fold0/") for p in pictures), "fold 0's pictures only"
    fold0 = (cv.parent / "fold0" / "report.md").read_text().splitlines()
    # its own, or links to an earlier result's identical copies (publish.share_pictures)
    assert any(map(PICTURE_LINE.match, fold0)), "fold 0's report shows its pictures"
    weights = {p.parent.name for p in cv.parent.glob("fold*/model.safetensors")}
    assert weights <= {"fold0"}, "a cross-validation keeps at most fold 0's weights"


def test_every_committed_report_links_only_pictures_it_has() -> None:
    dangling = [
        f"{report.relative_to(COMMITTED)}: {m['target']}"
        for report in COMMITTED.glob("**/report.md")
        for m in map(PICTURE_LINE.match, report.read_text().splitlines())
        if m and not (report.parent / m["target"]).is_file()
    ]
    assert not dangling, dangling[:5]


def test_a_picture_left_out_is_said_not_linked(tmp_path: Path) -> None:
    (tmp_path / "roc.png").write_bytes(b"png")
    report = "# r\n\n![ROC curves](roc.png)\n\n![confusion matrix](confusion_matrix.png)\n"
    out = unlink_pictures(report, tmp_path).splitlines()
    assert out[2] == "![ROC curves](roc.png)"  # kept: still linked
    assert (
        out[4]
        == "*(confusion matrix: `confusion_matrix.png`, not kept in `results/` for this run)*"
    )
    assert unlink_pictures(report, tmp_path).endswith("\n")


def test_bad_paths_are_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = [
        (["publish", str(tmp_path / "nope")], "no such run directory"),
        (["publish", str(tmp_path)], "has no summary.json"),
        (["tables", "--results", str(tmp_path / "nope")], "no such folder"),
        (["bundle", str(tmp_path / "nope")], "no such run directory"),
    ]
    for args, message in cases:
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and message in err, (args, err)
    assert not (tmp_path / "nope").exists()


def test_a_fit_that_stopped_untimed_makes_the_training_time_a_lower_bound(tmp_path: Path) -> None:
    run = tmp_path / "run"
    record.record_command(run, ["fit", "--exp", "x"])  # killed: no timing.json
    assert record.untimed_fits(run) == 1
    assert training_time([run]) == "n/a, 1 stopped fit not timed"
    record.record_command(run, ["fit", "--ckpt_path=last.ckpt"])  # resumed, ended
    record.add_fit_time(run, 90)
    record.record_command(run, ["test", "--ckpt_path=best.ckpt"])  # not a fit
    assert (record.fit_seconds(run), record.untimed_fits(run)) == (90, 1)
    other = tmp_path / "other"
    record.record_command(other, ["fit"])
    record.add_fit_time(other, 30)
    assert training_time([run, other]) == "at least 2m 00s, 1 stopped fit not timed"
    assert (
        training_time([run, other], " in all") == "at least 2m 00s in all, 1 stopped fit not timed"
    )
    assert training_time([other]) == "0m 30s"
    legacy = tmp_path / "legacy"  # timing.json from before it counted fits
    record.record_command(legacy, ["fit"])
    (legacy / "timing.json").write_text('{"fit_wall_s": 60}')
    assert record.untimed_fits(legacy) == 0


def test_results_stay_within_the_zoo_budget_and_every_record_matches_its_weights() -> None:
    from fer_lightning import zoo

    total = sum(p.stat().st_size for p in zoo.ZOO_DIR.rglob("*") if p.is_file())
    assert total <= zoo.BUDGET_BYTES, f"results/ holds {total:,} bytes"
    models = zoo.models()
    assert "ours_fer2013/official-60ep" in models
    for name, model in models.items():
        assert zoo.get(name).record == model.record  # SHA-256 of the weights checked
        assert zoo.make_record(model.folder) == model.record, f"{name}: run models --write"


def test_the_transfer_table_names_each_runs_start_and_regime() -> None:
    """The committed CK+ rows: where each run's weights started and how it trained, read from
    its config (a scratch row saying it started from a FER model would mislead)."""
    from fer_lightning.models.describe import describe_regime as regime
    from fer_lightning.models.describe import describe_start as initialisation
    from fer_lightning.results.tables import load_results, transfer_table

    rows = {r.experiment: r for r in load_results() if r.cv is not None}
    assert initialisation(rows["ours_ckplus_scratch"].config) == "random"
    assert regime(rows["ours_ckplus_scratch"].config) == "every layer trains"
    assert initialisation(rows["ours_ckplus_transfer"].config).startswith("`ours_ferplus/")
    assert regime(rows["ours_ckplus_transfer"].config).startswith("transfer: backbone frozen")
    assert regime(rows["ours_ckplus_finetune"].config).startswith("fine-tune: all layers")
    table = transfer_table(load_results())
    assert table is not None
    for name in ("cnn_ckplus", "ours_ckplus_scratch", "ours_ckplus_transfer"):
        assert f"| `{name}` | CKPlus `subject`" in table


def test_the_ensemble_table_lists_each_published_ensemble_against_its_best_member() -> None:
    text = render(COMMITTED)
    ensembles = sorted(COMMITTED.glob("*/*/summary.json"))
    ensembles = [p for p in ensembles if "ensemble_members" in json.loads(p.read_text())]
    assert ensembles, "the zoo has published ensembles"
    for path in ensembles:
        summary = json.loads(path.read_text())
        folder = path.parent.relative_to(COMMITTED.parent).as_posix()
        (row,) = [line for line in text.splitlines() if line.endswith(f"{folder}` |")]
        best = max(summary["ensemble_members"], key=lambda m: m["test_accuracy"])
        assert f"**{100 * summary['test_accuracy']:.2f} %**" in row
        assert f"{100 * best['test_accuracy']:.2f} % (`{best['run']}`)" in row
        assert f"| {best['p_value']:.3g} |" in row
