"""Where run directories go and what is inside them: the one module that spells the layout.

::

    $FER_RUNS_DIR (default ./runs)/
      <experiment>/<stamp>/            a fit (validate / test / predict: <stamp>-<subcommand>)
        config.yaml  command.txt  timing.json  metrics.csv  wandb_id  cross_dataset.json
        config.resume-<n>.yaml, config.<subcommand>-<n>.yaml   (later commands on the run)
        summary.json and the other report files of its test (REPORT_FILES)
        checkpoints/best-epoch<NNN>.ckpt  checkpoints/last.ckpt
      <experiment>/<stamp>-cv/         cv.json, fold<i>/ (each a run directory)
      <experiment>/<stamp>-seeds/      seeds.json, seed<S>/ (each a run directory)
      <experiment>/<stamp>-ensemble/   the report of an ensemble
      sweeps/<sweep>/<stamp>/          results.md, results.csv, sweep.yaml, sweep.json,
                                       command.txt, <nn>-<label>/ (run directories)
      robustness/<stamp>/              robustness.md, robustness.json of a model outside a run
                                       (a run's own are written into its directory)

A stamp is the local start time to the second (``20250131-142500``). A directory whose name is
taken (a second command started in the same second) gets ``-1``, ``-2``, ... appended.

Light on purpose (no torch, no Lightning): the light subcommands use it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from fer_lightning.errors import FERUserError
from fer_lightning.paths import RUNS_ENV, check_name, runs_root

# ------------------------------------------------------------------------- file names
CONFIG_YAML = "config.yaml"
COMMAND_TXT = "command.txt"
TIMING_JSON = "timing.json"
METRICS_CSV = "metrics.csv"
SUMMARY_JSON = "summary.json"
WANDB_ID = "wandb_id"
#: The report a test writes (fer_lightning.evaluation): every file of it, and the extras.
PREDICTIONS_NPZ = "predictions.npz"
REPORT_CSV = "report.csv"
REPORT_MD = "report.md"
CONFUSION_PNG = "confusion_matrix.png"
ROC_PNG = "roc.png"
CURVES_PNG = "curves.png"
RELIABILITY_PNG = "reliability.png"
REPORT_FILES = (
    PREDICTIONS_NPZ,
    REPORT_CSV,
    REPORT_MD,
    CONFUSION_PNG,
    ROC_PNG,
    CURVES_PNG,
    RELIABILITY_PNG,
    SUMMARY_JSON,
)
#: Written when the report has a model to explain (not for an ensemble's report).
EXPLANATIONS_PNG = "explanations.png"
#: How a checkpoint trained on other classes was mapped onto the test data's classes.
CROSS_DATASET_JSON = "cross_dataset.json"
#: Written by Lightning's CSV logger; the run's config.yaml says the same.
HPARAMS_YAML = "hparams.yaml"
CHECKPOINTS = "checkpoints"
#: ModelCheckpoint ``filename`` of the best checkpoint, and the pattern that finds it.
BEST_FILENAME = "best-epoch{epoch:03d}"
BEST_GLOB = "best*.ckpt"
#: ModelCheckpoint ``filename`` of the checkpoint of the latest validation.
LAST_FILENAME = "last"
LAST_CKPT = f"{LAST_FILENAME}.ckpt"
CV_JSON = "cv.json"
SEEDS_JSON = "seeds.json"
RESULTS_MD = "results.md"
RESULTS_CSV = "results.csv"
#: A sweep's own file and extra arguments, kept in its directory for ``sweep --resume``.
SWEEP_YAML = "sweep.yaml"
SWEEP_JSON = "sweep.json"
#: Written by a sweep into the directory of a run whose loss became NaN/inf: a result, not a
#: run to resume (its message says where).
DIVERGED_TXT = "diverged.txt"
SWEEPS = "sweeps"
#: ``fer-lightning robustness``: its folder (for a model outside a run) and its two files.
ROBUSTNESS = "robustness"
ROBUSTNESS_MD = "robustness.md"
ROBUSTNESS_JSON = "robustness.json"


def robustness_files(stage: str = "test") -> tuple[str, str]:
    """The markdown and JSON names of a robustness evaluation on ``stage``'s images: the test
    split's are the model card's (``robustness.md``), another split's carry its name
    (``robustness_val.md``), so that a measurement on validation never replaces the test's."""
    if stage == "test":
        return ROBUSTNESS_MD, ROBUSTNESS_JSON
    return f"robustness_{stage}.md", f"robustness_{stage}.json"


#: Set for the processes of one run (DDP launches the script again per device) so that they
#: all share one run directory. Internal: users set ``$FER_RUNS_DIR`` or ``--run_dir``.
INHERITED_RUN_DIR_ENV = "_FER_LIGHTNING_DDP_RUN_DIR"

STAMP_FORMAT = "%Y%m%d-%H%M%S"


# ------------------------------------------------------------------------- naming
def stamp() -> str:
    """The current local time to the second, as run directory names start."""
    return datetime.now().strftime(STAMP_FORMAT)


def _base(experiment: str, kind: str | None) -> Path:
    check_name(experiment, "the experiment name")
    return runs_root() / experiment / (f"{stamp()}-{kind}" if kind else stamp())


def _numbered(base: Path) -> Iterator[Path]:
    """``base``, ``base-1``, ``base-2``, ..."""
    yield base
    n = 1
    while True:
        yield base.with_name(f"{base.name}-{n}")
        n += 1


def new_run_dir(experiment: str, kind: str | None = None) -> Path:
    """A fresh run directory of ``experiment`` (``<stamp>`` or ``<stamp>-<kind>``), named but
    not created: a run refused before it starts leaves nothing, and only the process that logs
    creates it (:func:`make_run_dir`)."""
    return next(path for path in _numbered(_base(experiment, kind)) if not path.exists())


def _claim(base: Path) -> Path:
    """The first of ``base``, ``base-1``, ... that this call creates: ``mkdir`` fails when
    another process made it first, so two commands never share one."""
    base.parent.mkdir(parents=True, exist_ok=True)
    for path in _numbered(base):
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise AssertionError("unreachable")


@contextlib.contextmanager
def _claimed(base: Path) -> Iterator[Path]:
    """A new directory named after ``base`` (see :func:`_claim`); if the block fails while it
    is still empty, it is removed again, with the parent folders it made."""
    check_run_dir(base, explicit=False)
    created = missing_dirs(base.parent)
    try:
        path = _claim(base)
    except OSError as err:
        raise FERUserError(f"cannot create {_where(base, False)}: {err.strerror or err}") from None
    try:
        yield path
    except BaseException:
        remove_empty([path, *created])
        raise


def group_dir(experiment: str, kind: str) -> contextlib.AbstractContextManager[Path]:
    """A new ``<experiment>/<stamp>-<kind>`` directory holding several runs (``cv``, ``seeds``)
    or an ensemble, created at once so that a command started in the same second gets another."""
    return _claimed(_base(experiment, kind))


def sweep_dir(name: str) -> contextlib.AbstractContextManager[Path]:
    """A new ``sweeps/<name>/<stamp>`` directory, created at once (see :func:`group_dir`)."""
    return _claimed(runs_root() / SWEEPS / check_name(name, "the sweep name") / stamp())


def robustness_dir() -> contextlib.AbstractContextManager[Path]:
    """A new ``robustness/<stamp>`` directory, created at once (see :func:`group_dir`)."""
    return _claimed(runs_root() / ROBUSTNESS / stamp())


def fold_dir(cv_dir: Path, fold: int) -> Path:
    return cv_dir / f"fold{fold}"


def fold_index(fold_dir: Path) -> int:
    """The fold number of a :func:`fold_dir`."""
    return int(Path(fold_dir).name.removeprefix("fold"))


def val_dir(run_dir: Path) -> Path:
    """``<run>/val``: a ``validate`` run kept beside the test run it belongs to."""
    return Path(run_dir) / "val"


def fold_dirs(cv_dir: Path) -> list[Path]:
    """The folds of a cross-validation directory that have a report, in name order."""
    return sorted(p.parent for p in Path(cv_dir).glob(f"fold*/{SUMMARY_JSON}"))


def seed_dir(seeds_dir: Path, seed: int) -> Path:
    return seeds_dir / f"seed{seed}"


def sweep_run_dir(out_dir: Path, index: int, label: str) -> Path:
    return out_dir / f"{index:02d}-{label.replace('/', '_')}"


# ------------------------------------------------------------------------- finding
def latest_run(experiment: str) -> Path | None:
    """The newest run directory of ``experiment`` that has a checkpoint to resume from."""
    base = runs_root() / check_name(experiment, "the experiment name")
    runs = sorted(p for p in base.glob("*") if last_checkpoint(p).exists())
    return runs[-1] if runs else None


def later_config(run_dir: Path, kind: str, n: int) -> Path:
    """``config.<kind>-<n>.yaml``: the config of the ``n``-th later command of ``kind``
    (``resume``, ``test``, ...) on an existing run, beside its first ``config.yaml``."""
    return Path(run_dir) / f"config.{kind}-{n}.yaml"


def confusion_csv(run_dir: Path | str, stage: str) -> Path:
    """The confusion matrix (rows true, columns predicted) of a run's latest ``stage`` epoch
    ("val", "test"), written by the classifier."""
    return Path(run_dir) / f"confusion_matrix_{stage}.csv"


def checkpoints_dir(run_dir: Path) -> Path:
    return Path(run_dir) / CHECKPOINTS


def last_checkpoint(run_dir: Path) -> Path:
    """``checkpoints/last.ckpt``: what ``--ckpt_path last`` resumes from."""
    return checkpoints_dir(run_dir) / LAST_CKPT


def best_checkpoint(run_dir: Path) -> Path:
    """``checkpoints/best-*.ckpt`` (the newest when there are several)."""
    found = sorted(
        checkpoints_dir(run_dir).glob(BEST_GLOB), key=lambda p: (p.stat().st_mtime, p.name)
    )
    if not found:
        raise FERUserError(
            f"{checkpoints_dir(run_dir)} has no {BEST_GLOB}; name a checkpoint with --ckpt"
        )
    return found[-1]


def config_of(run_dir: Path) -> Path:
    return Path(run_dir) / CONFIG_YAML


def run_config(run_dir: Path) -> Path:
    """The run's ``config.yaml``; a folder without one is not a run directory."""
    config = config_of(run_dir)
    if not config.is_file():
        raise FERUserError(f"{run_dir} is not a run directory: it has no {CONFIG_YAML}")
    return config


def run_of_checkpoint(ckpt_path: str | os.PathLike | None) -> Path | None:
    """The run directory a checkpoint was written in (``<run>/checkpoints/x.ckpt``)."""
    if not ckpt_path:
        return None
    path = Path(ckpt_path)
    run = path.parent.parent
    if path.parent.name == CHECKPOINTS and run.is_dir():
        return run
    return None


def config_of_checkpoint(ckpt_path: Path) -> Path | None:
    """``<run>/config.yaml`` for a checkpoint at ``<run>/checkpoints/<name>.ckpt`` (or a
    ``config.yaml`` beside the checkpoint)."""
    for candidate in (config_of(ckpt_path.parent.parent), config_of(ckpt_path.parent)):
        if candidate.is_file():
            return candidate
    return None


def experiment_of(run_dir: Path) -> str:
    """The experiment a run directory belongs to by its place: ``<experiment>/<run>``."""
    return Path(run_dir).resolve().parent.name


# ------------------------------------------------------------------------- creating
def _where(run_dir: Path, explicit: bool) -> str:
    if explicit:
        return f"--run_dir {run_dir}"
    return f"the run directory {run_dir} (under ${RUNS_ENV}={os.environ.get(RUNS_ENV) or 'runs'})"


def check_run_dir(run_dir: Path, explicit: bool) -> None:
    """Refuse a run directory that cannot be created: a file in its way, or a folder this
    process may not write into. Nothing is created here."""
    if run_dir.is_dir():
        if not os.access(run_dir, os.W_OK | os.X_OK):
            raise FERUserError(f"{_where(run_dir, explicit)} is not writable")
        return
    for parent in [run_dir, *run_dir.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise FERUserError(
                    f"cannot create {_where(run_dir, explicit)}: {parent} is a file, not a folder"
                )
            if not os.access(parent, os.W_OK | os.X_OK):
                raise FERUserError(
                    f"cannot create {_where(run_dir, explicit)}: {parent} is not writable"
                )
            return


def claim_run_dir(run_dir: Path) -> Path:
    """Create the fresh run directory :func:`new_run_dir` named, or ``-1``, ``-2``, ... when
    another command created it since (two fits started in the same second): ``mkdir`` is
    atomic, so two commands never share one. Returns the directory this call created."""
    try:
        return _claim(run_dir)
    except OSError as err:
        raise FERUserError(
            f"cannot create {_where(run_dir, False)}: {err.strerror or err}"
        ) from None


def make_run_dir(run_dir: Path, explicit: bool) -> None:
    """Create a run directory that may exist already (``--run_dir``, a resumed run)."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FERUserError(
            f"cannot create {_where(run_dir, explicit)}: {err.strerror or err}"
        ) from None


def missing_dirs(path: Path) -> list[Path]:
    """``path`` and its parents that do not exist yet, deepest first."""
    missing = []
    for folder in [path, *path.parents]:
        if folder.exists():
            break
        missing.append(folder)
    return missing


def remove_empty(folders: list[Path]) -> None:
    """Remove each folder that is empty (in order; one holding files is left alone)."""
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()
