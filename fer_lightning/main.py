"""The ``fer-lightning`` entry point and its one router, light enough to answer at once.

Every subcommand is dispatched from here, and every error a command raises as a
:class:`~fer_lightning.errors.FERUserError` is printed here, as one line. Importing torch and
Lightning takes seconds, so this module imports neither: ``--help``, ``experiments``, a mistyped
subcommand and an unknown ``--exp`` name are answered at once. ``--exp NAME`` is expanded here,
once, into ``--config experiments/NAME.yaml``, and the name is handed on to
:func:`fer_lightning.cli.run` (imported only for fit / validate / test / predict); the other
subcommands (:data:`fer_lightning.commands.SUBCOMMANDS`) are imported only when they run.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
import signal
import sys

from fer_lightning import commands, experiments
from fer_lightning.console import setup_logging
from fer_lightning.errors import FERUserError
from fer_lightning.quiet import hide_start_up_noise

PROG = "fer-lightning"

#: LightningCLI's subcommands, with what they do (LightningCLI's own help says the same).
LIGHTNING_SUBCOMMANDS: dict[str, str] = {
    "fit": "train a model (--exp NAME or --config FILE), then test its best checkpoint",
    "validate": "evaluate a checkpoint on the validation split",
    "test": "evaluate a checkpoint on the test split and write its report",
    "predict": "predict with a checkpoint on the predict split",
}

#: Subcommands answered here without importing torch or Lightning.
#: Subcommands that start without Lightning (recognize imports torch only once its arguments
#: are fine: --help and --about answer at once).
LIGHT_SUBCOMMANDS = frozenset({"experiments", "recognize", "models"})


def _summary(module: str) -> str:
    """The first line of ``module``'s docstring without importing it (its imports are heavy),
    its first clause, less the ``fer-lightning NAME ...``: usage prefix the subcommand modules
    start with."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin:
        return ""
    with open(spec.origin, encoding="utf-8") as fh:
        doc = ast.get_docstring(ast.parse(fh.read())) or ""
    paragraph = " ".join(doc.strip().split("\n\n")[0].split())
    if paragraph.startswith("``") and "``:" in paragraph:
        paragraph = paragraph.split("``:", 1)[1].strip()
    sentence = paragraph.split(". ")[0].split(": ")[0].rstrip(".")
    for sep in (" (", ", "):  # one line of the listing: drop asides from the end
        while len(sentence) > 72 and sep in sentence:
            sentence = sentence.rsplit(sep, 1)[0]
    return sentence


def help_text() -> str:
    """``fer-lightning --help``: every subcommand with one line each."""
    names = [*LIGHTNING_SUBCOMMANDS, *commands.SUBCOMMANDS]
    width = max(len(n) for n in names)
    lines = [
        f"usage: {PROG} [-h] {{{','.join(names)}}} ...",
        "",
        "fer-lightning: facial expression recognition experiments.",
        "",
        "Training and evaluation (LightningCLI; in these, '--exp NAME' stands for "
        "'--config experiments/NAME.yaml';",
        f"'{PROG} fit --help' lists every option):",
    ]
    lines += [f"  {name:<{width}}  {text}" for name, text in LIGHTNING_SUBCOMMANDS.items()]
    lines += ["", "More subcommands (each with its own --help):"]
    for name, target in commands.SUBCOMMANDS.items():
        lines.append(f"  {name:<{width}}  {_summary(target.split(':')[0])}".rstrip())
    return "\n".join(lines)


def expand_zoo_names(args: list[str]) -> list[str]:
    """``--ckpt_path NAME`` of a zoo model -> its checked weights file; without ``--exp`` or
    ``--config`` the model's published config (and experiment name) come along, so that
    ``fer-lightning test --ckpt_path NAME`` repeats the published test."""
    from fer_lightning import zoo

    out = list(args)
    for i, arg in enumerate(out):
        key, eq, value = arg.partition("=")
        if key != "--ckpt_path":
            continue
        if not eq:
            if i + 1 >= len(out):
                break
            value = out[i + 1]
        if value in ("last", "best", "hpc") or value.startswith("registry"):
            continue
        if not value or not zoo.looks_like_name(value):
            continue
        model = zoo.get(value)
        if eq:
            out[i] = f"--ckpt_path={model.weights}"
        else:
            out[i + 1] = str(model.weights)
        configured = any(
            a in ("--exp", "--config", "-c") or a.startswith(("--exp=", "--config=")) for a in out
        )
        if not configured:
            experiment = model.record["provenance"].get("experiment") or "zoo"
            out = [f"--config={model.config}", f"--experiment={experiment}", *out]
        break
    return out


def _unknown_command(name: str) -> FERUserError:
    known = [*LIGHTNING_SUBCOMMANDS, *commands.SUBCOMMANDS]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return FERUserError(f"unknown command '{name}'{hint}; commands: {', '.join(known)}")


#: ``fer-lightning fit --help``'s description.
DESCRIPTION = (
    "fer-lightning: facial expression recognition experiments. "
    f"More subcommands: {', '.join(commands.SUBCOMMANDS)} (each with its own --help). "
    "In fit / validate / test / predict, '--exp NAME' stands for "
    "'--config experiments/NAME.yaml'."
)


def _lightning(args: list[str]) -> int:
    """fit / validate / test / predict (or LightningCLI's own options, ``--print_config``...):
    ``--exp`` expanded once, zoo names made files, then LightningCLI."""
    subcommand = args[0] if args[0] in LIGHTNING_SUBCOMMANDS else None
    rest = args[1:] if subcommand else args
    rest, experiment = experiments.expand(rest)
    if subcommand:
        rest = expand_zoo_names(rest)
    hide_start_up_noise()
    from fer_lightning import cli  # torch, Lightning: only for the commands that need them

    expanded = [subcommand, *rest] if subcommand else rest
    cli.run(expanded, command=args, experiment=experiment, description=DESCRIPTION)
    return 0


def _stopped_by_signal(stop: SystemExit) -> int | None:
    """128 + the signal (130 for Ctrl-C, 143 for SIGTERM) when ``stop`` is Lightning's
    ``SIGTERMException`` (a run stopped by :class:`fer_lightning.callbacks.GracefulStop`, its
    checkpoint saved); None for any other exit. Lightning is not imported for this: a
    SIGTERMException exists only once it is."""
    exceptions = sys.modules.get("lightning.pytorch.utilities.exceptions")
    if exceptions is None or not isinstance(stop, exceptions.SIGTERMException):
        return None
    return 128 + int(getattr(stop, "signum", signal.SIGTERM))


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if not args:
            print(help_text(), file=sys.stderr)
            raise FERUserError("a subcommand is needed, e.g. 'fer-lightning fit --exp NAME'")
        first = args[0]
        if first in ("-h", "--help"):
            print(help_text())
            return 0
        setup_logging()
        if first in LIGHTNING_SUBCOMMANDS or first.startswith("-"):
            return _lightning(args)
        command = commands.resolve(first)
        if command is None:
            raise _unknown_command(first)
        if first not in LIGHT_SUBCOMMANDS:
            hide_start_up_noise()
        return command(args[1:])
    except FERUserError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    except SystemExit as stop:  # SIGTERM or Ctrl-C: checkpoint saved (GracefulStop)
        status = _stopped_by_signal(stop)
        if status is None:
            raise
        return status


if __name__ == "__main__":
    sys.exit(main())
