"""The fer-lightning command, end to end on generated FER2013 data.

Here: the fast tests; the others are in ``tests/slow/test_cli.py``."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
import torch

from fer_lightning.main import main
from fer_lightning.precision import auto_precision
from fer_lightning.run import layout
from tests.helpers.commands import SMALL, fit_args, run_cli


@pytest.fixture
def fake_torch_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A TORCH_HOME holding a (random) ResNet18 ImageNet file under its official name."""
    from torchvision.models import resnet18

    target = tmp_path / "torch" / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    target.parent.mkdir(parents=True)
    torch.save(resnet18(weights=None).state_dict(), target)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return target


def runs_of(experiment: str) -> list[Path]:
    import os

    return sorted((Path(os.environ["FER_RUNS_DIR"]) / experiment).iterdir())


@pytest.mark.parametrize("experiment", ["baseline_fer2013", "resnet18_fer2013"])
def test_fit_fast_dev_run(experiment: str, fer_folder: Path, fake_torch_cache: Path) -> None:
    rc = main(
        [
            "fit",
            "--exp",
            experiment,
            f"--data.data_dir={fer_folder}",
            "--trainer.fast_dev_run=true",
            "--data.batch_size=8",
            "--data.num_workers=0",
        ]
    )
    assert rc == 0
    (run,) = runs_of(experiment)
    written = {p.name for p in run.iterdir()}
    assert set(layout.REPORT_FILES) <= written, sorted(set(layout.REPORT_FILES) - written)
    assert json.loads((run / layout.SUMMARY_JSON).read_text())["experiment"] == experiment


def test_the_report_credits_the_commit_the_run_started_from(
    fer_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit made while a run trains is not the code that trained it."""
    runs = Path(os.environ["FER_RUNS_DIR"])

    def git_commit() -> tuple[str, bool]:  # a new commit once the run has written a checkpoint
        trained = any(runs.glob("**/checkpoints/*.ckpt"))
        return ("committed-during-the-run" if trained else "started", False)

    monkeypatch.setattr("fer_lightning.callbacks.report.git_commit", git_commit)
    run_cli(
        [
            "fit",
            "--exp=baseline_fer2013",
            f"--data.data_dir={fer_folder}",
            "--trainer.max_epochs=1",
            *SMALL,
        ]
    )
    (run,) = runs_of("baseline_fer2013")
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["git_commit"], summary["git_dirty"]) == ("started", False)


def test_fit_writes_a_complete_run_directory(
    fer_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    cli = run_cli(
        [
            "fit",
            "--exp=baseline_fer2013",
            f"--data.data_dir={fer_folder}",
            "--trainer.max_epochs=1",
            *SMALL,
        ]
    )
    assert cli.trainer.precision == auto_precision("cpu")  # bf16-mixed where the CPU has bf16
    (run,) = runs_of("baseline_fer2013")
    assert cli.run_dir == run
    assert (run / "config.yaml").exists()
    assert (run / "checkpoints" / "last.ckpt").exists()
    assert list((run / "checkpoints").glob("best-epoch*.ckpt"))
    assert list((run / "wandb").glob("offline-run-*/run-*.wandb")), "W&B offline run not written"
    with (run / "metrics.csv").open() as fh:
        header = next(csv.reader(fh))
    for stage in ("val", "test"):
        for metric in ("acc", "precision", "recall", "f1"):
            assert all(
                f"{stage}/{metric}/{name}" in header
                for name in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
            )
        assert f"{stage}/f1_macro" in header
    assert "train/images_per_sec" in header and "train/epoch_time_s" in header
    with (run / "confusion_matrix_test.csv").open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0][1:] == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    assert sum(int(v) for row in rows[1:] for v in row[1:]) == 14  # every test image, once


def test_resume_without_a_previous_run_is_one_line(
    fer_folder: Path, capsys: pytest.CaptureFixture
) -> None:
    rc = main(
        ["fit", "--exp", "baseline_fer2013", f"--data.data_dir={fer_folder}", "--ckpt_path", "last"]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err.count("\n") == 0 and "no run of 'baseline_fer2013'" in err


def test_class_weights_reach_the_loss(fer_folder: Path) -> None:
    for path in sorted((fer_folder / "fer2013/train/disgust").iterdir())[:4]:
        path.unlink()  # disgust becomes rare: its weight must be the largest
    cli = run_cli(
        fit_args(
            fer_folder,
            "--trainer.max_epochs=1",
            "--model.class_weights=true",
            "--test_after_fit=false",
        )
    )
    torch.testing.assert_close(cli.model.loss_weight, cli.datamodule.class_weights())
    assert cli.model.loss_weight.argmax().item() == 1 and cli.model.loss_weight[1] > 2


def test_experiments_are_listed(capsys: pytest.CaptureFixture) -> None:
    assert main(["experiments"]) == 0
    out = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in out]
    assert {"baseline_fer2013", "resnet18_fer2013"} <= set(names)
    assert all(len(line.split(maxsplit=1)) == 2 for line in out), (
        "every experiment has a description"
    )


def test_unknown_experiment_is_one_line_listing_known(capsys: pytest.CaptureFixture) -> None:
    assert main(["fit", "--exp", "resnet19_fer2013"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "unknown experiment 'resnet19_fer2013'" in err and "baseline_fer2013" in err


def test_missing_data_root_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rc = main(
        [
            "fit",
            "--exp",
            "baseline_fer2013",
            f"--data.data_dir={tmp_path / 'nope'}",
            "--trainer.fast_dev_run=true",
        ]
    )
    err = capsys.readouterr().err.strip()
    # Progress lines (run directory, parameters) may precede it; the error is one line.
    errors = [line for line in err.splitlines() if line.startswith("fer-lightning: error:")]
    assert rc == 2 and len(errors) == 1 and "Traceback" not in err
    assert "nope" in errors[0] and "FER_DATA_DIR" in errors[0]


def test_wrong_config_key_is_named(capsys: pytest.CaptureFixture) -> None:
    assert main(["fit", "--exp", "baseline_fer2013", "--model.backbone_kwrags={}"]) == 2
    err = capsys.readouterr().err
    assert "backbone_kwrags" in err and "did you mean --model.backbone_kwargs?" in err


def test_print_config_shows_the_experiment(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--exp", "resnet18_fer2013", "--print_config"])
    assert exit_info.value.code in (0, None)
    out = capsys.readouterr().out
    assert "backbone: resnet18" in out and "FER2013DataModule" in out


def test_the_data_settings_reach_the_model_through_the_links() -> None:
    """Classes, channels and input size are the datamodule's, linked into the model (values
    that no YAML of the model names: a model without the links keeps its own defaults)."""
    from fer_lightning.build import build

    overrides = [
        "--data.init_args.image_size=40",
        "--data.init_args.channels=3",
    ]
    built = build("baseline_fer2013", overrides)
    hparams, data = built.model.hparams, built.datamodule
    assert (hparams.image_size, hparams.in_chans) == (40, 3) == (data.image_size, data.channels)
    assert hparams.num_classes == data.num_classes
    assert list(hparams.class_names) == list(data.class_names)
