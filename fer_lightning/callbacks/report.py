"""A callback that collects the test predictions and writes the run's report when testing ends.

Under DDP every process collects its own share (the evaluation samplers may give processes
uneven shares); they are gathered with ``all_gather`` and only rank zero writes files.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import WandbLogger

from fer_lightning import hardware
from fer_lightning.errors import FERUserError
from fer_lightning.evaluation import unseen
from fer_lightning.evaluation.predictions import Predictions
from fer_lightning.evaluation.report import CSV_COLUMNS, ClassificationReport
from fer_lightning.evaluation.stats import fingerprint_test_set
from fer_lightning.evaluation.summary import git_commit
from fer_lightning.run import layout

log = logging.getLogger("fer_lightning")


class EvaluationReport(L.Callback):
    """Collects the probabilities and targets that ``test_step`` returns (``{"probs",
    "targets"}``) from the first test dataloader and, on rank zero, writes report.md,
    report.csv, the PNGs, summary.json and predictions.npz into the run directory
    (``trainer.log_dir``); logs the pictures and the table to W&B when it is a logger."""

    def __init__(self, experiment: str | None = None) -> None:
        self.experiment = experiment
        self.checkpoint_epoch: int | None = None
        self.checkpoint_selection: str | None = None
        #: the bundled model file a test's checkpoint was made from (zoo models)
        self.bundle_path: str | None = None
        #: a checkpoint whose weights were loaded outside Lightning (a cross-dataset test)
        self.loaded_checkpoint: str | None = None
        #: (commit, dirty) of the code when the command started: a commit made while a long
        #: training runs must not be credited with its result
        self.code_version: tuple[str | None, bool | None] | None = None
        self.last: tuple[ClassificationReport, dict[str, Any], dict[str, Path]] | None = None
        self._probs: list[torch.Tensor] = []
        self._targets: list[torch.Tensor] = []

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self.code_version is None:  # fit, then test in the same command: the fit's
            self.code_version = git_commit()

    def on_load_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        self._remember(checkpoint)

    def note_loaded(self, ckpt_path: str | os.PathLike, checkpoint: dict[str, Any]) -> None:
        """The weights of ``ckpt_path`` were loaded by the command itself, not by Lightning
        (which then gets no ``ckpt_path``): the report still names it, its epoch and how it
        was chosen."""
        self.loaded_checkpoint = str(ckpt_path)
        self._remember(checkpoint)

    def _remember(self, checkpoint: dict[str, Any]) -> None:
        bundle = checkpoint.get("bundle")
        self.bundle_path = bundle.get("path") if isinstance(bundle, dict) else None
        self.checkpoint_epoch = checkpoint.get("epoch")
        self.checkpoint_selection = checkpoint_selection(checkpoint)

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
        bad = int((~torch.isfinite(probs).all(dim=1)).sum())
        if bad:  # every process raises: none waits for the others in a collective
            raise FERUserError(
                f"the model gave NaN or infinite probabilities for {bad} of {len(probs)} test "
                "images (broken weights or data settings); no report was written"
            )
        if trainer.is_global_zero and len(targets) > 0:
            names = names or [str(i) for i in range(probs.shape[1])]
            predictions = Predictions(probs.cpu().numpy(), targets.cpu().numpy(), names)
            self.last = self.write(trainer, pl_module, predictions, out_dir)

    # ------------------------------------------------------------------------------ writing
    def facts(
        self, trainer: L.Trainer, pl_module: L.LightningModule, out_dir: Path
    ) -> dict[str, Any]:
        hparams = getattr(pl_module, "hparams", {})
        ckpt_path = trainer.ckpt_path or self.loaded_checkpoint
        model = str(hparams.get("backbone", type(pl_module).__name__))
        if hparams.get("head"):
            model += f" + {hparams['head']} head"
        if hparams.get("pretrained"):
            model += " (ImageNet init)"
        init_source = getattr(pl_module, "init_source", None)
        if init_source:
            model += f" (initialised from {init_source['model']})"
        dm = trainer.datamodule
        commit, dirty = self.code_version or git_commit()
        seed = os.environ.get("PL_GLOBAL_SEED")
        params = pl_module.num_parameters() if hasattr(pl_module, "num_parameters") else None
        accelerator = type(trainer.accelerator).__name__.removesuffix("Accelerator").lower()
        return {
            "experiment": self.experiment or layout.experiment_of(out_dir),
            "model": model,
            "dataset": type(dm).__name__.removesuffix("DataModule") if dm is not None else None,
            "split": getattr(dm, "split", None),
            "parameters": params,
            "best_epoch": self.checkpoint_epoch if ckpt_path else None,
            "seed": int(seed) if seed is not None else None,
            "tta": getattr(dm, "tta", "none"),
            "tta_crop_size": getattr(dm, "tta_crop_size", None),
            # the Trainer's precision ("bf16-mixed", "32-true", ...): automatic unless given
            "precision": str(trainer.precision),
            "hardware": hardware.describe(accelerator, trainer.num_devices),
            "git_commit": commit,
            "git_dirty": dirty,
            "checkpoint": self.bundle_path or (str(ckpt_path) if ckpt_path else None),
            "training_run": str(layout.run_of_checkpoint(ckpt_path) or out_dir),
            "test_set_images": _test_set_size(trainer),
            "test_limit": trainer.limit_test_batches,
            "checkpoint_selection": (
                self.checkpoint_selection
                if ckpt_path
                else "not recorded: no checkpoint restored by Lightning (the weights as they are)"
            ),
            "test_fingerprint": fingerprint_of(dm),
            "init_from": init_source,
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
        predictions, facts["copies_reference"] = unseen.identify(trainer.datamodule, predictions)
        facts["explanations"] = write_explanations(trainer, pl_module, predictions, out_dir)
        report, summary, paths = write_report(
            out_dir, predictions, facts, history_dir=Path(facts["training_run"])
        )
        if summary.get("partial_test"):
            log.warning(
                "the test report covers %d of the %d test images (--trainer.limit_test_batches=%s:"
                " a seeded class-stratified subset); report.md and summary.json say so",
                summary["test_images"],
                summary["test_set_images"],
                facts["test_limit"],
            )
        if facts["explanations"]:
            paths["explanations"] = facts["explanations"]
        log.info(
            "test report: %s (accuracy %.5f, macro F1 %.4f)",
            paths["report_md"],
            report.accuracy,
            report.macro["f1"],
        )
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                _log_to_wandb(logger, report, paths)
                _log_wandb_plots(logger, predictions, summary)
        return report, summary, paths


def _test_set_size(trainer: L.Trainer) -> int | None:
    """Images in the (first) test dataloader's dataset: all of the test split, however many
    batches ``--trainer.limit_test_batches`` lets the test see."""
    loaders = trainer.test_dataloaders
    loader = loaders[0] if isinstance(loaders, (list, tuple)) and loaders else loaders
    try:
        return len(loader.dataset)  # type: ignore[union-attr, arg-type]
    except (AttributeError, TypeError):
        return None


def write_explanations(
    trainer: L.Trainer, pl_module: L.LightningModule, predictions: Predictions, out_dir: Path
) -> Path | None:
    """``explanations.png`` from the datamodule's test images (in the predictions' order);
    None, with a warning, where the model or the data do not allow it."""
    from fer_lightning.data.dataset import ArrayDataset
    from fer_lightning.evaluation import plots
    from fer_lightning.evaluation.explain import explanations_figure
    from fer_lightning.evaluation.writer import EXPLANATIONS_PNG

    dm = trainer.datamodule
    if dm is None or not hasattr(dm, "dataset") or not hasattr(pl_module, "backbone"):
        return None
    dataset = dm.dataset("test")
    while not isinstance(dataset, ArrayDataset) and hasattr(dataset, "dataset"):
        dataset = dataset.dataset  # ten-crop TTA wraps the plain test images
    labels = getattr(dataset, "labels", None)
    if labels is None or not np.array_equal(np.asarray(labels), predictions.targets):
        log.warning("explanations.png skipped: the test images do not match the predictions")
        return None

    def inputs(indices: list[int]) -> torch.Tensor:
        return torch.stack([dataset[i][0] for i in indices])

    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        fig = explanations_figure(pl_module, predictions, inputs, dm.mean, dm.std)
    except FERUserError as err:
        log.warning("explanations.png skipped: %s", err)
        return None
    return plots.save(fig, out_dir / EXPLANATIONS_PNG)


def checkpoint_selection(checkpoint: dict[str, Any]) -> str:
    """How the loaded checkpoint was chosen, from its ModelCheckpoint state: the monitored
    metric, its mode and best value (a metric of the test split is called out)."""
    bundle = checkpoint.get("bundle")
    if isinstance(bundle, dict):  # a bundled (zoo) model: chosen when it was trained
        provenance = bundle.get("provenance") or {}
        how = provenance.get("checkpoint_selection") or (
            f"epoch {provenance.get('best_epoch')} of its training run, chosen there"
        )
        return f"the bundled model {bundle.get('path')}'s ({how})"
    for key, state in (checkpoint.get("callbacks") or {}).items():
        if not str(key).startswith("ModelCheckpoint") or not isinstance(state, dict):
            continue
        monitor = state.get("monitor")
        if not monitor:
            continue
        mode = re.search(r"'mode': '(\w+)'", str(key))
        best = state.get("best_model_score")
        best_text = f", best {float(best):.4f}" if best is not None else ""
        split = str(monitor).split("/")[0]
        where = {"val": "the validation split", "train": "the training split"}.get(split)
        if split == "test":
            where = "THE TEST SPLIT (the test figures are then biased upwards)"
        return (
            f"best `{monitor}` ({mode.group(1) if mode else 'max'}{best_text}) on "
            f"{where or f'split {split!r}'}, epoch {checkpoint.get('epoch')}"
        )
    return f"no monitored metric recorded in the checkpoint (epoch {checkpoint.get('epoch')})"


def fingerprint_of(datamodule: Any) -> str | None:
    """The test split's :func:`fingerprint_test_set` when the data module has loaded it."""
    splits = getattr(datamodule, "splits", None)
    test = splits.get("test") if isinstance(splits, dict) else None
    if test is None or not hasattr(test, "images"):
        return None
    return fingerprint_test_set(test.images, test.labels)


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
    probs = torch.cat([all_probs[r, :n] for r, n in enumerate(sizes)])
    targets = torch.cat([all_targets[r, :n] for r, n in enumerate(sizes)])
    # Back to the dataset's order (UnrepeatedDistributedSampler: rank r holds r, r+W, r+2W...),
    # so that per-image results pair up across runs and with the test images.
    world, total = len(sizes), sum(sizes)
    if all(len(range(r, total, world)) == n for r, n in enumerate(sizes)):
        order = torch.cat([torch.arange(r, total, world) for r in range(world)])
        restored = torch.empty_like(order)
        restored[order] = torch.arange(len(order))
        probs, targets = probs[restored.to(probs.device)], targets[restored.to(targets.device)]
    return probs, targets


def log_checkpoint_artifact(loggers: list[Any], path: Path) -> None:
    """The best checkpoint as a W&B model artifact (alias ``best``) of every W&B logger that
    does not upload it itself (its ``log_model``, which Lightning refuses offline)."""
    import wandb

    for logger in loggers:
        if not isinstance(logger, WandbLogger) or logger._log_model:
            continue
        artifact = wandb.Artifact(
            f"model-{logger.experiment.id}", type="model", metadata={"checkpoint": path.name}
        )
        artifact.add_file(str(path), name="model.ckpt")
        logger.experiment.log_artifact(artifact, aliases=["best"])


def _log_wandb_plots(
    logger: WandbLogger, predictions: Predictions, summary: dict[str, Any]
) -> None:
    """W&B's interactive confusion matrix and ROC curves, the intervals and the ECE."""
    import wandb

    names = list(predictions.class_names)
    plots = {
        "test/confusion_matrix_plot": wandb.plot.confusion_matrix(
            y_true=predictions.targets.tolist(),
            preds=predictions.predicted.tolist(),
            class_names=names,
        )
    }
    # wandb's roc_curve takes probability column i for the i-th class present in y_true, so
    # it would mislabel the curves when a class is absent from the test labels.
    if len(np.unique(predictions.targets)) == len(names):
        plots["test/roc_plot"] = wandb.plot.roc_curve(
            predictions.targets, predictions.probs, labels=names
        )
    else:
        log.info("W&B roc_plot skipped: a class is absent from the test labels (see roc.png)")
    for key in ("test_accuracy_ci95", "macro_f1_ci95"):
        plots[f"test/{key}_low"], plots[f"test/{key}_high"] = summary[key]
    plots["test/ece"] = summary["ece"]
    logger.experiment.log(plots)  # scalars: in the run's history and summary


def _log_to_wandb(
    logger: WandbLogger, report: ClassificationReport, paths: dict[str, Path]
) -> None:
    """The pictures as ``wandb.Image`` and the classification report as a ``wandb.Table``."""
    for key in ("confusion", "roc", "curves", "reliability", "explanations"):
        if key in paths:
            logger.log_image(key=f"test/{paths[key].stem}", images=[str(paths[key])])
    rows = [[row[c] for c in CSV_COLUMNS] for row in report.rows()]
    logger.log_table(key="test/classification_report", columns=CSV_COLUMNS, data=rows)
