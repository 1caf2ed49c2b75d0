"""``fer_lightning.build``: the objects ``fit`` would use, made by its own LightningCLI class."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fer_lightning.build import build, settings
from fer_lightning.cli import FERLightningCLI
from fer_lightning.errors import FERUserError
from fer_lightning.run.layout import INHERITED_RUN_DIR_ENV


def test_build_links_the_data_to_the_model_and_makes_no_run() -> None:
    built = build("cnn_ckplus", ["--data.channels=3", "--data.image_size=40"])
    dm, model = built.datamodule, built.model
    assert type(dm).__name__ == "CKPlusDataModule" and built.name == "cnn_ckplus"
    assert model.hparams.num_classes == dm.num_classes == len(dm.class_names)
    assert model.class_names == list(dm.class_names)
    assert (model.hparams.in_chans, model.hparams.image_size) == (3, 40)
    assert built.config.trainer.max_epochs == built.trainer.max_epochs
    assert built.trainer.logger is None  # nothing to log into
    assert not any(Path(os.environ["FER_RUNS_DIR"]).iterdir())
    assert INHERITED_RUN_DIR_ENV not in os.environ
    assert callable(model.configure_optimizers)  # the config's optimizer, as in fit


def test_another_data_class_keeps_the_settings_it_accepts() -> None:
    built = build("baseline_fer2013", ["--data=fer_lightning.data.CKPlusDataModule"])
    assert type(built.datamodule).__name__ == "CKPlusDataModule"
    assert built.datamodule.batch_size == 64 and built.datamodule.tta == "ten_crop"
    assert built.model.class_names == list(built.datamodule.class_names)


def test_settings_parse_without_building(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FERLightningCLI, "instantiate_trainer", None)  # never reached
    fit = settings("cnn_ckplus", ["--data.num_folds=3", "--experiment=mine"])
    assert fit.name == "mine"
    assert fit.config.data.init_args.num_folds == 3
    assert fit.config.data.init_args.fold == 0  # the class's default, filled in
    assert str(fit.config.data.class_path).endswith("CKPlusDataModule")


def test_a_bad_override_is_the_fit_commands_one_sentence() -> None:
    with pytest.raises(FERUserError, match="data.batchsize"):
        settings("baseline_fer2013", ["--data.batchsize=3"])
