"""``data.classes`` on every datamodule: only those classes, relabelled in the given order, any
synonym spelling; the subset's test images are the full test set's images of those classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fer_lightning.data import FER2013DataModule, FERPlusDataModule
from fer_lightning.errors import FERUserError
from tests.helpers.fakedata import write_ferplus


def _dm(cls: type, root: Path, **kwargs):
    dm = cls(data_dir=str(root), num_workers=0, **kwargs)
    dm.setup()
    return dm


def test_a_subset_keeps_those_classes_in_the_given_order(fer_folder: Path) -> None:
    full = _dm(FER2013DataModule, fer_folder)
    dm = _dm(FER2013DataModule, fer_folder, classes=["Neutral", "joy", "sad"])
    assert dm.class_names == ("neutral", "happy", "sad") and dm.num_classes == 3
    assert dm.dataset_classes == full.class_names
    for name in ("train", "val", "test"):
        old = full.splits[name]
        keep = np.isin(old.labels, [6, 3, 4])
        new = dm.splits[name]
        assert np.array_equal(new.images, old.images[keep])
        assert new.labels.tolist() == [{6: 0, 3: 1, 4: 2}[i] for i in old.labels[keep]]
    assert dm.class_weights().shape == (3,)


def test_the_same_classes_in_another_order_renumber_them(fer_folder: Path) -> None:
    order = ["neutral", "surprise", "sad", "happy", "fear", "disgust", "angry"]
    dm = _dm(FER2013DataModule, fer_folder, classes=order)
    full = _dm(FER2013DataModule, fer_folder)
    assert dm.class_names == tuple(order)
    new_of = {old: order.index(name) for old, name in enumerate(full.class_names)}
    assert dm.splits["test"].labels.tolist() == [new_of[i] for i in full.splits["test"].labels]


def test_vote_distributions_keep_the_kept_columns(tmp_path: Path, cache_dir: Path) -> None:
    write_ferplus(tmp_path)
    dm = _dm(FERPlusDataModule, tmp_path, mode="probability", classes=["happy", "neutral"])
    assert dm.class_names == ("happiness", "neutral")
    train = dm.splits["train"]
    assert train.targets is not None and train.targets.shape == (len(train), 2)
    np.testing.assert_allclose(train.targets.sum(axis=1), 1.0, rtol=1e-6)
    assert set(train.labels.tolist()) == {0, 1}
    assert (train.targets.argmax(axis=1) == train.labels).all()


@pytest.mark.parametrize(
    ("classes", "says"),
    [
        (["happy", "smirk"], "data.classes: 'smirk' is not a class of FER2013; FER2013's classes"),
        (["happy", "joy"], "data.classes names happy twice ('joy')"),
        (["happy"], "data.classes must keep at least two classes"),
        ([], "data.classes must keep at least two classes"),
    ],
)
def test_bad_class_lists_are_one_sentence(classes: list[str], says: str) -> None:
    with pytest.raises(FERUserError) as err:
        FER2013DataModule(classes=classes)
    assert says in str(err.value)
    assert "angry, disgust, fear, happy, sad, surprise, neutral" in str(err.value)
