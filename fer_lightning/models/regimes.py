"""Training regimes as Lightning fine-tuning callbacks (``trainer.callbacks`` in YAML).

- ``scratch``: no callback, ``model.pretrained: false`` (random init, everything trains).
- ``transfer``: :class:`Transfer` with ``model.pretrained: true``: the backbone is frozen, its
  batch-norm layers too (eval mode: running statistics are used and not updated), except the
  submodules named in ``trainable`` (ViT-B/16 in trinh2023: ``[blocks.11, norm]``).
- ``finetune``: :class:`Finetune`: as ``transfer`` first; at ``unfreeze_at_epoch`` the submodules
  in ``unfreeze`` (the deeper blocks; empty = the whole backbone) start training, in a new
  optimizer parameter group at ``lr_ratio`` x the head's learning rate.

Both build on Lightning's :class:`~lightning.pytorch.callbacks.BaseFinetuning` (its parameter
groups are stored in checkpoints and restored on resume). Lightning's own ``freeze(train_bn=
False)`` switches batch norm to batch statistics (``track_running_stats=False``); freezing the
statistics, as Keras does for a frozen base, needs eval mode instead, which is what these do.

The optimizer gets only the trainable parameters: the callbacks freeze in ``setup``, before
Lightning calls ``configure_optimizers``, and :func:`keep_trainable` drops the frozen ones from
the optimizer LightningCLI built from ``optimizer:`` (see ``FERLightningCLI``).
"""

from __future__ import annotations

from collections.abc import Sequence

import lightning as L
from lightning.pytorch.callbacks import BaseFinetuning
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.optim import Optimizer

from fer_lightning.errors import FERUserError


def keep_trainable(optimizer: Optimizer) -> None:
    """Remove parameters with ``requires_grad=False`` from ``optimizer``'s groups (in place, before
    any step, so that no optimizer state or scheduler is affected)."""
    for group in optimizer.param_groups:
        group["params"] = [p for p in group["params"] if p.requires_grad]


def submodules(root: nn.Module, names: Sequence[str], key: str) -> list[nn.Module]:
    """``root``'s submodules by dotted name; an unknown name is a user error naming ``key`` and
    a few valid names."""
    out = []
    for name in names:
        try:
            out.append(root.get_submodule(name))
        except AttributeError:
            known = [n for n, _ in root.named_children()]
            raise FERUserError(
                f"{key}: the backbone has no submodule '{name}'; its top-level ones are "
                f"{', '.join(known[:12])}{' ...' if len(known) > 12 else ''}"
            ) from None
    return out


class Transfer(BaseFinetuning):
    """Freeze the pretrained backbone (weights and batch-norm statistics) except ``trainable``."""

    def __init__(self, trainable: Sequence[str] = ()) -> None:
        """
        Args:
            trainable: backbone submodules (dotted names, e.g. ``blocks.11``, ``layer4``) that
                keep training, batch norm included.
        """
        super().__init__()
        self.trainable = list(trainable)
        self._frozen_bn: list[nn.Module] = []
        self._epoch_started: int | None = None

    def _key(self) -> str:
        return f"trainer.callbacks.{type(self).__name__}.trainable"

    def freeze_before_training(self, pl_module: L.LightningModule) -> None:
        self._epoch_started = None
        backbone = pl_module.backbone
        live = submodules(backbone, self.trainable, self._key())
        for param in backbone.parameters():
            param.requires_grad = False
        for module in live:
            for param in module.parameters():
                param.requires_grad = True
        live_bn = {id(m) for module in live for m in module.modules()}
        self._frozen_bn = [
            m for m in backbone.modules() if isinstance(m, _BatchNorm) and id(m) not in live_bn
        ]

    def _hold_bn(self) -> None:
        for module in self._frozen_bn:
            module.eval()

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_epoch_start(trainer, pl_module)  # finetune_function, param groups
        self._epoch_started = trainer.current_epoch
        self._hold_bn()

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, *_) -> None:
        # A fit resumed in the middle of an epoch (a checkpoint written on SIGTERM or Ctrl-C)
        # gets no on_train_epoch_start from Lightning: without it, setup's freeze would hold
        # the blocks an earlier epoch unfroze for the rest of this one.
        if self._epoch_started != trainer.current_epoch:
            self.on_train_epoch_start(trainer, pl_module)
        # Anything that calls .train() on the model (e.g. a callback) must not wake them up.
        self._hold_bn()

    def finetune_function(
        self, pl_module: L.LightningModule, epoch: int, optimizer: Optimizer
    ) -> None:
        """Nothing is unfrozen later in transfer learning."""


class Finetune(Transfer):
    """Frozen first (as :class:`Transfer`); from ``unfreeze_at_epoch`` on, ``unfreeze`` trains
    at ``lr_ratio`` x the learning rate of the optimizer's first group."""

    def __init__(
        self,
        unfreeze_at_epoch: int = 10,
        unfreeze: Sequence[str] = (),
        lr_ratio: float = 0.1,
        trainable: Sequence[str] = (),
    ) -> None:
        """
        Args:
            unfreeze_at_epoch: first epoch (0-based) in which ``unfreeze`` trains.
            unfreeze: backbone submodules to unfreeze then (e.g. ``[layer4]`` for ResNet50,
                ``[features.24, features.26, features.28]`` for VGG16's block 5); empty = all.
            lr_ratio: their learning rate relative to the head's at that epoch.
            trainable: submodules that train from the start, as in :class:`Transfer`.
        """
        super().__init__(trainable)
        if unfreeze_at_epoch < 0 or lr_ratio <= 0:
            raise FERUserError(
                "trainer.callbacks.Finetune: unfreeze_at_epoch must be >= 0 and lr_ratio > 0"
            )
        self.unfreeze_at_epoch = unfreeze_at_epoch
        self.unfreeze = list(unfreeze)
        self.lr_ratio = lr_ratio
        self._unfrozen = False

    def freeze_before_training(self, pl_module: L.LightningModule) -> None:
        super().freeze_before_training(pl_module)
        self._unfrozen = False

    def finetune_function(
        self, pl_module: L.LightningModule, epoch: int, optimizer: Optimizer
    ) -> None:
        # ">=" with a check instead of "==": a run resumed after the epoch must unfreeze again
        # (setup froze everything; BaseFinetuning restored the parameter group already).
        if epoch < self.unfreeze_at_epoch or self._unfrozen:
            return
        self._unfrozen = True
        backbone = pl_module.backbone
        key = "trainer.callbacks.Finetune.unfreeze"
        modules = submodules(backbone, self.unfreeze, key) if self.unfreeze else [backbone]
        in_optimizer = {id(p) for group in optimizer.param_groups for p in group["params"]}
        self.make_trainable(modules)
        new = list({id(p): p for m in modules for p in m.parameters()}.values())
        new = [p for p in new if id(p) not in in_optimizer]
        if new:
            lr = optimizer.param_groups[0]["lr"] * self.lr_ratio
            optimizer.add_param_group({"params": new, "lr": lr})
        woken = {id(m) for module in modules for m in module.modules()}
        for module in self._frozen_bn:
            if id(module) in woken:
                module.train()
        self._frozen_bn = [m for m in self._frozen_bn if id(m) not in woken]
