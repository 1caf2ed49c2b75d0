"""FERClassifier: any registered backbone + a swappable head, trained with cross-entropy.

The optimizer and LR scheduler come from LightningCLI's ``optimizer:`` / ``lr_scheduler:``
config; the number of classes, their names and the input channels are linked from the
datamodule, never repeated in YAML.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_only
from torch import nn
from torchmetrics import MeanMetric, MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
    MulticlassStatScores,
)

from fer_lightning import run_layout
from fer_lightning.errors import FERUserError
from fer_lightning.models.backbones import create_backbone
from fer_lightning.models.heads import create_head
from fer_lightning.models.init_from import CHECKPOINT_KEY, HEAD_MODES, initialise

STAGES = ("train", "val", "test")
LOSSES = ("cross_entropy", "multi_target")


def multi_target_loss(
    logits: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """FER+'s multi-target loss: ``-log`` of the probability the model gives the target set,
    the sum of the softmax over the classes whose target is positive, averaged over the batch
    (weighted by the class weights of the targets, when given). Integer labels are one-class
    target sets (the loss is then the cross-entropy)."""
    if not targets.is_floating_point():
        targets = F.one_hot(targets, logits.shape[-1]).to(logits.dtype)
    members = targets > 0
    log_probs = logits.float().log_softmax(-1)
    loss = -torch.logsumexp(log_probs.masked_fill(~members, float("-inf")), dim=-1)
    if weight is None:
        return loss.mean()
    w = (members * weight).sum(-1) / members.sum(-1).clamp(min=1)
    return (loss * w).sum() / w.sum()


def check_loss(loss: str | None, distill: object) -> None:
    """``data.distill`` trains on distributions: refuse the loss that reads targets as sets."""
    if distill and loss == "multi_target":
        raise FERUserError(
            "model.loss multi_target takes target sets, not the mixed distributions of "
            "data.distill (every class would be a target); use model.loss cross_entropy"
        )


def _metrics(num_classes: int, per_class: bool) -> MetricCollection:
    metrics: dict[str, Any] = {
        "acc": MulticlassAccuracy(num_classes, average="micro"),
        "f1_macro": MulticlassF1Score(num_classes, average="macro"),
    }
    if per_class:
        metrics |= {
            "stats": MulticlassStatScores(num_classes, average=None),
            "precision": MulticlassPrecision(num_classes, average=None, zero_division=0),
            "recall": MulticlassRecall(num_classes, average=None, zero_division=0),
            "f1": MulticlassF1Score(num_classes, average=None, zero_division=0),
            "confusion": MulticlassConfusionMatrix(num_classes),
        }
    return MetricCollection(metrics)


def _stage_losses() -> nn.ModuleDict:
    """Each stage's mean loss over the epoch, weighted by batch size (over all DDP processes:
    the global mean, computed in the same hook as the other metrics)."""
    return nn.ModuleDict({f"{stage}_": MeanMetric() for stage in STAGES})


def _stage_metrics(num_classes: int) -> nn.ModuleDict:
    """Each stage's metrics; the ``_`` suffix because ModuleDict keys may not shadow
    nn.Module attributes such as ``train``."""
    return nn.ModuleDict(
        {f"{stage}_": _metrics(num_classes, per_class=stage != "train") for stage in STAGES}
    )


class SelectLogits(nn.Module):
    """Keeps the logits of the given output indices, in that order."""

    def __init__(self, index: Sequence[int]) -> None:
        super().__init__()
        self.register_buffer("index", torch.as_tensor(list(index), dtype=torch.long))

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.index_select(-1, self.index)


class FERClassifier(L.LightningModule):
    def __init__(
        self,
        backbone: str = "baseline_cnn",
        backbone_kwargs: dict[str, Any] | None = None,
        head: str = "linear",
        head_kwargs: dict[str, Any] | None = None,
        pretrained: bool = False,
        num_classes: int = 7,
        class_names: list[str] | None = None,
        in_chans: int = 1,
        image_size: int = 48,
        class_weights: bool = False,
        label_smoothing: float = 0.0,
        aux_loss_weight: float = 0.3,
        channels_last: bool | None = None,
        compile: bool = False,
        loss: str = "cross_entropy",
        init_from: str | None = None,
        init_head: str = "match",
    ) -> None:
        """
        Args:
            backbone: a name from ``fer_lightning.models.list_backbones()``.
            backbone_kwargs: extra arguments of that backbone builder.
            head: a name from ``fer_lightning.models.list_heads()``.
            head_kwargs: extra arguments of that head builder (e.g. ``hidden``, ``dropout``).
            pretrained: load the backbone's ImageNet weights (from the torch / timm cache).
            num_classes, class_names, in_chans, image_size: linked from the datamodule.
            class_weights: weight the loss by the datamodule's inverse class frequencies.
            label_smoothing: cross-entropy label smoothing.
            aux_loss_weight: weight of each auxiliary classifier's loss (GoogLeNet, InceptionV3;
                training only; 0.3 as GoogLeNet's paper and trinh2023).
            channels_last: NHWC memory format for the backbone and its inputs. None: on when
                training on a CPU, where it measured faster in fp32 and in bf16 (``make
                bench``), off on GPUs (not measured here; ``true`` usually helps convolutions
                with mixed precision on recent GPUs).
            compile: ``torch.compile`` the backbone and head (in place, so checkpoints keep
                their parameter names); the first steps are slow while it compiles.
            loss: the training loss. ``cross_entropy`` takes integer labels or, from a dataset
                that yields them in training (FER+'s ``crossentropy`` mode), target
                distributions; ``multi_target`` (FER+'s multi-target mode):
                ``-log`` of the summed probability of the target classes
                (:func:`multi_target_loss`). Validation and test always have integer labels.
            init_from: start ``fit`` from this FER model's weights: a zoo name
                (``fer-lightning models``), a ``fit`` checkpoint or a bundled ``.safetensors``
                file (:mod:`fer_lightning.models.init_from`). None: random (or ImageNet) init.
            init_head: what the head's class layer keeps from ``init_from``: ``match`` (the
                rows of the classes with the same meaning, the others new) or ``new`` (none).
        """
        super().__init__()
        if not 0.0 <= label_smoothing < 1.0:
            raise FERUserError(
                f"model.label_smoothing must be within 0 (none) and 1 (exclusive), "
                f"got {label_smoothing}"
            )
        if aux_loss_weight < 0:
            raise FERUserError(f"model.aux_loss_weight must be 0 or more, got {aux_loss_weight}")
        if loss not in LOSSES:
            raise FERUserError(f"model.loss '{loss}' is not one of {', '.join(LOSSES)}")
        if init_head not in HEAD_MODES:
            raise FERUserError(
                f"model.init_head must be one of {', '.join(HEAD_MODES)}, got {init_head!r}"
            )
        self.save_hyperparameters()
        self.class_names = list(class_names or [str(i) for i in range(num_classes)])
        if len(self.class_names) != num_classes:
            raise ValueError(f"{len(self.class_names)} class names for {num_classes} classes")
        built = create_backbone(
            backbone,
            in_chans=in_chans,
            image_size=image_size,
            pretrained=pretrained,
            num_classes=num_classes,
            **(backbone_kwargs or {}),
        )
        self.backbone = built.module
        self.head = create_head(head, built.out_shape, num_classes, **(head_kwargs or {}))
        self._channels_last = False
        if channels_last:
            self._use_channels_last()
        if compile:
            self.backbone.compile()
            self.head.compile()
        # One input, for Lightning's model summary: its FLOPs and in/out sizes columns.
        self.example_input_array = torch.zeros(1, in_chans, image_size, image_size)
        # Filled from the datamodule at fit time and saved with the checkpoint.
        self.register_buffer("loss_weight", torch.ones(num_classes))
        self.metrics = _stage_metrics(num_classes)
        self.losses = _stage_losses()
        self.confusion: dict[str, torch.Tensor] = {}
        #: where the fit's initial weights came from (``model.init_from``), kept in checkpoints
        self.init_source: dict[str, Any] | None = None

    # --------------------------------------------------------------------------- model
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of ``(B, C, H, W)`` images. Ten-crop test-time augmentation passes
        ``(B, crops, C, H, W)``: the result is then the log of the mean of the crops' softmaxes,
        so softmax, argmax and cross-entropy see the averaged probabilities."""
        if x.ndim == 5:
            b, n = x.shape[:2]
            log_probs = self._logits(x.flatten(0, 1))[0].log_softmax(-1)
            return log_probs.view(b, n, -1).logsumexp(dim=1) - math.log(n)
        return self._logits(x)[0]

    def _logits(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """(logits, auxiliary logits); backbones with auxiliary classifiers (GoogLeNet,
        InceptionV3) return them in training mode only."""
        if self._channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        out = self.backbone(x)
        features, aux = out if isinstance(out, tuple) else (out, ())
        return self.head(features), aux

    def restrict_outputs(self, index: Sequence[int], class_names: Sequence[str]) -> None:
        """Make this classifier one over its outputs ``index`` only, in that order, named
        ``class_names``: e.g. a FER2013 model tested on CK+, which has no *neutral*. The
        trained head is kept and a fixed selection of its logits follows it; the loss
        weights, metrics and hyper-parameters follow the new classes."""
        if len(index) != len(class_names):
            raise ValueError(f"{len(class_names)} class names for {len(index)} outputs")
        self.head = nn.Sequential(self.head, SelectLogits(index))
        self.class_names = list(class_names)
        self.loss_weight = self.loss_weight[list(index)].clone()
        self.metrics = _stage_metrics(len(index))
        self.hparams["num_classes"] = len(index)
        self.hparams["class_names"] = list(class_names)

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def _use_channels_last(self) -> None:
        self.backbone.to(memory_format=torch.channels_last)
        self._channels_last = True

    def setup(self, stage: str) -> None:
        # Automatic: faster on CPUs (see __init__); in every stage, so that a checkpoint tested
        # again (``fer-lightning test`` / ``report``) computes in the layout its fit's test did.
        if (
            self.hparams.channels_last is None
            and not self._channels_last
            and self.trainer.strategy.root_device.type == "cpu"
        ):
            self._use_channels_last()
        if stage == "fit":
            dm = getattr(self.trainer, "datamodule", None)
            check_loss(self.hparams.get("loss"), getattr(dm, "distill", None))
        if stage == "fit" and self.hparams.class_weights:
            dm = getattr(self.trainer, "datamodule", None)
            if dm is None or not hasattr(dm, "class_weights"):
                raise ValueError("model.class_weights needs a datamodule with class_weights()")
            self.loss_weight.copy_(dm.class_weights())
        resuming = bool(self.trainer.ckpt_path)  # its checkpoint has weights and the record
        if stage == "fit" and self.hparams.get("init_from") and not resuming:
            dm = getattr(self.trainer, "datamodule", None)
            norm = (dm.mean, dm.std) if hasattr(dm, "mean") and hasattr(dm, "std") else None
            self.init_source = initialise(
                self, self.hparams.init_from, self.hparams.get("init_head", "match"), norm
            )

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.init_source is not None:
            checkpoint[CHECKPOINT_KEY] = self.init_source

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if isinstance(checkpoint.get(CHECKPOINT_KEY), dict):
            self.init_source = checkpoint[CHECKPOINT_KEY]

    # ------------------------------------------------------------------------ training
    def _step(
        self, batch: tuple[torch.Tensor, torch.Tensor], stage: str
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss, logits) of one batch; logs the loss and updates the stage's metrics."""
        x, y = batch
        if stage == "train" and x.ndim == 5:  # ten-crop training samples: each crop is one
            y = y.repeat_interleave(x.shape[1], dim=0)
            x = x.flatten(0, 1)
        logits, aux = self._logits(x) if x.ndim == 4 else (self(x), ())
        weight = self.loss_weight if self.hparams.class_weights else None
        loss = self._loss(logits, y, weight)
        for aux_logits in aux:
            loss = loss + self.hparams.aux_loss_weight * self._loss(aux_logits, y, weight)
        if y.is_floating_point():  # training targets (FER+): the metrics take their argmax
            y = y.argmax(-1)
        self.metrics[f"{stage}_"].update(logits.detach().float(), y)  # bf16 under autocast
        self.losses[f"{stage}_"].update(loss.detach().float(), weight=len(y))
        if stage == "train":  # this process's own loss, for the progress bar and the curves
            self.log("train/loss_step", loss.detach(), prog_bar=True, batch_size=len(y))
        return loss, logits

    def _loss(
        self, logits: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None
    ) -> torch.Tensor:
        """The training loss (``model.loss``) of integer labels or float targets ``y``."""
        if self.hparams.get("loss", "cross_entropy") == "multi_target":
            return multi_target_loss(logits, y, weight)
        if y.is_floating_point():
            y = y.to(logits.dtype)
        smoothing = self.hparams.label_smoothing
        return F.cross_entropy(logits, y, weight=weight, label_smoothing=smoothing)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")[0]

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> dict[str, torch.Tensor]:
        """Also returns the probabilities and targets, for the evaluation report callback."""
        loss, logits = self._step(batch, "test")
        return {"loss": loss, "probs": logits.detach().float().softmax(-1), "targets": batch[1]}

    def predict_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self(x).float().softmax(dim=-1)

    # ------------------------------------------------------------------------- metrics
    def _log_epoch_metrics(self, stage: str) -> None:
        """Every epoch value is synchronised here, in a hook every DDP process runs at the same
        point, and logged already reduced (no ``sync_dist``). A value Lightning reduces lazily
        would be reduced where it is first read: on rank 0 that is the progress bar, which the
        other processes do not have, so the processes would wait in different collectives."""
        values = self.metrics[f"{stage}_"].compute()  # torchmetrics syncs across processes here
        self.metrics[f"{stage}_"].reset()
        loss = self.losses[f"{stage}_"].compute()
        self.losses[f"{stage}_"].reset()
        # train/loss_epoch beside the per-step train/loss_step, as Lightning names them.
        self.log(
            f"{stage}/loss_epoch" if stage == "train" else f"{stage}/loss",
            loss,
            prog_bar=stage != "test",
        )
        self.log(f"{stage}/acc", values["acc"], prog_bar=stage != "test")
        logged: dict[str, torch.Tensor] = {f"{stage}/f1_macro": values["f1_macro"]}
        if "confusion" in values:
            tp, fp, tn, fn, _ = values["stats"].float().unbind(-1)
            one_vs_rest_acc = (tp + tn) / (tp + fp + tn + fn).clamp(min=1)
            for i, name in enumerate(self.class_names):
                logged[f"{stage}/acc/{name}"] = one_vs_rest_acc[i]
                for metric in ("precision", "recall", "f1"):
                    logged[f"{stage}/{metric}/{name}"] = values[metric][i]
            self.confusion[stage] = values["confusion"].cpu()
            if self._trainer is not None and not self.trainer.sanity_checking:
                # trainer.log_dir is a broadcast under DDP: every process asks, rank 0 writes.
                self._write_confusion(stage, self.trainer.log_dir)
        self.log_dict(logged)

    @rank_zero_only
    def _write_confusion(self, stage: str, log_dir: str | None) -> None:
        if not log_dir:
            return
        path = run_layout.confusion_csv(log_dir, stage)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["true\\pred", *self.class_names])
            for name, row in zip(self.class_names, self.confusion[stage].tolist(), strict=True):
                writer.writerow([name, *row])

    def on_train_epoch_end(self) -> None:
        self._log_epoch_metrics("train")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch_metrics("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch_metrics("test")
