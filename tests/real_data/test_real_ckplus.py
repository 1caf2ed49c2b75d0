"""On the real CK+48 in ``$FER_DATA_DIR/ckplus`` (CI points it at ../shared/datasets).

Real CK+ has split sizes that generated data does not: some folds leave a last training batch
of one image at the shipped batch size, which BatchNorm cannot train on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from fer_lightning import experiments
from fer_lightning.data import CKPlusDataModule
from fer_lightning.main import main

REAL_CKPLUS = Path(os.environ.get("FER_DATA_DIR", "data")) / "ckplus"

pytestmark = [
    pytest.mark.real_data,
    pytest.mark.skipif(not REAL_CKPLUS.is_dir(), reason="real CK+48 not under $FER_DATA_DIR"),
]

SHIPPED = yaml.safe_load(experiments.resolve("cnn_ckplus").read_text())["data"]["init_args"]
FOLDS = [(split, fold) for split in ("subject", "random") for fold in range(5)]


def _module(split: str, fold: int) -> CKPlusDataModule:
    dm = CKPlusDataModule(
        data_dir=str(REAL_CKPLUS.parent),
        split=split,
        fold=fold,
        num_folds=SHIPPED["num_folds"],
        batch_size=SHIPPED["batch_size"],
        num_workers=0,
        augment="none",
    )
    dm.setup()
    return dm


def test_every_image_is_in_exactly_one_test_fold() -> None:
    for split in ("subject", "random"):
        sizes = [len(_module(split, fold).splits["test"]) for fold in range(5)]
        assert sum(sizes) == 981, split


@pytest.mark.parametrize(("split", "fold"), FOLDS)
def test_no_training_batch_of_one_at_the_shipped_batch_size(split: str, fold: int) -> None:
    batch_sizes = [len(b) for b in _module(split, fold).train_dataloader().batch_sampler]
    assert min(batch_sizes) >= 2, (split, fold, batch_sizes[-3:])


@pytest.mark.slow
@pytest.mark.parametrize(("split", "fold"), [("random", 0), ("subject", 2)])
def test_shipped_experiment_trains_an_epoch(split: str, fold: int) -> None:
    """The two folds that crashed in BatchNorm1d (a last batch of one image)."""
    rc = main(
        [
            "fit",
            "--exp",
            "cnn_ckplus",
            f"--data.data_dir={REAL_CKPLUS.parent}",
            f"--data.split={split}",
            f"--data.fold={fold}",
            "--data.num_workers=0",
            "--trainer.max_epochs=1",
            "--trainer.enable_progress_bar=false",
            "--test_after_fit=false",
        ]
    )
    assert rc == 0
