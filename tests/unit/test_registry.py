"""The backbone and head registries: one builder per name, what the docs say about each entry,
and the experiments table generated from them (its committed copy is checked by
``test_results.test_committed_tables_are_current``)."""

from __future__ import annotations

import pytest

from fer_lightning import experiments
from fer_lightning.errors import FERUserError
from fer_lightning.models import (
    FERClassifier,
    backbone_info,
    head_info,
    list_backbones,
    list_heads,
    register_backbone,
)
from fer_lightning.models.backbones import FAMILIES
from fer_lightning.registry import Info, Registry
from fer_lightning.results import experiments_table
from tests.helpers.paths import REPO

PACKAGE = REPO / "fer_lightning"


def test_a_taken_name_is_refused_and_the_first_builder_stays() -> None:
    registry: Registry[int, Info] = Registry("thing", "model.thing")
    registry.register("one", Info("own", "here", "the first"))(lambda: 1)
    with pytest.raises(ValueError, match="thing 'one' is registered already .*test_registry"):
        registry.register("one", Info("own", "here", "the second"))(lambda: 2)
    assert registry.build("one") == 1 and registry.info("one").summary == "the first"


def test_a_builder_without_a_name_is_registered_under_its_own() -> None:
    registry: Registry[int, Info] = Registry("thing", "model.thing")

    @registry.register(None, Info("own", "here", "named by its function"))
    def tiny_thing() -> int:
        return 3

    assert registry.names() == ["tiny_thing"] and registry.build("tiny_thing") == 3


def test_a_builtin_backbone_name_cannot_be_registered_again() -> None:
    with pytest.raises(ValueError, match="backbone 'resnet18' is registered already"):
        register_backbone(
            "resnet18", family="own", source="x", summary="x", in_chans=1, image_size=48
        )(lambda **_: None)
    assert backbone_info("resnet18").family == "torchvision"


def test_every_entry_says_what_the_docs_need() -> None:
    for name in list_backbones():
        info = backbone_info(name)
        assert info.family in FAMILIES and info.source and info.summary, name
        assert info.pretrained == (info.family != "own"), name
        assert info.in_chans in (1, 3) and info.image_size >= 48, name
    for name in list_heads():
        info = head_info(name)
        assert info.source and info.summary, name


def test_an_unknown_name_is_one_sentence_naming_the_config_key() -> None:
    with pytest.raises(FERUserError, match="model.backbone: unknown backbone 'resnet19'"):
        backbone_info("resnet19")
    with pytest.raises(FERUserError, match="model.head: unknown head 'conv'"):
        head_info("conv")


def test_no_module_reads_the_registry_internals() -> None:
    readers = [
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "._entries" in path.read_text() and path.name != "registry.py"
    ]
    assert readers == []


def test_the_table_counts_on_the_meta_device_what_a_real_build_has() -> None:
    known = experiments.list_experiments()
    exp = experiments_table.load("baseline_fer2013", known["baseline_fer2013"])
    config = experiments.load_config(known["baseline_fer2013"])["model"]
    assert exp.model.num_parameters() == FERClassifier(**config).num_parameters() == 1_672_287


def test_the_table_row_of_an_experiment_with_an_explicit_augmentation_list() -> None:
    known = experiments.list_experiments()
    name = next(
        n
        for n, path in known.items()
        if isinstance((experiments.load_config(path)["data"]["init_args"]).get("augment"), list)
    )
    text = experiments_table.render({name: known[name]})
    row = next(line for line in text.splitlines() if line.startswith(f"| `{name}`"))
    assert "x10 crops" not in row


def test_the_table_row_of_a_transfer_experiment() -> None:
    name = "vit_b16_fer2013"
    text = experiments_table.render({name: experiments.list_experiments()[name]})
    row = next(line for line in text.splitlines() if line.startswith(f"| `{name}`"))
    cells = [c.strip() for c in row.strip("|").split(" | ")]
    assert dict(zip(experiments_table.COLUMNS, cells, strict=True)) == {
        "experiment": f"`{name}`",
        "paper's result": "trinh2023: 69.00 % test",
        "data": "FER2013 `holdout`",
        "input": "224x224x3",
        "backbone (family: source)": "`vit_b16` (timm: vit_base_patch16_224)",
        "head": "`linear`",
        "initialisation": backbone_info("vit_b16").weights,
        "regime": "transfer: backbone frozen except blocks.11, norm",
        "epochs": "30",
        "batch": "32",
        "parameters (trainable at start)": "85,804,039 (7,094,791)",
        "run": f"`make train EXP={name}`",
    }
    assert "| `vit_b16` | timm | vit_base_patch16_224 |" in text
