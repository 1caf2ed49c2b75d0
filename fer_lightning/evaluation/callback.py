"""A callback that collects the test predictions and writes the run's report when testing ends.

Under DDP every process collects its own share (the evaluation samplers may give processes
uneven shares); they are gathered with ``all_gather`` and only rank zero writes files.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.loggers import WandbLogger

from fer_lightning.evaluation.predictions import Predictions
from fer_lightning.evaluation.report import CSV_COLUMNS, ClassificationReport
from fer_lightning.evaluation.summary import git_commit

log = logging.getLogger("fer_lightning")


def training_run_of(ckpt_path: str | os.PathLike | None) -> Path | None:
    """The run directory a checkpoint was written in (``<run>/checkpoints/x.ckpt``)."""
    if not ckpt_path:
        return None
    path = Path(ckpt_path)
    run = path.parent.parent
    if path.parent.name == "checkpoints" and run.is_dir():
        return run
    return None


class EvaluationReport(L.Callback):
    """Collects the probabilities and targets that ``test_step`` returns (``{"probs",
    "targets"}``) from the first test dataloader and, on rank zero, writes report.md,
    report.csv, the PNGs, summary.json and predictions.npz into the run directory
    (``trainer.log_dir``); logs the pictures and the table to W&B when it is a logger."""

    def __init__(self, experiment: str | None = None) -> None:
        self.experiment = experiment
        self.checkpoint_epoch: int | None = None
        self.last: tuple[ClassificationReport, dict[str, Any], dict[str, Path]] | None = None
        self._probs: list[torch.Tensor] = []
        self._targets: list[torch.Tensor] = []

    def on_load_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        self.checkpoint_epoch = checkpoint.get("epoch")

    def on_test_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._probs, self._targets = [], []

    def on_test_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if dataloader_idx != 0 or not isinstance(outputs, dict) or "probs" not in outputs:
            return
        self._probs.append(outputs["probs"].detach().float())
        self._targets.append(outputs["targets"].detach().long())

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        names = list(getattr(pl_module, "class_names", None) or [])
        k = self._probs[0].shape[1] if self._probs else len(names)
        probs = torch.cat(self._probs) if self._probs else torch.zeros(0, k)
        targets = torch.cat(self._targets) if self._targets else torch.zeros(0, dtype=torch.long)
        # Collectives under DDP, so every process takes part: the gathers and log_dir's broadcast.
        probs, targets = _gather(pl_module, probs, targets)
        out_dir = Path(trainer.log_dir or trainer.default_root_dir)
        self._probs, self._targets = [], []
        if trainer.is_global_zero and len(targets) > 0:
            names = names or [str(i) for i in range(probs.shape[1])]
            predictions = Predictions(probs.cpu().numpy(), targets.cpu().numpy(), names)
            self.last = self.write(trainer, pl_module, predictions, out_dir)

    # ------------------------------------------------------------------------------ writing
    def facts(
        self, trainer: L.Trainer, pl_module: L.LightningModule, out_dir: Path
    ) -> dict[str, Any]:
        hparams = getattr(pl_module, "hparams", {})
        model = str(hparams.get("backbone", type(pl_module).__name__))
        if hparams.get("head"):
            model += f" + {hparams['head']} head"
        if hparams.get("pretrained"):
            model += " (ImageNet init)"
        dm = trainer.datamodule
        commit, dirty = git_commit()
        seed = os.environ.get("PL_GLOBAL_SEED")
        params = pl_module.num_parameters() if hasattr(pl_module, "num_parameters") else None
        return {
            "experiment": self.experiment or out_dir.parent.name,
            "model": model,
            "dataset": type(dm).__name__.removesuffix("DataModule") if dm is not None else None,
            "split": getattr(dm, "split", None),
            "parameters": params,
            "best_epoch": self.checkpoint_epoch if trainer.ckpt_path else None,
            "seed": int(seed) if seed is not None else None,
            "tta": getattr(dm, "tta", "none"),
            "tta_crop_size": getattr(dm, "tta_crop_size", None),
            "git_commit": commit,
            "git_dirty": dirty,
            # the Trainer's precision ("bf16-mixed", "32-true", ...): automatic unless given
            "trainer_precision": str(trainer.precision),
            "checkpoint": str(trainer.ckpt_path) if trainer.ckpt_path else None,
            "training_run": str(training_run_of(trainer.ckpt_path) or out_dir),
        }

    def write(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        predictions: Predictions,
        out_dir: Path,
    ) -> tuple[ClassificationReport, dict[str, Any], dict[str, Path]]:
        from fer_lightning.evaluation.writer import write_report  # matplotlib: only when used

        facts = self.facts(trainer, pl_module, out_dir)
        report, summary, paths = write_report(
            out_dir, predictions, facts, history_dir=Path(facts["training_run"])
        )
        log.info(
            "test report: %s (accuracy %.5f, macro F1 %.4f)",
            paths["report_md"],
            report.accuracy,
            report.macro["f1"],
        )
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                _log_to_wandb(logger, report, paths)
        return report, summary, paths


def _gather(
    pl_module: L.LightningModule, probs: torch.Tensor, targets: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every process's predictions, process by process (uneven sizes: padded, then cut)."""
    if pl_module.trainer.world_size == 1:
        return probs, targets
    device = pl_module.device
    sizes = pl_module.all_gather(torch.tensor(len(targets), device=device)).view(-1).tolist()
    most = max(sizes)
    padded_probs = torch.zeros(most, probs.shape[1], device=device)
    padded_probs[: len(probs)] = probs.to(device)
    padded_targets = torch.zeros(most, dtype=torch.long, device=device)
    padded_targets[: len(targets)] = targets.to(device)
    all_probs = pl_module.all_gather(padded_probs)
    all_targets = pl_module.all_gather(padded_targets)
    return (
        torch.cat([all_probs[r, :n] for r, n in enumerate(sizes)]),
        torch.cat([all_targets[r, :n] for r, n in enumerate(sizes)]),
    )


def _log_to_wandb(
    logger: WandbLogger, report: ClassificationReport, paths: dict[str, Path]
) -> None:
    """The pictures as ``wandb.Image`` and the classification report as a ``wandb.Table``."""
    for key in ("confusion", "roc", "curves"):
        logger.log_image(key=f"test/{paths[key].stem}", images=[str(paths[key])])
    rows = [[row[c] for c in CSV_COLUMNS] for row in report.rows()]
    logger.log_table(key="test/classification_report", columns=CSV_COLUMNS, data=rows)
