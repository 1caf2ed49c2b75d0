"""Bad command lines and bad settings of ``fer-lightning fit|validate|test|predict`` as one
sentence, checked before a run directory, a W&B run or any data exists.

- :class:`FERArgumentParser`: jsonargparse's errors (an unknown key, a value of the wrong type)
  as one sentence naming the key, the closest valid key and the YAML file the key came from,
  instead of a 120-line usage dump (``--help`` still prints the usage).
- :func:`check_ckpt_path`: ``--ckpt_path`` must be a Lightning checkpoint, refused with the
  sentence ``recognize`` gives before Lightning would load it.
- :func:`user_error_of`: a user error raised while the classes are instantiated (buried by
  jsonargparse inside chained tracebacks, or a Lightning ``MisconfigurationException`` of a
  ``--trainer.*`` value) as the one sentence it carries.
- :class:`RemoveOnFailure`: a run that fails before its data is loaded leaves nothing behind.
- :class:`KeepFirstConfig`: resuming keeps the run's ``config.yaml``; the resumed command's
  config goes beside it as ``config.resume-<n>.yaml``, headed by what changed.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import os
import re
import shutil
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import yaml
from lightning.pytorch.cli import LightningArgumentParser, SaveConfigCallback

from fer_lightning.errors import FERUserError
from fer_lightning.run_layout import CONFIG_YAML, missing_dirs, remove_empty

#: ``--ckpt_path`` values Lightning resolves itself (no file to check).
SPECIAL_CKPT = ("last", "best", "hpc")


# --------------------------------------------------------------------------- parser errors
class FERArgumentParser(LightningArgumentParser):
    """LightningCLI's parser; its errors are one :class:`FERUserError` sentence."""

    #: The command line being parsed (set by the CLI), to tell a key typed there from one
    #: read from a ``--config`` YAML.
    cli_args: list[str] | None = None
    cli_cwd: str = "."

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        if not self.exit_on_error:  # jsonargparse is trying alternatives; it catches this
            super().error(message, ex)
        subparser = getattr(ex, "subcommand_parser", None)
        args = self.cli_args or []
        raise FERUserError(one_sentence(message, subparser or self, args, self.cli_cwd))


def set_cli_args(parser: Any, args: Any) -> None:
    """Tell ``parser`` and its subcommands' parsers the command line they parse."""
    parser.cli_args = list(args) if isinstance(args, (list, tuple)) else sys.argv[1:]
    # jsonargparse works in a config file's folder while it parses that file: relative paths
    # of the command line are relative to this one.
    parser.cli_cwd = os.getcwd()
    subcommands = getattr(parser, "_subcommands_action", None)
    if subcommands is not None:
        for sub in subcommands._name_parser_map.values():
            set_cli_args(sub, parser.cli_args)


def _config_files(args: list[str], cwd: str) -> list[Path]:
    """The ``--config`` files of ``args`` (relative ones as seen from ``cwd``), as given."""
    files = []
    for i, arg in enumerate(args):
        if arg in ("--config", "-c") and i + 1 < len(args):
            files.append(Path(args[i + 1]))
        elif arg.startswith("--config="):
            files.append(Path(arg.split("=", 1)[1]))
    return files


def _read(path: Path, cwd: str) -> str:
    return (Path(cwd) / path).read_text()


def _flat_keys(node: Any, prefix: str = "") -> list[str]:
    """Dotted keys of a config mapping, ``init_args`` levels dropped (``data.batch_size``)."""
    if not isinstance(node, dict):
        return []
    keys = []
    for key, value in node.items():
        if key == "init_args":
            keys += _flat_keys(value, prefix)
            continue
        if key == "class_path":
            continue
        dotted = f"{prefix}{key}"
        keys.append(dotted)
        keys += _flat_keys(value, f"{dotted}.")
    return keys


def _source(key: str, args: list[str], cwd: str) -> str:
    """Where ``key`` was set: ``--key`` on the command line, else the first ``--config`` YAML
    that sets it; ``""`` when neither says."""
    if any(re.match(rf"--{re.escape(key)}(=|$)", a) for a in args):
        return ""
    for path in _config_files(args, cwd):
        try:
            keys = _flat_keys(yaml.safe_load(_read(path, cwd)))
        except (OSError, yaml.YAMLError):
            continue
        if key in keys:
            return str(path)
    return ""


def _parser_keys(parser: Any) -> list[str]:
    """Every dotted key ``parser`` accepts, those of its subcommands' parsers included."""
    keys = [a.dest for a in parser._actions if a.dest and not a.dest.endswith("help")]
    subcommands = getattr(parser, "_subcommands_action", None)
    if subcommands is not None:
        for sub in subcommands._name_parser_map.values():
            keys += _parser_keys(sub)
    return keys


def _class_keys(class_path: str) -> list[str]:
    """The init arguments of ``class_path`` as jsonargparse sees them (inherited ones too)."""
    import importlib

    from jsonargparse import ArgumentParser

    module, _, name = class_path.rpartition(".")
    try:
        parser = ArgumentParser(exit_on_error=False)
        parser.add_class_arguments(getattr(importlib.import_module(module), name))
    except Exception:  # noqa: BLE001 - only for a suggestion; no suggestion then
        return []
    return [a.dest for a in parser._actions if not a.dest.endswith("help")]


def _suggest(key: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(key, sorted(set(valid)), n=1, cutoff=0.6)
    return f"; did you mean --{close[0]}?" if close else "; see --help for the valid keys"


def _expected(message: str) -> str:
    """What the innermost errors of a jsonargparse message say they expected."""
    found: list[str] = []
    for literal in re.findall(r"Expected a typing\.Literal\[([^\]]*)\]", message):
        found.append("one of " + ", ".join(v.strip(" '\"") for v in literal.split(",")))
    for name in re.findall(r"Expected a <class '([\w.]+)'>", message):
        if name != "NoneType":  # null is seldom what was meant
            found.append(name.rsplit(".", 1)[-1])
    if "Expected a dot import path string" in message:
        found.append("a class path")
    unique = list(dict.fromkeys(found))
    return " or ".join(unique)


def _given(message: str) -> str | None:
    got = re.findall(r"Got value: (.*)", message)
    if got:
        return got[-1].strip()
    given = re.findall(r"Given value: (.*)", message)
    if not given:
        return None
    nested = re.match(r"NestedArg\(key='[^']*', val='(.*)'\)$", given[-1].strip())
    return nested.group(1) if nested else given[-1].strip()


def one_sentence(message: str, parser: Any, args: list[str], cwd: str = ".") -> str:
    """jsonargparse's error ``message`` as one sentence naming the key and what is valid."""
    message = message.strip()
    # An unknown top-level key (a YAML's) or option (the command line's).
    unknown = re.match(r"Subcommand '\w+' does not accept option '([\w.]+)'", message) or (
        re.match(r"unrecognized arguments: --([\w.]+)", message)
    )
    if unknown:
        key = unknown.group(1)
        where = _source(key, args, cwd)
        origin = f" in {where}" if where else ""
        return f"unknown key '{key}'{origin}{_suggest(key, _parser_keys(parser))}"
    stray = re.match(r"unrecognized arguments: (.*)", message)
    if stray:
        return f"unexpected argument(s) '{stray.group(1)}' (options are --key=value)"
    # A key of a class given by class_path (data, optimizer, lr_scheduler, ...).
    keys = re.findall(r'Parser key "([\w.]+)"', message)
    in_class = re.search(
        r"Problem with given class_path '([\w.]+)':\s*Option '([\w.]+)' is not accepted", message
    )
    if keys and in_class:
        class_path, option = in_class.groups()
        key = f"{keys[0]}.{option}"
        where = _source(key, args, cwd)
        origin = f" in {where}" if where else ""
        valid = [f"{keys[0]}.{k}" for k in _class_keys(class_path)]
        return (
            f"unknown key '{key}'{origin} ({class_path.rsplit('.', 1)[-1]} has no '{option}')"
            f"{_suggest(key, valid)}"
        )
    if keys and keys[0] == "config":  # a --config file that is missing or not YAML
        detail = " ".join(message.split(":", 1)[1].split())
        return f"--config: {detail}"
    if keys:
        key = ".".join(keys)
        where = _source(key, args, cwd)
        origin = f" (set in {where})" if where else ""
        given = _given(message)
        value = f" '{given}'" if given is not None else ""
        expected = _expected(message)
        return (
            f"--{key}{origin}: invalid value{value}"
            + (f"; expected {expected}" if expected else "")
            + ("" if expected else f" ({' '.join(message.split())[:300]})")
        )
    if message.startswith("Problems parsing config"):
        for path in _config_files(args, cwd):
            try:
                yaml.safe_load(_read(path, cwd))
            except OSError:
                continue
            except yaml.YAMLError as err:
                return f"{path} is not valid YAML: {' '.join(str(err).split())}"
    return " ".join(message.split())


# ------------------------------------------------------------------------------ checkpoints
def check_ckpt_path(subcommand: str, ckpt_path: str | None, model: Any = None) -> None:
    """A ``--ckpt_path`` file that Lightning could not resume or test from is refused here, in
    one sentence, before Lightning loads it (its own errors are tracebacks, one of which
    advises an unsafe ``torch.load``).

    ``last`` / ``best`` name checkpoints of a fit in the same process; outside ``fit`` (where
    ``last`` resumes the experiment's latest run) Lightning would find none and evaluate the
    untrained model with only a warning, so they are refused too."""
    if isinstance(ckpt_path, str) and not ckpt_path.strip():
        raise FERUserError(
            "--ckpt_path is empty (an unset shell variable?); give a checkpoint file, e.g. "
            "runs/<experiment>/<run>/checkpoints/last.ckpt, or leave the option out"
        )
    if ckpt_path in ("last", "best") and subcommand != "fit":
        raise FERUserError(
            f"--ckpt_path {ckpt_path} means a checkpoint of a fit in this same command, so "
            f"'{subcommand}' has none; give the checkpoint file, e.g. --ckpt_path "
            "runs/<experiment>/<run>/checkpoints/last.ckpt"
        )
    if not ckpt_path or ckpt_path in SPECIAL_CKPT or str(ckpt_path).startswith("registry"):
        return
    from fer_lightning.inference.safe_load import check_checkpoint

    ckpt = check_checkpoint(Path(ckpt_path), mmap=True)
    if "pytorch-lightning_version" not in ckpt:
        raise FERUserError(
            f"checkpoint {ckpt_path} was not written by Lightning (it has a 'state_dict' but "
            "no 'pytorch-lightning_version'); use one written by 'fer-lightning fit'"
        )
    _check_same_model(ckpt_path, ckpt.get("hyper_parameters"), model)


def _check_same_model(ckpt_path: str, saved: Any, model: Any) -> None:
    """A checkpoint of another backbone or head than the configured model would fail in
    Lightning's ``load_state_dict`` with a page of missing keys, after the data has loaded."""
    if not isinstance(saved, dict) or model is None:
        return
    for key in ("backbone", "head"):
        want, have = model.get(key), saved.get(key)
        if want is not None and have is not None and want != have:
            raise FERUserError(
                f"checkpoint {ckpt_path} holds a {saved.get('backbone')} / {saved.get('head')} "
                f"model but the configured model is {model.get('backbone')} / "
                f"{model.get('head')} (model.{key}); use the experiment it was trained with "
                "(its run's config.yaml) or a checkpoint of this model"
            )


# --------------------------------------------------------------------------- run directory
class RemoveOnFailure:
    """Removes the run directory (and its W&B offline run) that this command created when the
    command fails with a user error before its data is loaded: a bad option or data root
    leaves no half-made run behind. An existing directory (a resumed run) is never removed."""

    def __init__(self, run_dir: Path | None) -> None:
        self.run_dir = run_dir
        # The directories this command would create: the run's and its missing parents
        # (runs/<experiment>/, runs/); none without a run directory.
        self._missing = missing_dirs(run_dir) if run_dir is not None else []
        #: What this process created: nothing until it creates the run directory (the other
        #: processes of a multi-node run name it too, and must never remove rank 0's).
        self.created: list[Path] = []

    def claimed(self, run_dir: Path) -> None:
        """This process created the run directory, perhaps under another name (``-1``: its
        first name was taken by another command meanwhile, which must not lose it)."""
        self.run_dir = run_dir
        self.created = [run_dir, *self._missing[1:]] if self._missing else []

    def clean(self, error: BaseException, data_loaded: bool) -> None:
        if data_loaded or not isinstance(error, FERUserError) or not self.created:
            return
        wandb = sys.modules.get("wandb")
        if wandb is not None and getattr(wandb, "run", None) is not None:
            # before its files are removed; without W&B's lines advertising a 'wandb sync' of
            # the folder about to go
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                wandb.finish(exit_code=1)
        shutil.rmtree(self.created[0], ignore_errors=True)  # the run directory
        remove_empty(self.created[1:])  # only if empty: another run may be there


@contextlib.contextmanager
def quiet_seed_message() -> Iterator[None]:
    """Without Lightning's "Seed set to N" line: LightningCLI prints it before any setting is
    checked, so a refused command would print it before its one sentence. The seed is in the
    run's config.yaml."""
    import logging

    seed_log = logging.getLogger("lightning.fabric.utilities.seed")
    level = seed_log.level
    seed_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        seed_log.setLevel(level)


# ---------------------------------------------------------------------- instantiation errors
def user_error_of(error: BaseException) -> FERUserError | None:
    """The user error behind an exception raised while LightningCLI instantiates the classes:
    a :class:`FERUserError` anywhere in its chain (jsonargparse wraps it twice), or a Lightning
    ``MisconfigurationException`` (a bad ``--trainer.*`` value) as a sentence."""
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, FERUserError):
            return current
        if isinstance(current, MisconfigurationException):
            detail = " ".join(str(current).split())
            return FERUserError(f"invalid trainer setting: {detail}")
        current = current.__cause__ or current.__context__
    return None


# ------------------------------------------------------------------------------ config.yaml
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
        while (first.parent / f"config.{kind}-{n}.yaml").exists():
            n += 1
        self.config_filename = f"config.{kind}-{n}.yaml"
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
        import logging

        logging.getLogger("fer_lightning").info(
            "%s kept; this command's config: %s (%d key(s) changed)",
            first,
            written.name,
            len(changes),
        )
