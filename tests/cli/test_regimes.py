"""Training regimes: transfer freezes the backbone (weights and batch-norm statistics); finetune
unfreezes the configured blocks at the configured epoch, at a lower learning rate."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import lightning as L
import pytest
import torch
import yaml

from fer_lightning.errors import FERUserError
from fer_lightning.models import FERClassifier
from fer_lightning.models.regimes import Finetune, Transfer, keep_trainable
from tests.helpers.commands import run_cli

#: The baseline's third block (widths 32-64-128, two conv -> BN -> ReLU each, pool, dropout).
BLOCK3 = ["features.16", "features.17", "features.19", "features.20"]


class Snapshot(L.Callback):
    """Records the backbone's state (weights and BN buffers) and the optimizer's groups at the
    start of training and after every training epoch."""

    last: ClassVar[Snapshot | None] = None

    def __init__(self) -> None:
        self.states: list[dict[str, torch.Tensor]] = []
        self.groups: list[list[float]] = []
        Snapshot.last = self

    def _record(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        state = pl_module.backbone.state_dict()
        self.states.append({k: v.detach().clone() for k, v in state.items()})
        self.groups.append([g["lr"] for g in trainer.optimizers[0].param_groups])

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._record(trainer, pl_module)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._record(trainer, pl_module)


def changed(before: dict, after: dict) -> set[str]:
    return {k for k in before if not torch.equal(before[k], after[k])}


def fit_with(
    tmp_path: Path,
    data_root: Path,
    regime: dict,
    epochs: int,
    more: Sequence[str] = (),
    callbacks: Sequence[dict] = (),
) -> Snapshot:
    extra = tmp_path / "regime.yaml"
    callbacks = [regime, {"class_path": f"{__name__}.Snapshot"}, *callbacks]
    extra.write_text(yaml.safe_dump({"trainer": {"callbacks": callbacks}}))
    run_cli(
        [
            "fit",
            "--exp=baseline_fer2013",
            f"--config={extra}",
            f"--data.data_dir={data_root}",
            f"--trainer.max_epochs={epochs}",
            "--trainer.limit_train_batches=2",
            "--trainer.limit_val_batches=1",
            "--trainer.num_sanity_val_steps=0",
            "--trainer.enable_progress_bar=false",
            "--trainer.log_every_n_steps=1",
            "--data.batch_size=8",
            "--data.num_workers=0",
            "--data.augment=none",
            "--lr_scheduler=null",  # the block's rate is checked against the head's as set
            "--test_after_fit=false",
            *more,
        ]
    )
    assert Snapshot.last is not None
    return Snapshot.last


def test_transfer_changes_no_backbone_parameter_or_statistic(
    tmp_path: Path, fer_folder: Path
) -> None:
    snap = fit_with(
        tmp_path, fer_folder, {"class_path": "fer_lightning.models.regimes.Transfer"}, epochs=2
    )
    start, *after = snap.states
    for state in after:
        assert changed(start, state) == set()  # weights, running means/vars, batch counts


def test_transfer_trains_the_named_submodules(tmp_path: Path, fer_folder: Path) -> None:
    regime = {
        "class_path": "fer_lightning.models.regimes.Transfer",
        "init_args": {"trainable": BLOCK3},
    }
    snap = fit_with(tmp_path, fer_folder, regime, epochs=1)
    moved = changed(snap.states[0], snap.states[1])
    assert moved and all(k.startswith(tuple(f"{m}." for m in BLOCK3)) for k in moved)
    # BN of the trainable block updates its statistics; no other BN does.
    assert "features.17.running_mean" in moved
    assert "features.1.running_mean" not in moved


def test_finetune_unfreezes_at_the_configured_epoch_with_lower_lr(
    tmp_path: Path, fer_folder: Path
) -> None:
    regime = {
        "class_path": "fer_lightning.models.regimes.Finetune",
        "init_args": {"unfreeze_at_epoch": 1, "unfreeze": BLOCK3, "lr_ratio": 0.1},
    }
    snap = fit_with(tmp_path, fer_folder, regime, epochs=2)
    start, epoch0, epoch1 = snap.states
    assert changed(start, epoch0) == set()  # epoch 0: frozen
    moved = changed(epoch0, epoch1)  # epoch 1: block 3 trains, the rest stays
    assert moved and all(k.startswith(tuple(f"{m}." for m in BLOCK3)) for k in moved)
    assert "features.16.weight" in moved and "features.0.weight" not in moved
    assert len(snap.groups[0]) == 1  # the optimizer starts with the head only
    head_lr, block_lr = snap.groups[-1]
    assert block_lr == pytest.approx(0.1 * head_lr)


def test_finetune_from_the_first_epoch_trains_every_layer_at_a_scheduled_lower_rate(
    tmp_path: Path, fer_folder: Path
) -> None:
    """``unfreeze_at_epoch: 0`` with no ``unfreeze`` (the CK+ / FER2013 fine-tune experiments):
    every backbone layer moves in the first epoch, in a group at ``lr_ratio`` x the head's rate,
    and the learning-rate schedule lowers both groups alike."""
    regime = {
        "class_path": "fer_lightning.models.regimes.Finetune",
        "init_args": {"unfreeze_at_epoch": 0, "lr_ratio": 0.25},
    }
    schedule = ["--lr_scheduler=torch.optim.lr_scheduler.CosineAnnealingLR"]
    schedule.append("--lr_scheduler.T_max=2")
    snap = fit_with(tmp_path, fer_folder, regime, epochs=2, more=schedule)
    start, epoch0, _ = snap.states
    weights = {k for k in start if k.endswith(".weight")}
    assert weights and weights <= changed(start, epoch0)  # every layer moved in epoch 0
    (first_head, first_backbone), (head_lr, backbone_lr) = snap.groups[1], snap.groups[2]
    assert first_backbone == pytest.approx(0.25 * first_head)
    assert head_lr < first_head and backbone_lr == pytest.approx(0.25 * head_lr)


def test_keep_trainable_drops_frozen_parameters() -> None:
    model = FERClassifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    for p in model.backbone.parameters():
        p.requires_grad = False
    keep_trainable(optimizer)
    (group,) = optimizer.param_groups
    assert {id(p) for p in group["params"]} == {id(p) for p in model.head.parameters()}


def test_unknown_submodule_is_a_user_error() -> None:
    model = FERClassifier(backbone="resnet18", head="linear", in_chans=3)
    with pytest.raises(FERUserError, match="no submodule 'layer5'; its top-level ones are conv1"):
        Transfer(trainable=["layer5"]).freeze_before_training(model)
    with pytest.raises(FERUserError, match="lr_ratio > 0"):
        Finetune(lr_ratio=0)


@pytest.mark.filterwarnings("ignore:Checkpoint directory .* exists and is not empty")
def test_finetune_resumed_after_the_unfreeze_epoch_keeps_training_the_block(
    tmp_path: Path, fer_folder: Path
) -> None:
    """Resuming restores the second parameter group (BaseFinetuning) and unfreezes the block
    again, so it keeps training at its lower learning rate."""
    import os

    regime = {
        "class_path": "fer_lightning.models.regimes.Finetune",
        "init_args": {"unfreeze_at_epoch": 1, "unfreeze": BLOCK3, "lr_ratio": 0.1},
    }
    fit_with(tmp_path, fer_folder, regime, epochs=2)
    (run,) = (Path(os.environ["FER_RUNS_DIR"]) / "baseline_fer2013").iterdir()
    resumed = fit_with(
        tmp_path, fer_folder, regime, epochs=3, more=[f"--ckpt_path={run}/checkpoints/last.ckpt"]
    )
    assert len(resumed.groups[0]) == 2  # the block's group, restored from the checkpoint
    before, after = resumed.states[0], resumed.states[-1]
    moved = changed(before, after)
    assert "features.16.weight" in moved and "features.0.weight" not in moved
    head_lr, block_lr = resumed.groups[-1]
    assert block_lr == pytest.approx(0.1 * head_lr)


@pytest.mark.slow  # two fits, one stopped by SIGTERM
@pytest.mark.filterwarnings("ignore:Checkpoint directory .* exists and is not empty")
def test_finetune_stopped_in_an_epoch_after_the_unfreeze_resumes_training_the_block(
    tmp_path: Path, fer_folder: Path
) -> None:
    """A fit stopped by SIGTERM in the middle of an epoch after the unfreeze (the checkpoint
    GracefulStop writes) resumes there; Lightning calls no on_train_epoch_start for that epoch,
    and the block must train through the rest of it all the same, batch norm included."""
    import os

    from lightning.pytorch.utilities.exceptions import SIGTERMException

    regime = {
        "class_path": "fer_lightning.models.regimes.Finetune",
        "init_args": {"unfreeze_at_epoch": 1, "unfreeze": BLOCK3, "lr_ratio": 0.1},
    }
    stop = {"class_path": "tests.helpers.signals.SigtermAt", "init_args": {"epoch": 2, "batch": 0}}
    three_batches = ["--trainer.limit_train_batches=3"]
    with pytest.raises(SIGTERMException):  # stops after batch 0 of epoch 2
        fit_with(tmp_path, fer_folder, regime, epochs=3, more=three_batches, callbacks=[stop])
    (run,) = (Path(os.environ["FER_RUNS_DIR"]) / "baseline_fer2013").iterdir()
    resumed = fit_with(
        tmp_path, fer_folder, regime, epochs=3, more=[*three_batches, "--ckpt_path=last"]
    )
    before, after = resumed.states[0], resumed.states[-1]  # batches 1 and 2 of epoch 2
    moved = changed(before, after)
    assert {"features.16.weight", "features.17.running_mean"} <= moved
    assert "features.0.weight" not in moved and "features.1.running_mean" not in moved


def test_the_tables_describe_a_regime_with_the_callbacks_own_defaults() -> None:
    """docs/experiments.md and results/tables.md describe regimes from the config dict alone:
    a YAML that leaves a Finetune argument out must be described with the default it runs."""
    import inspect

    from fer_lightning.models.describe import FINETUNE_DEFAULTS, describe_regime

    defaults = {
        name: param.default
        for name, param in inspect.signature(Finetune).parameters.items()
        if param.default is not inspect.Parameter.empty
    }
    assert defaults == FINETUNE_DEFAULTS
    finetune = {"class_path": "fer_lightning.models.regimes.Finetune"}
    assert describe_regime({"trainer": {"callbacks": [finetune]}}) == (
        "fine-tune: backbone frozen; from epoch 10 all layers at 0.1 x lr"
    )
    transfer = {
        "class_path": "fer_lightning.models.regimes.Transfer",
        "init_args": {"trainable": ["norm"]},
    }
    assert describe_regime({"trainer": {"callbacks": [transfer]}}) == (
        "transfer: backbone frozen except norm"
    )
    assert describe_regime({}) == "every layer trains"
