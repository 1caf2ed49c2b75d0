"""``fer-lightning report RUN_DIR``: test a run's best checkpoint again and (re)write its
report files (report.md, report.csv, the PNGs, summary.json, predictions.npz).

The run's own ``config.yaml`` rebuilds the model and the data; arguments the report command
does not know go to ``fer-lightning test`` (e.g. ``--data.tta=ten_crop``,
``--data.data_dir=...``). The test itself runs in a scratch directory so that the run's
config.yaml, metrics.csv and W&B run stay as they are; only the report files are copied back.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import warnings
from pathlib import Path

from fer_lightning import experiments
from fer_lightning.errors import FERUserError
from fer_lightning.evaluation.writer import EXPLANATIONS_PNG, REPORT_FILES
from fer_lightning.run import layout

#: Copied along with the report: the test confusion matrix must match it (e.g. after TTA);
#: explanations.png where the model allowed Grad-CAM.
EXTRA_FILES = ("confusion_matrix_test.csv", EXPLANATIONS_PNG)


def experiment_of(run_dir: Path, config: Path) -> str:
    """The config's ``experiment`` when set, else the run's folder name (runs/<experiment>/)."""
    name = experiments.load_config(config).get("experiment")
    return str(name or layout.experiment_of(run_dir))


def rewrite_from_predictions(run_dir: Path, out: Path) -> Path:
    """The report of ``run_dir`` written again from its predictions and facts, with the test
    images identified (ids, copies of training images) from the data its config names."""
    from fer_lightning.build import build
    from fer_lightning.evaluation import unseen
    from fer_lightning.evaluation.predictions import Predictions
    from fer_lightning.evaluation.stats import fingerprint_test_set
    from fer_lightning.evaluation.summary import read_summary
    from fer_lightning.evaluation.writer import write_report

    summary = read_summary(run_dir)
    predictions = Predictions.load(run_dir)
    config = layout.run_config(run_dir)
    # Only the data is wanted: not the checkpoint the record names (gone), not a run folder.
    overrides = ["--ckpt_path=null", "--run_dir=null", "--model.pretrained=false"]
    datamodule = build(config, overrides, subcommand="test").datamodule
    datamodule.setup("test")
    test = datamodule.splits["test"]
    found = fingerprint_test_set(test.images, test.labels)
    if not summary.get("test_fingerprint"):
        raise FERUserError(
            f"{run_dir}: its summary.json has no test_fingerprint, so its predictions cannot be "
            "matched to test images; test the run's checkpoint again ('fer-lightning report')"
        )
    if found != summary.get("test_fingerprint"):
        raise FERUserError(
            f"{run_dir}: its config's test images have fingerprint {found}, its summary.json "
            f"says {summary.get('test_fingerprint')}: not the data it was tested on"
        )
    predictions, reference = unseen.identify(datamodule, predictions)
    facts = {**summary, "copies_reference": reference}
    write_report(out, predictions, facts, history_dir=run_dir)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fer-lightning report",
        allow_abbrev=False,  # --c... or --o... may be meant for 'fer-lightning test'
        description="Test a run's best checkpoint and write report.md, report.csv, "
        "confusion_matrix.png, roc.png, curves.png, summary.json and predictions.npz into "
        "the run directory. Other arguments go to 'fer-lightning test' "
        "(e.g. --data.tta=ten_crop).",
    )
    parser.add_argument("run_dir", type=Path, help="a run directory (runs/<experiment>/<run>)")
    parser.add_argument("--ckpt", type=Path, help="checkpoint; default checkpoints/best*.ckpt")
    parser.add_argument("--out", type=Path, help="where to write; default the run directory")
    parser.add_argument(
        "--from-predictions",
        action="store_true",
        help="no checkpoint: rewrite the report from the run's predictions.npz and its data "
        "(the test images must give the run's test-set fingerprint), adding which test images "
        "are copies of training images; for published results whose weights are gone",
    )
    args, test_args = parser.parse_known_args(argv)
    if args.from_predictions:
        if test_args:
            raise FERUserError(f"--from-predictions takes no test arguments ({test_args[0]})")
        out = rewrite_from_predictions(args.run_dir, args.out or args.run_dir)
        print(f"wrote {', '.join(REPORT_FILES)} to {out}")
        return 0

    run_dir: Path = args.run_dir
    config = layout.run_config(run_dir)
    ckpt = args.ckpt or layout.best_checkpoint(run_dir)
    if not ckpt.is_file():
        raise FERUserError(f"checkpoint {ckpt} does not exist")
    out = args.out or run_dir

    from fer_lightning.cli import run_cli  # Lightning and torch: only once arguments are fine

    with tempfile.TemporaryDirectory(prefix="fer-report-") as scratch, warnings.catch_warnings():
        # The checkpoint's callbacks remember the run's own checkpoint folder, not the scratch.
        warnings.filterwarnings("ignore", message="The dirpath has changed")
        run_cli(
            [
                "test",
                f"--config={config}",
                f"--ckpt_path={ckpt}",
                f"--run_dir={scratch}",
                f"--experiment={experiment_of(run_dir, config)}",
                "--wandb_mode=disabled",
                *test_args,
            ]
        )
        missing = [name for name in REPORT_FILES if not (Path(scratch) / name).is_file()]
        if missing:
            raise RuntimeError(f"the test wrote no {', '.join(missing)}")
        out.mkdir(parents=True, exist_ok=True)
        for name in (*REPORT_FILES, *EXTRA_FILES):
            if (Path(scratch) / name).is_file():
                shutil.copyfile(Path(scratch) / name, out / name)
    print(f"wrote {', '.join(REPORT_FILES)} to {out}")
    return 0
