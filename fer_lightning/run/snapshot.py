"""The run's config snapshots: ``config.yaml`` is the config the run started with and is never
overwritten; a later command on the run (a resumed fit, a test) writes its own config beside it
as ``config.resume-<n>.yaml`` / ``config.<subcommand>-<n>.yaml``, headed by the keys that
changed."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from lightning.pytorch.cli import SaveConfigCallback

from fer_lightning.run.layout import CONFIG_YAML, later_config

log = logging.getLogger("fer_lightning")


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(node, dict):
        return {prefix.rstrip("."): node}
    out: dict[str, Any] = {}
    for key, value in node.items():
        out |= _flatten(value, f"{prefix}{key}.")
    return out


def _show(value: Any, missing: object) -> str:
    if value is missing:
        return "(unset)"
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6)
    return text.removesuffix("\n").removesuffix("...").strip()


def config_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """``key: old -> new`` for every dotted key whose value differs."""
    old, new = _flatten(before), _flatten(after)
    missing = object()
    lines = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, missing), new.get(key, missing)
        if a != b:
            lines.append(f"{key}: {_show(a, missing)} -> {_show(b, missing)}")
    return lines


class KeepFirstConfig(SaveConfigCallback):
    """LightningCLI's config saving, except that a run directory's ``config.yaml`` is never
    overwritten: a resumed fit (``--ckpt_path last`` or a checkpoint of the run) writes its own
    config to ``config.resume-<n>.yaml`` (another subcommand on an existing run directory:
    ``config.<subcommand>-<n>.yaml``), whose first lines list the keys that changed."""

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        if self.already_saved or not self.save_to_log_dir:
            return super().setup(trainer, pl_module, stage)
        first = Path(trainer.log_dir) / CONFIG_YAML
        if not first.is_file():
            return super().setup(trainer, pl_module, stage)
        kind = "resume" if stage == "fit" else stage
        n = 1
        while later_config(first.parent, kind, n).exists():
            n += 1
        self.config_filename = later_config(first.parent, kind, n).name
        super().setup(trainer, pl_module, stage)
        if trainer.is_global_zero:
            self._annotate(first, first.parent / self.config_filename)

    @staticmethod
    def _annotate(first: Path, written: Path) -> None:
        try:
            changes = config_changes(
                yaml.safe_load(first.read_text()) or {}, yaml.safe_load(written.read_text()) or {}
            )
        except (OSError, yaml.YAMLError):
            return
        stamp = datetime.now().isoformat(timespec="seconds")
        header = [f"# {written.name}: the config of the command that continued this run at {stamp}"]
        header += [f"# {first.name} (kept) is the config the run started with; changed:"]
        header += [f"#   {line}" for line in changes] or ["#   nothing"]
        written.write_text("\n".join(header) + "\n" + written.read_text())
        log.info(
            "%s kept; this command's config: %s (%d key(s) changed)",
            first,
            written.name,
            len(changes),
        )
