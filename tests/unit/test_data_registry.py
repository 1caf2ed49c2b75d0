"""The dataset registry: every dataset module registers its datamodule, which is then importable
from ``fer_lightning.data`` and known to the audit and to cross-dataset class matching."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

import fer_lightning.data
from fer_lightning.data import FER7, FERDataModule, registry
from fer_lightning.errors import DataError
from tests.helpers import fakedata


@pytest.fixture
def scratch_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations made by a test are forgotten after it."""
    monkeypatch.setattr(registry, "_DATASETS", dict(registry._DATASETS))


def exported_datasets() -> list[str]:
    """The names of the datamodules ``fer_lightning.data`` exports (what configs name)."""
    exported = [getattr(fer_lightning.data, n) for n in fer_lightning.data.__all__]
    return sorted(
        c.name for c in exported if isinstance(c, type) and issubclass(c, FERDataModule) and c.name
    )


def test_the_datasets_are_registered() -> None:
    assert registry.names() == exported_datasets()
    assert {"ckplus", "fer2013", "ferplus", "rafdb"} <= set(registry.names())
    assert registry.synonyms() == {"anger": "angry", "sadness": "sad", "happiness": "happy"}


@pytest.mark.parametrize("name", registry.names())
def test_a_registered_dataset_is_complete(name: str) -> None:
    cls = registry.get(name)
    assert getattr(fer_lightning.data, cls.__name__) is cls  # configs' class path
    assert cls.__name__ in fer_lightning.data.__all__
    assert cls.class_names and cls.folder and cls.title and cls.layout
    assert cls.listing is not FERDataModule.listing
    assert cls.load_splits is not FERDataModule.load_splits
    assert callable(fakedata.dataset_writer(name))  # its test data, for every-dataset tests


def test_a_new_datasets_generator_is_found_in_its_own_test_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def write_newset(root: Path) -> Path:
        return root / "newset"

    module = types.ModuleType("tests.unit.test_newset")
    module.write_newset = write_newset  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tests.unit.test_newset", module)
    assert fakedata.dataset_writer("newset") is write_newset
    with pytest.raises(LookupError, match="tests/unit/test_nosuch.py"):
        fakedata.dataset_writer("nosuch")


def test_unknown_dataset_is_a_data_error() -> None:
    known = ", ".join(registry.names())
    with pytest.raises(DataError, match=f"unknown dataset 'nope'; known: {known}$"):
        registry.get("nope")


def test_a_subclass_without_a_name_is_no_dataset(scratch_registry: None) -> None:
    before = registry.names()

    class Helper(FERDataModule):
        class_names = FER7

    class Variant(registry.get("fer2013")):
        pass

    assert registry.names() == before


def test_a_new_dataset_registers_itself(scratch_registry: None) -> None:
    class Toy(FERDataModule):
        name = "toy"
        class_names = ("joyful", "other")
        synonyms = {"joyful": "happy"}

    assert registry.get("toy") is Toy
    assert registry.synonyms()["joyful"] == "happy"


def test_bad_registrations_are_refused(scratch_registry: None) -> None:
    with pytest.raises(ValueError, match="registered twice"):

        class Again(FERDataModule):
            name = "ckplus"

    with pytest.raises(ValueError, match="'cheerful' is not one of its class names"):

        class Stray(FERDataModule):
            name = "stray"
            class_names = FER7
            synonyms = {"cheerful": "happy"}

    with pytest.raises(ValueError, match="another dataset says 'angry'"):

        class Clash(FERDataModule):
            name = "clash"
            class_names = ("anger",)
            synonyms = {"anger": "fear"}
