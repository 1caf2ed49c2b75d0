"""Cross-dataset evaluation: a FER2013 checkpoint tested on CK+, classes mapped by name.

Here: the fast tests; the others are in ``tests/slow/test_cross_dataset.py``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fer_lightning.data import FER7, CKPlusDataModule, FER2013DataModule, registry
from fer_lightning.data.ckplus import CKPLUS7
from fer_lightning.data.labels import canonical
from fer_lightning.errors import FERUserError
from fer_lightning.evaluation import crossdataset
from fer_lightning.evaluation.crossdataset import ClassMapping
from fer_lightning.models.classifier import FERClassifier, SelectLogits
from tests.helpers.fakedata import write_ckplus


def test_mapping_fer_model_on_ckplus_data() -> None:
    m = ClassMapping.build(FER7, CKPLUS7)
    assert m.shared == ["angry", "disgust", "fear", "happy", "sad", "surprise"]
    assert m.model_index == [0, 1, 2, 3, 4, 5]
    assert m.data_index == [0, 2, 3, 4, 5, 6]  # anger, disgust, fear, happy, sadness, surprise
    assert (m.model_only, m.data_only) == (["neutral"], ["contempt"])
    keep, labels = m.relabel(np.arange(7))
    assert keep.tolist() == [0, 2, 3, 4, 5, 6]  # contempt (1) dropped
    for old, new in zip(keep, labels, strict=True):
        assert canonical(CKPLUS7[old]) == m.shared[new]
    assert "dataset-only contempt (images removed)" in m.describe()


def test_mapping_ckplus_model_on_fer_data_keeps_model_order() -> None:
    m = ClassMapping.build(CKPLUS7, FER7)
    assert m.shared == ["anger", "disgust", "fear", "happy", "sadness", "surprise"]
    assert m.model_index == [0, 2, 3, 4, 5, 6]
    assert m.data_index == [0, 1, 2, 3, 4, 5]
    assert (m.model_only, m.data_only) == (["contempt"], ["neutral"])


def test_no_shared_class_is_a_user_error() -> None:
    with pytest.raises(FERUserError, match="no class in common"):
        ClassMapping.build(["cat", "dog"], FER7)


def test_select_logits() -> None:
    logits = torch.arange(14.0).reshape(2, 7)
    out = SelectLogits([0, 2, 6])(logits)
    assert out.tolist() == [[0.0, 2.0, 6.0], [7.0, 9.0, 13.0]]


def test_restricted_outputs_are_the_trained_ones() -> None:
    model = FERClassifier(class_names=list(FER7)).eval()
    x = torch.rand(2, 1, 48, 48)
    with torch.no_grad():
        full = model(x)
        model.restrict_outputs([6, 0], ["neutral", "angry"])
        torch.testing.assert_close(model(x), full[:, [6, 0]])
    assert model.class_names == ["neutral", "angry"]
    assert (model.hparams.num_classes, model.hparams.class_names) == (2, ["neutral", "angry"])
    assert model.loss_weight.shape == (2,)
    assert model.metrics["test_"]["confusion"].num_classes == 2


def test_every_dataset_class_has_one_canonical_name() -> None:
    """Each registered dataset's class names stay distinct once synonyms are resolved."""
    for cls in registry.datamodules():
        names = [canonical(c) for c in cls.class_names]
        assert len(set(names)) == len(names), (cls.name, names)
    assert canonical(" Anger") == "angry" and canonical("joy") == "happy"


def test_same_classes_take_the_ordinary_path(tmp_path: Path, fer_folder: Path) -> None:
    ckpt = tmp_path / "fer.ckpt"
    torch.save({"hyper_parameters": {"class_names": list(FER7)}}, ckpt)
    dm = FER2013DataModule(data_dir=str(fer_folder))
    model = FERClassifier(class_names=list(FER7))
    assert crossdataset.prepare(model, dm, str(ckpt), None) is None
    assert dm.splits is None  # untouched: Lightning loads the checkpoint as usual


def _save_checkpoint(model: FERClassifier, path: Path) -> Path:
    """A checkpoint as Lightning writes it (weights + hyper-parameters), without training."""
    import lightning

    torch.save(
        {
            "state_dict": model.state_dict(),
            "hyper_parameters": dict(model.hparams),
            "pytorch-lightning_version": lightning.__version__,
        },
        path,
    )
    return path


def test_data_input_follows_the_checkpoint_and_head_is_kept(
    tmp_path: Path, cache_dir: Path
) -> None:
    write_ckplus(tmp_path / "data", subjects=5, frames=1)
    trained = FERClassifier(class_names=list(FER7), in_chans=3, image_size=40)
    ckpt = _save_checkpoint(trained, tmp_path / "rgb.ckpt")
    dm = CKPlusDataModule(data_dir=str(tmp_path / "data"), channels=1, image_size=48)
    linked = FERClassifier(class_names=list(CKPLUS7))  # what LightningCLI linked from the data
    model = crossdataset.prepare(linked, dm, str(ckpt), tmp_path / "run")
    assert (dm.channels, dm.image_size) == (3, 40)
    assert model.class_names == ["angry", "disgust", "fear", "happy", "sad", "surprise"]
    assert set(np.unique(np.concatenate([s.labels for s in dm.splits.values()]))) == set(range(6))
    x, _ = next(iter(dm.test_dataloader()))
    assert tuple(x.shape[1:]) == (3, 40, 40)
    trained.eval()
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x), trained(x)[:, :6])  # FER7 minus neutral (last)
    assert (tmp_path / "run" / "cross_dataset.json").is_file()
