"""The ``fer-lightning`` entry point, light enough to answer at once.

Importing torch and Lightning takes seconds, so this module imports neither: ``--help``,
``experiments``, a mistyped subcommand and an unknown ``--exp`` name are answered from here.
Everything else (fit / validate / test / predict, their ``--help`` and their config-key errors,
which need LightningCLI's parser, and the other subcommands) is handed to
:func:`fer_lightning.cli.main`, which is imported only then.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
import sys

from fer_lightning import commands, experiments
from fer_lightning.console import setup_logging
from fer_lightning.errors import FERUserError

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


def _check_experiment_names(args: list[str]) -> None:
    """An unknown ``--exp NAME`` is a user error found without LightningCLI."""
    for i, arg in enumerate(args):
        if arg == "--exp" and i + 1 < len(args):
            experiments.resolve(args[i + 1])
        elif arg.startswith("--exp="):
            experiments.resolve(arg.split("=", 1)[1])


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
        if first in LIGHT_SUBCOMMANDS:
            setup_logging()
            command = commands.resolve(first)
            assert command is not None
            return command(args[1:])
        if first in LIGHTNING_SUBCOMMANDS:
            _check_experiment_names(args[1:])
            args = [first, *expand_zoo_names(args[1:])]
        elif first not in commands.SUBCOMMANDS and not first.startswith("-"):
            raise _unknown_command(first)
    except FERUserError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    from fer_lightning import cli  # torch, Lightning: only for the commands that need them

    return cli.main(args)


if __name__ == "__main__":
    sys.exit(main())
