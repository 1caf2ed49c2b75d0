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

What a failed command leaves behind, and the run's config snapshots, are the run package's
(:mod:`fer_lightning.run`).
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from pathlib import Path
from typing import Any, NoReturn

import yaml
from lightning.pytorch.cli import LightningArgumentParser

from fer_lightning.errors import FERUserError
from fer_lightning.upstream import (
    CLASS_PATH_EXPECTED,
    CONFIG_UNPARSED,
    MESSAGES,
    failing_parser,
    parser_keys,
    subcommand_parsers,
)

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
        args = self.cli_args or []
        raise FERUserError(one_sentence(message, failing_parser(ex, self), args, self.cli_cwd))


def set_cli_args(parser: Any, args: Any) -> None:
    """Tell ``parser`` and its subcommands' parsers the command line they parse."""
    parser.cli_args = list(args) if isinstance(args, (list, tuple)) else sys.argv[1:]
    # jsonargparse works in a config file's folder while it parses that file: relative paths
    # of the command line are relative to this one.
    parser.cli_cwd = os.getcwd()
    for sub in subcommand_parsers(parser):
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
    return parser_keys(parser)


def _suggest(key: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(key, sorted(set(valid)), n=1, cutoff=0.6)
    return f"; did you mean --{close[0]}?" if close else "; see --help for the valid keys"


def _expected(message: str) -> str:
    """What the innermost errors of a jsonargparse message say they expected."""
    found: list[str] = []
    for literal in MESSAGES["literal"].findall(message):
        found.append("one of " + ", ".join(v.strip(" '\"") for v in literal.split(",")))
    for name in MESSAGES["class"].findall(message):
        if name != "NoneType":  # null is seldom what was meant
            found.append(name.rsplit(".", 1)[-1])
    if CLASS_PATH_EXPECTED in message:
        found.append("a class path")
    unique = list(dict.fromkeys(found))
    return " or ".join(unique)


def _given(message: str) -> str | None:
    got = MESSAGES["got"].findall(message)
    if got:
        return got[-1].strip()
    given = MESSAGES["given"].findall(message)
    if not given:
        return None
    nested = MESSAGES["nested"].match(given[-1].strip())
    return nested.group(1) if nested else given[-1].strip()


def one_sentence(message: str, parser: Any, args: list[str], cwd: str = ".") -> str:
    """jsonargparse's error ``message`` as one sentence naming the key and what is valid."""
    message = message.strip()
    # An unknown top-level key (a YAML's) or option (the command line's).
    unknown = MESSAGES["subcommand_option"].match(message) or (
        MESSAGES["unrecognized_key"].match(message)
    )
    if unknown:
        key = unknown.group(1)
        where = _source(key, args, cwd)
        origin = f" in {where}" if where else ""
        return f"unknown key '{key}'{origin}{_suggest(key, parser_keys(parser))}"
    stray = MESSAGES["unrecognized"].match(message)
    if stray:
        return f"unexpected argument(s) '{stray.group(1)}' (options are --key=value)"
    # A key of a class given by class_path (data, optimizer, lr_scheduler, ...).
    keys = MESSAGES["parser_key"].findall(message)
    in_class = MESSAGES["class_option"].search(message)
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
    if message.startswith(CONFIG_UNPARSED):
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
