"""Lightning's and jsonargparse's private parts are used through ``fer_lightning.upstream``
alone, and both libraries are bounded to versions the tests ran on."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import tomllib
from packaging.requirements import Requirement

import fer_lightning

PACKAGE = Path(fer_lightning.__file__).parent
ROOT = PACKAGE.parent

#: Private names of Lightning and jsonargparse objects that the package once used directly.
PRIVATE = re.compile(
    r"\._(set_seed|run_subcommand|get|data_fetcher|subcommands_action|name_parser_map|actions"
    r"|wandb_init|check_log_dir_exists|experiment|fs)\b|\b_trainer\b"
)


def test_libraries_with_private_parts_in_use_have_an_upper_bound() -> None:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for name in ("lightning", "jsonargparse"):
        requirement = next(Requirement(d) for d in dependencies if Requirement(d).name == name)
        assert any(s.operator in ("<", "<=") for s in requirement.specifier), requirement
        assert requirement.specifier.contains(version(name)), (name, version(name))


def test_private_parts_are_used_in_the_adapter_only() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "upstream.py" or "models" in path.relative_to(PACKAGE).parts:
            continue  # models/ is the LightningModule's own (self._trainer is its attribute)
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if PRIVATE.search(line) and "def _" not in line:
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not found, "\n".join(found)
