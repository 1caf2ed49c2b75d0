"""The fer-lightning command, end to end on generated FER2013 data.

Here: the tests that train for more than a few seconds; the others are in
``tests/cli/test_cli.py``."""

from __future__ import annotations

import csv
import os
import re
from datetime import datetime
from pathlib import Path

import pytest
import torch

from fer_lightning.main import main
from fer_lightning.run import layout
from tests.helpers.commands import SMALL, fit_args, run_cli


def runs_of(experiment: str) -> list[Path]:

    return sorted((Path(os.environ["FER_RUNS_DIR"]) / experiment).iterdir())


@pytest.mark.slow  # trains two fits or more
def test_resume_from_last_continues_the_same_run(fer_folder: Path) -> None:
    args = fit_args(fer_folder, "--test_after_fit=false")
    assert main([*args, "--trainer.max_epochs=1"]) == 0
    (run,) = runs_of("baseline_fer2013")
    first = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    assert first["global_step"] == 3

    assert main([*args, "--trainer.max_epochs=2", "--ckpt_path", "last"]) == 0
    assert runs_of("baseline_fer2013") == [run], "resume must not start a new run directory"
    second = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    assert second["global_step"] == 6, "the resumed run continues from step 3, not from 0"
    with (run / "metrics.csv").open() as fh:
        epochs = [row["epoch"] for row in csv.DictReader(fh) if row.get("val/acc")]
    assert epochs == ["0", "1"], "metrics of the first part of the run must be kept"


@pytest.mark.slow
def test_test_subcommand_reproduces_the_test_after_fit(fer_folder: Path) -> None:
    common = [f"--data.data_dir={fer_folder}", *SMALL]
    fitted = run_cli(["fit", "--exp", "baseline_fer2013", *common, "--trainer.max_epochs=1"])
    best = fitted.trainer.checkpoint_callback.best_model_path
    fit_test_acc = fitted.trainer.callback_metrics["test/acc"].item()

    tested = run_cli(["test", "--exp", "baseline_fer2013", *common, "--ckpt_path", best])
    assert tested.trainer.callback_metrics["test/acc"].item() == pytest.approx(fit_test_acc)
    assert tested.run_dir.name.endswith("-test") and tested.run_dir != fitted.run_dir
    assert (tested.run_dir / "confusion_matrix_test.csv").exists()
    command = (tested.run_dir / "command.txt").read_text()
    assert command.startswith("fer-lightning test --exp baseline_fer2013") and best in command

    predicted = run_cli(["predict", "--exp", "baseline_fer2013", *common, "--ckpt_path", best])
    probs = torch.cat(predicted.trainer.predict_loop.predictions)
    assert (predicted.run_dir / "command.txt").read_text().startswith("fer-lightning predict")
    assert probs.shape == (14, 7)
    torch.testing.assert_close(probs.sum(1), torch.ones(14))


@pytest.mark.slow  # trains two fits or more
def test_resume_from_a_checkpoint_path_continues_its_run(fer_folder: Path) -> None:
    args = fit_args(fer_folder, "--test_after_fit=false")
    first = run_cli([*args, "--trainer.max_epochs=1"])
    last = first.run_dir / "checkpoints" / "last.ckpt"
    second = run_cli([*args, "--trainer.max_epochs=2", f"--ckpt_path={last}"])
    assert second.run_dir == first.run_dir
    assert second.trainer.global_step == 6


@pytest.mark.slow
def test_seeded_runs_repeat_exactly(fer_folder: Path) -> None:
    """Same seed, same numbers: weights after training are identical, augmentation included
    (in DataLoader workers, whose albumentations state is seeded from the global seed)."""

    def train(seed: int) -> dict[str, torch.Tensor]:
        cli = run_cli(
            fit_args(
                fer_folder,
                "--data.num_workers=2",
                "--trainer.max_epochs=2",
                "--test_after_fit=false",
                f"--seed_everything={seed}",
            )
        )
        return {k: v.clone() for k, v in cli.model.state_dict().items()}

    first, second, other = train(7), train(7), train(8)
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


@pytest.mark.slow  # trains two fits or more
def test_last_checkpoint_is_refreshed_every_epoch(fer_folder: Path) -> None:
    """last.ckpt must hold the latest epoch even when the monitored metric did not improve
    (here 'best' is pinned to epoch 0 by monitoring the epoch number with mode=min)."""
    cli = run_cli(
        fit_args(
            fer_folder,
            "--trainer.max_epochs=3",
            "--test_after_fit=false",
            "--checkpoint.monitor=epoch",
            "--checkpoint.mode=min",
        )
    )
    ckpts = sorted(p.name for p in (cli.run_dir / "checkpoints").iterdir())
    assert ckpts == ["best-epoch000.ckpt", "last.ckpt"]
    last = torch.load(cli.run_dir / "checkpoints" / "last.ckpt", weights_only=False)
    assert last["global_step"] == 9


@pytest.mark.slow  # trains two fits or more
def test_wandb_run_id_is_kept_for_resume(fer_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    args = fit_args(fer_folder, "--test_after_fit=false")
    first = run_cli([*args, "--trainer.max_epochs=1"])
    run_id = (first.run_dir / "wandb_id").read_text()
    assert run_id and run_id in str(next((first.run_dir / "wandb").glob("offline-run-*")))
    second = run_cli([*args, "--trainer.max_epochs=2", "--ckpt_path", "last"])
    assert second.run_dir == first.run_dir
    assert (second.run_dir / "wandb_id").read_text() == run_id
    # offline-run-<date>_<time>-<id>, with "-1" appended when both started in the same second
    runs = (first.run_dir / "wandb").glob("offline-run-*")
    assert {re.match(r"offline-run-\d{8}_\d{6}-([^-]+)", p.name)[1] for p in runs} == {run_id}


@pytest.mark.slow  # trains two fits or more
def test_runs_started_in_the_same_second_get_their_own_directories(
    fer_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    class FrozenClock:
        @staticmethod
        def now():  # noqa: ANN205
            return datetime(2026, 1, 2, 3, 4, 5)

    monkeypatch.setattr(layout, "datetime", FrozenClock)
    args = fit_args(fer_folder, "--test_after_fit=false", "--trainer.max_epochs=1")
    first, second = run_cli(args), run_cli(args)
    assert first.run_dir.name == "20260102-030405"
    assert second.run_dir.name == "20260102-030405-1"
    assert (first.run_dir / "checkpoints" / "last.ckpt").exists()
    assert (second.run_dir / "checkpoints" / "last.ckpt").exists()
