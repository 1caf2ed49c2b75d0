"""Copy a finished run into ``results/``: the files a reader needs to check it, no checkpoints.

``results/<experiment>/<name>/`` receives the run's top-level files (config.yaml, command.txt,
timing.json, summary.json, report.md, report.csv, metrics.csv, the confusion matrices and the
PNGs, predictions.npz when under 1 MB). A cross-validation directory (``cv.json`` and
``fold<i>/`` run directories) is copied with each fold, the pictures of the first fold only:
ten folds' PNGs weigh about 4 MB, a twenty-fifth of the results budget, for pictures of the
same kind; every fold keeps its numbers, report, confusion matrices and predictions (from which
``fer-lightning report FOLD --from-predictions --out DIR`` draws the report's pictures again).
A sweep directory (``results.csv``,
``results.md``, the sweep file) is copied with each of its runs, but without their pictures: a
sweep's table is the picture, and twenty runs' PNGs would weigh more than everything else in
``results/``. Nothing is edited on the way but the links of ``report.md`` to pictures left out,
which become a sentence saying so (:func:`unlink_pictures`), and those to a picture an earlier
result of the same experiment holds, which point at that copy instead (:func:`share_pictures`:
a ten-crop twin's training curves, an exact re-run's pictures); the pictures are stored in a
smaller encoding of the same pixels (:mod:`fer_lightning.results.pictures`). The tables are
generated from these copies (:mod:`fer_lightning.results.tables`).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from fer_lightning.errors import FERUserError
from fer_lightning.evaluation.summary import read_summary
from fer_lightning.paths import check_name
from fer_lightning.results.pictures import pack_png, same_picture
from fer_lightning.run import layout
from fer_lightning.run.layout import CV_JSON
from fer_lightning.sweep_grid import load_sweep, read_rows, run_of

RESULTS_DIR = Path("results")
#: Largest file copied (``predictions.npz`` of a large test set can be bigger; it is left out).
MAX_BYTES = 1_000_000
KEEP_SUFFIXES = {".yaml", ".json", ".md", ".csv", ".png", ".npz", ".txt"}
SKIP_NAMES = {layout.WANDB_ID, layout.HPARAMS_YAML}


#: A sweep's own files (its runs are copied beside them).
SWEEP_FILES = (
    layout.RESULTS_CSV,
    layout.RESULTS_MD,
    layout.SWEEP_YAML,
    layout.SWEEP_JSON,
    layout.COMMAND_TXT,
)


#: A markdown picture on a line of its own, as the report writes them.
PICTURE_LINE = re.compile(r"^!\[(?P<alt>[^\]]*)\]\((?P<target>[^)\s]+\.png)\)\s*$")


def unlink_pictures(report: str, folder: Path) -> str:
    """``report`` (a report.md) with each picture line whose file is not in ``folder`` replaced by
    a line saying it was not kept: no link in ``results/`` points at nothing. (``fer-lightning
    report FOLDER --from-predictions --out DIR`` draws all but the Grad-CAM picture again.)"""
    lines = []
    for line in report.splitlines():
        match = PICTURE_LINE.match(line)
        if match and not (folder / match["target"]).is_file():
            line = f"*({match['alt']}: `{match['target']}`, not kept in `results/` for this run)*"
        lines.append(line)
    return "\n".join(lines) + ("\n" if report.endswith("\n") else "")


def share_pictures(dest: Path) -> list[str]:
    """Replace each picture of the result ``dest`` that a sibling result (another folder of
    the same experiment) holds, at the same place, by a link to the sibling's copy (the same
    pixels, whichever PNG encoding each was stored in): a test-only run of a published
    checkpoint (its ten-crop twin, a cross-validation retested) draws its training's curves
    again, and a re-run that repeats a result exactly draws all its pictures again. Every
    report folder of ``dest`` is looked at, a cross-validation's ``fold<i>/`` too. Returns the
    pictures shared, as ``name -> link``."""
    # the folder whose name the result's starts with first (the twin's training run)
    siblings = sorted(
        (p for p in dest.parent.iterdir() if p.is_dir() and p != dest),
        key=lambda p: (not dest.name.startswith(p.name), p.name),
    )
    shared = []
    for report in sorted(dest.rglob(layout.REPORT_MD)):
        inner = report.parent.relative_to(dest)
        up = "../" * (len(inner.parts) + 1)
        text = report.read_text()
        changed = False
        for picture in sorted(report.parent.glob("*.png")):
            if f"]({picture.name})" not in text:
                continue
            data = picture.read_bytes()
            twin = next(
                (
                    s / inner / picture.name
                    for s in siblings
                    if (s / inner / picture.name).is_file()
                    and same_picture((s / inner / picture.name).read_bytes(), data)
                ),
                None,
            )
            if twin is None:
                continue
            target = f"{up}{twin.relative_to(dest.parent).as_posix()}"
            text = text.replace(f"]({picture.name})", f"]({target})")
            picture.unlink()
            changed = True
            shared.append(f"{(inner / picture.name).as_posix()} -> {target}")
        if changed:
            report.write_text(text)
    return shared


def _copy_run(run_dir: Path, dest: Path, suffixes: set[str] = KEEP_SUFFIXES) -> list[str]:
    if not (run_dir / layout.DIVERGED_TXT).is_file():  # a diverged sweep run has no report
        read_summary(run_dir)  # a run without its report is not a result yet
    dest.mkdir(parents=True)
    skipped = []
    for path in sorted(run_dir.iterdir()):
        if not path.is_file() or path.suffix not in suffixes or path.name in SKIP_NAMES:
            continue
        if path.stat().st_size > MAX_BYTES:
            skipped.append(f"{path.name} ({path.stat().st_size:,} bytes)")
            continue
        if path.suffix == ".png":  # the same pixels, smaller (results.pictures)
            (dest / path.name).write_bytes(pack_png(path.read_bytes()))
            shutil.copystat(path, dest / path.name)
        else:
            shutil.copy2(path, dest / path.name)
    report = dest / layout.REPORT_MD
    if report.is_file():
        report.write_text(unlink_pictures(report.read_text(), dest))
    return skipped


def fold_suffixes(fold: int) -> set[str]:
    """The kinds of file a published cross-validation keeps of fold ``fold``."""
    return KEEP_SUFFIXES if fold == 0 else KEEP_SUFFIXES - {".png"}


def _sweep_runs(sweep_dir: Path) -> list[Path]:
    """The runs of a finished sweep directory; an unfinished or unrecorded one is refused."""
    if not (sweep_dir / layout.SWEEP_YAML).is_file():
        raise FERUserError(
            f"{sweep_dir}: a sweep directory without {layout.SWEEP_YAML} (made before sweeps "
            "recorded their file); run the sweep again to publish it"
        )
    rows = read_rows(sweep_dir)
    combos = len(load_sweep(sweep_dir / layout.SWEEP_YAML).combos)
    if len(rows) < combos:
        raise FERUserError(
            f"{sweep_dir}: {len(rows)} of {combos} runs finished; publish it once 'fer-lightning "
            f"sweep --resume {sweep_dir}' has run the rest"
        )
    return [run_of(sweep_dir, row) for row in rows]


def publish(run_dir: Path, name: str | None = None, root: Path = RESULTS_DIR) -> Path:
    """Copy ``run_dir`` (a run, a ``cv`` directory of folds or a sweep directory) to
    ``root/<experiment>/<name>`` (default name: the run directory's); refuses to overwrite an
    earlier result."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FERUserError(f"{run_dir}: no such run directory")
    folds = layout.fold_dirs(run_dir)
    is_cv = (run_dir / CV_JSON).is_file()
    members = _sweep_runs(run_dir) if (run_dir / layout.RESULTS_CSV).is_file() else []
    first = folds[0] if is_cv and folds else members[0] if members else run_dir
    experiment = read_summary(first).get("experiment") or layout.experiment_of(run_dir)
    where = f"the experiment field of {Path(first) / layout.SUMMARY_JSON}"
    dest = Path(root) / check_name(experiment, where) / check_name(name or run_dir.name, "--name")
    if dest.exists():
        raise FERUserError(f"{dest} exists already; choose another --name")
    try:
        skipped = []
        if is_cv:
            dest.mkdir(parents=True)
            shutil.copy2(run_dir / CV_JSON, dest / CV_JSON)
            for fold in folds:
                kinds = fold_suffixes(layout.fold_index(fold))
                left = _copy_run(fold, dest / fold.name, kinds)
                skipped += [f"{fold.name}/{s}" for s in left]
        elif members:
            dest.mkdir(parents=True)
            for own in SWEEP_FILES:
                if (run_dir / own).is_file():
                    shutil.copy2(run_dir / own, dest / own)
            pictures_out = KEEP_SUFFIXES - {".png"}
            for run in members:
                left = _copy_run(run, dest / run.name, pictures_out)
                skipped += [f"{run.name}/{s}" for s in left]
        else:
            skipped = _copy_run(run_dir, dest)
        for line in share_pictures(dest):
            print(f"shared with an earlier result: {line}")
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)  # nothing half-copied
        raise
    if skipped:
        print(f"left out (over {MAX_BYTES:,} bytes): {', '.join(skipped)}")
    return dest
