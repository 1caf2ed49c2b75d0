"""Bad input to ``fer-lightning fit|validate|test|predict``, through the real CLI in a
subprocess: a non-zero exit, exactly one line on stderr (``fer-lightning: error: ...``) naming
the key, file or value and what would be valid, no traceback, nothing left in FER_RUNS_DIR.

All cases run in one ``tests/helpers/cli_driver.py`` process (one fork per case, so torch is
imported once); each fails before any training, on a tiny generated dataset.
Here: the fast tests; the others are in ``tests/slow/test_bad_input.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import yaml

from fer_lightning.main import main
from tests.helpers.bad_input import Case, fill, run_driver
from tests.helpers.fakedata import write_ckplus, write_fer2013_folder
from tests.helpers.paths import REPO


def _fit(exp: str = "baseline_fer2013", *extra: str) -> list[str]:
    return ["fit", "--exp", exp, "--data.data_dir={data}", "--data.num_workers=0", *extra]


FIT = _fit()
CK = _fit("cnn_ckplus")
UNSAFE = ["weights_only=False", "weights_only"]

CASES = [
    # item 10: data options, and their siblings
    Case("batch_size=0", [*FIT, "--data.batch_size=0"], ["data.batch_size", "positive", "0"]),
    Case("batch_size=-5", [*FIT, "--data.batch_size=-5"], ["data.batch_size", "-5"]),
    Case("val_fraction=1.5", [*FIT, "--data.val_fraction=1.5"], ["data.val_fraction", "1.5"]),
    Case("augment=foo", [*FIT, "--data.augment=foo"], ["data.augment", "'foo'", "qutub2023"]),
    Case("channels=2", [*FIT, "--data.channels=2"], ["data.channels", "1", "3", "got 2"]),
    Case(
        "image_size=0",
        [*FIT, "--data.image_size=0"],
        ["data.image_size", "got 0"],
        never=["tta_crop_size"],
    ),
    Case("num_workers=-1", [*FIT, "--data.num_workers=-1"], ["data.num_workers", "-1"]),
    Case("mean has 2 values", [*FIT, "--data.mean=[0.5,0.5]"], ["data.mean", "3"]),
    Case("std=0", [*FIT, "--data.std=0"], ["data.std", "positive"]),
    Case("tta_crop_size>image_size", [*FIT, "--data.tta_crop_size=100"], ["tta_crop_size", "48"]),
    Case("split=foo", [*FIT, "--data.split=foo"], ["data.split", "'foo'", "official"]),
    Case("batch_size=abc", [*FIT, "--data.batch_size=abc"], ["data.batch_size", "'abc'", "int"]),
    Case("ck+ fold=7", [*CK, "--data.fold=7"], ["data.fold", "0..4", "7"]),
    Case("ck+ num_folds=1", [*CK, "--data.num_folds=1"], ["data.num_folds", "2"]),
    # data.distill (teachers from the repository's zoo)
    Case(
        "distill weight=2",
        [*FIT, "--data.distill={teachers: [ours_fer2013/official-60ep], weight: 2}"],
        ["data.distill.weight", "got 2"],
    ),
    Case(
        "distill unknown teacher",
        [*FIT, "--data.distill={teachers: [ours_fer2013/nope]}"],
        ["data.distill.teachers", "ours_fer2013/nope", "zoo model"],
    ),
    Case(
        "distill teacher lacks a class",
        [*CK, "--data.distill={teachers: [ours_fer2013/official-60ep]}"],
        ["ours_fer2013/official-60ep", "no class contempt"],
    ),
    Case(
        "distill with multi_target",
        [
            *FIT,
            "--model.loss=multi_target",
            "--data.distill={teachers: [ours_fer2013/official-60ep]}",
        ],
        ["model.loss multi_target", "data.distill"],
    ),
    # model and trainer options
    Case("backbone=foo", [*FIT, "--model.backbone=foo"], ["model.backbone", "'foo'", "resnet18"]),
    Case(
        "head_kwargs typo",
        [*FIT, "--model.head_kwargs={hiden: [3]}"],
        ["model.head_kwargs", "hiden"],
    ),
    Case("label_smoothing=2", [*FIT, "--model.label_smoothing=2"], ["model.label_smoothing"]),
    Case("max_epochs=-2", [*FIT, "--trainer.max_epochs=-2"], ["max_epochs", "-2"]),
    Case("accelerator=gpu", [*FIT, "--trainer.accelerator=gpu"], ["trainer", "gpu"]),
    Case("wandb_mode=foo", [*FIT, "--wandb_mode=foo"], ["wandb_mode", "'foo'", "offline"]),
    Case("optimizer lr=x", [*FIT, "--optimizer.lr=x"], ["optimizer.lr", "'x'", "float"]),
    # item 13: mistyped keys, with the closest valid key and the file they came from
    Case(
        "--data.batchsize",
        [*FIT, "--data.batchsize=32"],
        ["data.batchsize", "did you mean --data.batch_size?"],
    ),
    Case(
        "--trainer.max_epohcs",
        [*FIT, "--trainer.max_epohcs=3"],
        ["trainer.max_epohcs", "did you mean --trainer.max_epochs?"],
    ),
    Case("--optimizer.lrr", [*FIT, "--optimizer.lrr=1"], ["did you mean --optimizer.lr?"]),
    Case(
        "meen: in a YAML",
        [*FIT, "--config", "{typo_data}"],
        ["data.meen", "{typo_data}", "did you mean --data.mean?"],
    ),
    Case(
        "max_epoch: in a YAML",
        [*FIT, "--config", "{typo_trainer}"],
        ["trainer.max_epoch", "{typo_trainer}", "did you mean --trainer.max_epochs?"],
    ),
    Case("broken YAML", [*FIT, "--config", "{broken}"], ["{broken}", "YAML"]),
    Case("missing YAML", [*FIT, "--config", "{missing}"], ["{missing}", "does not exist"]),
    Case("unknown subcommand", ["fitt", "--exp", "baseline_fer2013"], ["fitt", "fit"]),
    Case("unknown experiment", ["fit", "--exp", "nope"], ["nope", "baseline_fer2013"]),
    # item 11: --ckpt_path that is not a Lightning checkpoint, for every subcommand
    Case(
        "fit: missing ckpt",
        [*FIT, "--ckpt_path={missing}"],
        ["{missing}", "is neither a file nor a zoo model"],
    ),
    Case(
        "fit: text ckpt",
        [*FIT, "--ckpt_path={text}"],
        ["{text}", "PyTorch checkpoint"],
        never=UNSAFE,
    ),
    Case("fit: state dict", [*FIT, "--ckpt_path={state}"], ["{state}", "state_dict"]),
    Case(
        "fit: another model's ckpt",
        [*FIT, "--ckpt_path={other_model}"],
        ["{other_model}", "resnet18", "baseline_cnn"],
    ),
    Case(
        "test: another model's ckpt",
        [
            "test",
            "--exp",
            "baseline_fer2013",
            "--data.data_dir={data}",
            "--ckpt_path={other_model}",
        ],
        ["{other_model}", "resnet18", "baseline_cnn"],
    ),
    Case(
        "test: text ckpt",
        ["test", "--exp", "baseline_fer2013", "--data.data_dir={data}", "--ckpt_path={text}"],
        ["{text}", "PyTorch checkpoint"],
        never=UNSAFE,
    ),
    Case(
        "test: state dict",
        ["test", "--exp", "baseline_fer2013", "--data.data_dir={data}", "--ckpt_path={state}"],
        ["{state}", "state_dict"],
    ),
    Case(
        "validate: missing ckpt",
        ["validate", "--exp", "baseline_fer2013", "--ckpt_path={missing}"],
        ["{missing}", "is neither a file nor a zoo model"],
    ),
    Case(
        "predict: empty ckpt",
        ["predict", "--exp", "baseline_fer2013", "--ckpt_path={empty_file}"],
        ["{empty_file}", "empty"],
    ),
    Case(
        "test: --ckpt_path last",
        ["test", "--exp", "baseline_fer2013", "--ckpt_path=last"],
        ["--ckpt_path last", "'test'", "checkpoint file"],
    ),
    Case(
        "test: --ckpt_path '' (an unset shell variable)",
        ["test", "--exp", "baseline_fer2013", "--ckpt_path="],
        ["--ckpt_path is empty", "checkpoint file"],
    ),
    Case(
        "fit: --ckpt_path ''",
        ["fit", "--exp", "baseline_fer2013", "--ckpt_path", ""],
        ["--ckpt_path is empty"],
    ),
    Case(
        "validate: --ckpt_path best",
        ["validate", "--exp", "baseline_fer2013", "--ckpt_path=best"],
        ["--ckpt_path best", "'validate'"],
    ),
    # item 12: FER_RUNS_DIR / --run_dir that cannot be written
    Case(
        "FER_RUNS_DIR is a file",
        FIT,
        ["FER_RUNS_DIR", "{text}", "not a folder"],
        env={"FER_RUNS_DIR": "{text}"},
    ),
    Case(
        "FER_RUNS_DIR unwritable",
        FIT,
        ["FER_RUNS_DIR", "{unwritable}"],
        env={"FER_RUNS_DIR": "{unwritable}"},
    ),
    Case("--run_dir is a file", [*FIT, "--run_dir={text}"], ["--run_dir", "{text}"]),
    # item 14: a data root that does not hold the dataset says what it looked for
    Case(
        "FER2013: empty data root",
        [*FIT, "--data.data_dir={empty_dir}"],
        ["{empty_dir}/fer2013/", "train/", "test/", "fer2013.csv", "FER_DATA_DIR"],
    ),
    Case(
        "FER2013: missing data root",
        [*FIT, "--data.data_dir={missing}"],
        ["{missing}", "fer2013/", "train/", "fer2013.csv"],
    ),
    Case(
        "FER2013: no test/",
        [*FIT, "--data.data_dir={train_only}"],
        ["{train_only}/fer2013", "test/", "fer2013.csv"],
    ),
    Case(
        "CK+: empty data root",
        [*CK, "--data.data_dir={empty_dir}"],
        ["{empty_dir}/ckplus/", "anger", "class folders"],
    ),
    Case(
        "CK+: data root is FER2013's",
        [*CK, "--data.data_dir={data}/fer2013"],
        ["{data}/fer2013/ckplus/", "no CK+ class folder", "test, train"],
    ),
    Case(
        "RAF-DB: empty data root",
        [
            "fit",
            "--exp",
            "resnet18_rafdb",
            "--data.data_dir={empty_dir}",
            "--model.pretrained=false",
        ],
        ["{empty_dir}/rafdb/basic/", "list_patition_label.txt", "Image/aligned"],
    ),
    # A name is a name: none leaves the runs folder (siblings in tests/unit/test_names.py).
    Case("--experiment ../../x", [*FIT, "--experiment=../../x"], ["--experiment", "'../../x'"]),
    Case("--experiment /abs", [*FIT, "--experiment=/tmp/x"], ["--experiment", "'/tmp/x'"]),
    Case(
        "experiment key",
        [*FIT, "--config={escaping_config}"],
        ["experiment key", "'../escaped'", "plain name"],
    ),
    # model.init_from: a source that is not there or does not fit (siblings in test_init_from)
    Case(
        "init_from: unknown zoo name",
        [*FIT, "--model.init_from=ours_fer2013/nosuch"],
        ["'ours_fer2013/nosuch'", "zoo model", "did you mean", "fer-lightning models"],
    ),
    Case(
        "init_from: another backbone",
        [*CK, "--model.init_from=ours_fer2013/official-60ep"],
        ["ours_fer2013/official-60ep", "'baseline_cnn'", "'almsari2024_cnn'", "model.backbone"],
    ),
    Case(
        "init_from: other layer widths",
        [*FIT, "--model.init_from=ours_fer2013/official-60ep"],
        ["ours_fer2013/official-60ep", "model.backbone_kwargs", "[32, 64, 128, 256]"],
    ),
    Case(
        "init_head: unknown",
        [*FIT, "--model.init_head=keep"],
        ["model.init_head", "match, new", "'keep'"],
    ),
    Case(
        "no optimizer",
        ["fit", "--config={no_optimizer}", "--data.data_dir={data}", "--data.num_workers=0"],
        ["fit needs an optimizer", "{no_optimizer}", "--optimizer=Adam"],
    ),
]


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The files and folders the cases point at."""
    tmp = tmp_path_factory.mktemp("bad_input")
    data = tmp / "data"
    write_fer2013_folder(data, per_class={"Training": 2, "PublicTest": 1, "PrivateTest": 1})
    write_ckplus(data, subjects=5, frames=1)
    train_only = tmp / "train_only"
    (train_only / "fer2013" / "train").mkdir(parents=True)
    (tmp / "empty_dir").mkdir()
    (tmp / "text.ckpt").write_text("not a checkpoint\n")
    (tmp / "empty.ckpt").write_bytes(b"")
    torch.save({"w": torch.zeros(2)}, tmp / "state.pt")
    other = {"backbone": "resnet18", "head": "linear", "num_classes": 7}
    torch.save(
        {"state_dict": {}, "pytorch-lightning_version": "2.6.6", "hyper_parameters": other},
        tmp / "resnet18.ckpt",
    )
    (tmp / "typo_data.yaml").write_text("data:\n  init_args:\n    meen: 0.5\n")
    (tmp / "typo_trainer.yaml").write_text("trainer:\n  max_epoch: 3\n")
    (tmp / "broken.yaml").write_text("data: [1, 2\n  x: {\n")
    (tmp / "escaping.yaml").write_text("experiment: ../escaped\n")
    no_optimizer = yaml.safe_load((REPO / "experiments" / "baseline_fer2013.yaml").read_text())
    no_optimizer.pop("optimizer")
    no_optimizer.pop("lr_scheduler", None)
    (tmp / "no_optimizer.yaml").write_text(yaml.safe_dump(no_optimizer))
    if os.geteuid() == 0:  # root writes anywhere a folder is; /proc takes no new folders
        unwritable = "/proc/fer-lightning-runs"
    else:
        (tmp / "read_only").mkdir(mode=0o555)
        unwritable = str(tmp / "read_only" / "runs")
    return {
        "data": str(data),
        "train_only": str(train_only),
        "empty_dir": str(tmp / "empty_dir"),
        "missing": str(tmp / "missing"),
        "text": str(tmp / "text.ckpt"),
        "empty_file": str(tmp / "empty.ckpt"),
        "state": str(tmp / "state.pt"),
        "other_model": str(tmp / "resnet18.ckpt"),
        "typo_data": str(tmp / "typo_data.yaml"),
        "typo_trainer": str(tmp / "typo_trainer.yaml"),
        "broken": str(tmp / "broken.yaml"),
        "escaping_config": str(tmp / "escaping.yaml"),
        "no_optimizer": str(tmp / "no_optimizer.yaml"),
        "unwritable": unwritable,
        "runs": str(tmp / "runs"),
        "cache": str(tmp / "cache"),
    }


@pytest.fixture(scope="module")
def results(places: dict[str, str]) -> dict[str, dict]:
    """Every case run once, in one driver process."""
    return run_driver(CASES, places)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_sentence(
    case: Case, results: dict[str, dict], places: dict[str, str]
) -> None:
    result = results[case.id]
    lines = result["stderr"].splitlines()
    assert result["rc"] != 0, result["stderr"]
    assert "Traceback" not in result["stderr"], result["stderr"]
    assert len(lines) == 1 and lines[0].startswith("fer-lightning: error: "), result["stderr"]
    for text in case.says:
        assert fill(text, places) in lines[0]
    for text in case.never:
        assert text not in lines[0]
    runs = Path(places["runs"]) / case.id.replace(" ", "_").replace("/", "_")
    assert list(runs.iterdir()) == [], "left behind in FER_RUNS_DIR"


def test_help_still_prints_the_full_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--help"])
    assert exit_info.value.code in (0, None)
    out = capsys.readouterr().out
    assert "--trainer.max_epochs" in out and "--data.init_args.batch_size" not in out


# ------------------------------------------------------------- item 9: nothing left behind
def test_a_data_error_after_the_run_started_leaves_no_run_and_no_wandb_run(
    fer_folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unreadable image is found only when the data is decoded, after the run directory and
    the offline W&B run exist: both are removed."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    bad = next((fer_folder / "fer2013" / "train" / "happy").iterdir())
    bad.write_bytes(b"not a jpeg")
    rc = main(
        [
            "fit",
            "--exp",
            "baseline_fer2013",
            f"--data.data_dir={fer_folder}",
            "--data.num_workers=0",
            "--trainer.max_epochs=1",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "unreadable image" in err and bad.name in err
    assert list(Path(os.environ["FER_RUNS_DIR"]).iterdir()) == []
