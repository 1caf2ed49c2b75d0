"""One markdown table per paper, generated from ``results/`` and nothing else.

Every number of ours is read from a published run's files (``summary.json``, ``cv.json``,
``config.yaml``, ``timing.json``); the paper's numbers come from
:mod:`fer_lightning.results.papers`. ``fer-lightning tables`` writes ``results/tables.md`` and the
block between the markers in README.md; a test fails when either differs from what this module
produces.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fer_lightning import experiments, hardware
from fer_lightning.data.distill import describe as describe_distill
from fer_lightning.data.transforms import describe_augment
from fer_lightning.models.describe import describe_start
from fer_lightning.results.experiments_table import regime_cell
from fer_lightning.results.markdown import markdown_row, pct, training_time
from fer_lightning.results.papers import PAPERS, RESULTS, PaperResult
from fer_lightning.results.publish import RESULTS_DIR
from fer_lightning.results.sweeps import SweepResult, load_sweeps, readme_line, sweep_table
from fer_lightning.results.verify import verified_cv, verified_summary
from fer_lightning.run import layout
from fer_lightning.run.layout import CV_JSON, SUMMARY_JSON

TABLES_MD = "tables.md"
BEGIN, END = "<!-- results-tables:begin -->", "<!-- results-tables:end -->"
#: The column of the accuracy without the test images copied from training images.
NEW_FACES = "without copies (exact / near)"
COLUMNS = (
    "experiment",
    "protocol",
    "model",
    "parameters (paper)",
    "paper",
    "ours",
    NEW_FACES,
    "training",
    "hardware, precision",
    "what differs",
)


@dataclass
class Result:
    """One published result: a run, or a cross-validation over folds."""

    experiment: str
    path: Path
    summary: dict[str, Any]
    config: dict[str, Any]
    #: ``cv.json`` for a cross-validation (``summary``/``config`` are then the first fold's).
    cv: dict[str, Any] | None = None

    @property
    def data_args(self) -> dict[str, Any]:
        return ((self.config.get("data") or {}).get("init_args")) or {}

    @property
    def cross_dataset(self) -> bool:
        return (self.path / layout.CROSS_DATASET_JSON).is_file()


def load_results(root: Path = RESULTS_DIR) -> list[Result]:
    """Every run (``<experiment>/<name>/summary.json``) and cross-validation
    (``<experiment>/<name>/cv.json``) under ``root``, in path order."""
    found = []
    for entry in sorted(Path(root).glob("*/*")):
        if (entry / CV_JSON).is_file():
            cv = verified_cv(entry)
            first = layout.fold_dir(entry, 0)
            found.append(
                Result(entry.parent.name, entry, verified_summary(first), _yaml(first), cv)
            )
        elif (entry / SUMMARY_JSON).is_file():
            found.append(Result(entry.parent.name, entry, verified_summary(entry), _yaml(entry)))
    return found


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _yaml(run: Path) -> dict[str, Any]:
    path = layout.config_of(run)
    return experiments.load_config(path) if path.is_file() else {}


# ------------------------------------------------------------------------------- cells
def _class_split(result: Result) -> str:
    """The protocol a datamodule class has when it has only one (FER+: ``official``), for
    records written before the run recorded it; ``?`` otherwise."""
    import importlib

    path = str((result.config.get("data") or {}).get("class_path") or "")
    module, _, name = path.rpartition(".")
    try:
        split = getattr(importlib.import_module(module), name).split
    except (ImportError, AttributeError, ValueError):
        return "?"
    return split if isinstance(split, str) else "?"


def protocol(result: Result) -> str:
    """Split, fold and test-time augmentation, as the run's config and summary record them."""
    s, args = result.summary, result.data_args
    split = s.get("split") or args.get("split") or _class_split(result)
    parts = [f"{s.get('dataset', '?')} `{split}`"]
    if result.cv is not None:
        parts.append(f"{len(result.cv['folds'])}-fold CV")
    elif split == "all":
        parts.append("every image")
    elif "fold" in args:
        parts.append(f"fold {args['fold']} of {args.get('num_folds', '?')}")
    if args.get("classes"):
        parts.append(f"classes {', '.join(args['classes'])} only")
    if s.get("tta", "none") != "none":
        parts.append(f"TTA {s['tta']}")
    return ", ".join(parts)


def ours(result: Result) -> str:
    if result.cv is not None:
        return (
            f"**{pct(result.cv['test_acc_mean'])}** ± {100 * result.cv['test_acc_std']:.2f} "
            f"(mean ± sd of {len(result.cv['folds'])} folds)"
        )
    s = result.summary
    return f"**{pct(s['test_accuracy'])}** (n={s['test_images']:,})"


def new_faces(result: Result) -> str:
    """The accuracy without the test images that are exact / near copies of training images
    (:mod:`fer_lightning.evaluation.unseen`), or — where the record has none."""
    s = result.summary
    if result.cv is not None or s.get("test_accuracy_no_copies") is None:
        return "—"
    return (
        f"{pct(s['test_accuracy_no_copies'])} / {pct(s['test_accuracy_no_near_copies'])} "
        f"(n={s['test_images_no_copies']:,} / {s['test_images_no_near_copies']:,})"
    )


def result_folder(result: Result) -> str:
    """The result's folder as a reader finds it in the repository (the last column of the
    tables that list several results of one experiment)."""
    return f"`results/{result.experiment}/{result.path.name}`"


def training(result: Result) -> str:
    runs = (
        [layout.fold_dir(result.path, f["fold"]) for f in result.cv["folds"]]
        if result.cv is not None
        else [result.path]
    )
    summaries = [_json(r / SUMMARY_JSON) for r in runs]
    epochs = sorted({s.get("epochs") for s in summaries})
    per = "epochs" if len(runs) == 1 else "epochs per fold"
    trained = f"{'/'.join(str(e) for e in epochs)} {per}"
    checkpoint = result.summary.get("checkpoint")
    if result.cv is None and checkpoint and _tested_only(result.path):
        return f"{trained}; a test-only run of `{Path(checkpoint).name}`"
    if result.cv is not None and result.cv.get("retested_from"):
        return f"{trained}; each fold's checkpoint tested again (`cv --retest`)"
    return f"{trained}, {training_time(runs)}"


def _tested_only(run: Path) -> bool:
    """Whether the run's command was ``fer-lightning test`` (it trained nothing itself)."""
    path = run / layout.COMMAND_TXT
    first = path.read_text().split(maxsplit=2)[:2] if path.is_file() else []
    return first == ["fer-lightning", "test"]


def machine(result: Result) -> str:
    s = result.summary
    return f"{hardware.short(s.get('hardware'))}, {s.get('precision') or 'n/a'}"


def differences(result: Result, paper: PaperResult) -> str:
    notes = [paper.differs] if paper.differs else []
    n = result.summary.get("test_images")
    if paper.test_images and result.cv is None and n and n != paper.test_images:
        notes.append(f"paper tests on {paper.test_images:,} images, we on {n:,}")
    return "; ".join(notes) or "—"


def params(result: Result | None, paper: PaperResult) -> str:
    theirs = f"{paper.parameters:,}" if paper.parameters else "—"
    if result is None or result.summary.get("parameters") is None:
        return f"({theirs})"
    return f"{result.summary['parameters']:,} ({theirs})"


def _class_name(spec: Any) -> str:
    path = spec.get("class_path", "?") if isinstance(spec, dict) else str(spec)
    return path.rsplit(".", 1)[-1]


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def recipe(result: Result) -> str:
    """Optimizer, schedule, loss and augmentation, as the run's resolved config records them
    (``?`` where it records nothing)."""
    config = result.config
    optimizer = config.get("optimizer")
    args = (optimizer.get("init_args") if isinstance(optimizer, dict) else None) or {}
    settings = [f"lr {_number(args['lr'])}"] if "lr" in args else []
    if args.get("momentum"):
        settings.append(f"momentum {_number(args['momentum'])}")
    if args.get("nesterov"):
        settings.append("Nesterov")
    if args.get("weight_decay"):
        settings.append(f"weight decay {_number(args['weight_decay'])}")
    named = _class_name(optimizer) if optimizer else "optimizer ?"
    parts = [f"{named} ({', '.join(settings)})" if settings else named]
    if scheduler := config.get("lr_scheduler"):
        parts.append(_class_name(scheduler))
    model = config.get("model")
    if smoothing := (model.get("label_smoothing") if isinstance(model, dict) else None):
        parts.append(f"label smoothing {_number(smoothing)}")
    if batch := result.data_args.get("batch_size"):
        parts.append(f"batch {batch}")
    augment = result.data_args.get("augment")
    parts.append(f"augmentation: {describe_augment(augment) if augment is not None else '?'}")
    if taught := describe_distill(result.data_args.get("distill"), names=True):
        parts.append(taught)
    return "; ".join(parts)


# ------------------------------------------------------------------------------ tables
def _not_run(name: str, paper: PaperResult) -> str:
    if paper.needs:
        why = (
            f"not run: needs {' and '.join(paper.needs)}; on such a machine: "
            f"`make train EXP={name}`"
        )
    else:
        why = f"not run yet: `make train EXP={name}`"
    return markdown_row([f"`{name}`", "", "", params(None, paper), f"{paper.accuracy:.2f} %", why])


def leak_note(results: list[Result]) -> str | None:
    """The gap between an image-level (random) split and a subject split of one experiment."""
    random = [r for r in results if r.summary.get("split") == "random"]
    subject = [r for r in results if r.summary.get("split") == "subject" and r.cv is not None]
    if not random or not subject:
        return None
    r = random[-1]
    acc_r = r.cv["test_acc_mean"] if r.cv else r.summary["test_accuracy"]
    acc_s = subject[-1].cv["test_acc_mean"]
    return (
        f"Subject leak of `{r.experiment}`: the random image split scores "
        f"{100 * (acc_r - acc_s):.2f} points above the subject-independent cross-validation "
        f"({pct(acc_r)} vs {pct(acc_s)}): the same people (often the same sequence) are in "
        "its training and test images."
    )


def paper_table(key: str, results: list[Result], sweeps: Sequence[SweepResult] = ()) -> str:
    paper = PAPERS[key]
    lines = [f"### {paper.title}", "", f"Paper's metric: {paper.metric}.", ""]
    lines += [markdown_row(list(COLUMNS)), markdown_row(["---"] * 3 + ["---:"] * 4 + ["---"] * 3)]
    notes = []
    for name, ref in RESULTS.items():
        if ref.paper != key:
            continue
        mine = [r for r in results if r.experiment == name and not r.cross_dataset]
        if not mine:
            lines.append(_not_run(name, ref))
        for r in mine:
            cells = [f"`{name}`", protocol(r), r.summary.get("model", "?"), params(r, ref)]
            cells += [f"{ref.accuracy:.2f} %", ours(r), new_faces(r), training(r), machine(r)]
            lines.append(markdown_row([*cells, differences(r, ref)]))
        if note := leak_note(mine):
            notes.append(note)
    if notes:
        lines += ["", *notes]
    for sweep in sweeps:
        if (ref := RESULTS.get(sweep.experiment)) and ref.paper == key:
            lines += ["", sweep_table(sweep)]
    return "\n".join(lines)


def cross_dataset_table(results: list[Result]) -> str | None:
    rows = [r for r in results if r.cross_dataset]
    if not rows:
        return None
    lines = [
        "### Cross-dataset: trained on one dataset, tested on another (shared classes only)",
        "",
        markdown_row(["experiment", "tested on", "classes", "ours", "result folder"]),
        markdown_row(["---", "---", "---", "---:", "---"]),
    ]
    for r in rows:
        mapping = json.loads((r.path / layout.CROSS_DATASET_JSON).read_text())
        shared = mapping.get("shared") or mapping.get("classes") or []
        lines.append(
            markdown_row(
                [
                    f"`{r.experiment}`",
                    protocol(r),
                    ", ".join(shared) if isinstance(shared, list) else str(shared),
                    ours(r),
                    result_folder(r),
                ]
            )
        )
    return "\n".join(lines)


def ensemble_table(results: list[Result]) -> str | None:
    """The published ensembles: members and weights, how they were chosen, both accuracies
    and McNemar's test against the best member (all read from the ensemble's summary.json)."""
    rows = [r for r in results if r.summary.get("ensemble_members")]
    if not rows:
        return None
    lines = [
        "### Ensembles of zoo models (mean softmax)",
        "",
        markdown_row(
            [
                "ensemble",
                "protocol",
                "members (weight)",
                "chosen",
                "test accuracy",
                NEW_FACES,
                "best member",
                "McNemar p against it",
                "result folder",
            ]
        ),
        markdown_row(["---", "---", "---", "---", "---:", "---:", "---:", "---:", "---"]),
    ]
    for r in rows:
        s = r.summary
        weights = s.get("ensemble_weights") or {}
        members = s["ensemble_members"]
        named = ", ".join(f"`{m['run']}` ({weights.get(m['run'], 1)})" for m in members)
        best = max(members, key=lambda m: m["test_accuracy"])
        chosen = "on validation (greedy selection)" if s.get("ensemble_choice") else "by hand"
        lines.append(
            markdown_row(
                [
                    f"`{r.experiment}`",
                    protocol(r),
                    named,
                    chosen,
                    ours(r),
                    new_faces(r),
                    f"{pct(best['test_accuracy'])} (`{best['run']}`)",
                    f"{best['p_value']:.3g}",
                    result_folder(r),
                ]
            )
        )
    return "\n".join(lines)


OWN = "ours:"


def own_experiments() -> list[str]:
    """The experiments of ours: those in ``experiments/`` whose description starts with
    ``ours:`` (a recipe that reproduces no paper)."""
    known = experiments.list_experiments()
    return [name for name, path in known.items() if experiments.describe(path).startswith(OWN)]


OWN_COLUMNS = (
    "experiment",
    "protocol",
    "model",
    "parameters",
    "ours",
    NEW_FACES,
    "training",
    "hardware, precision",
    "recipe",
    "result folder",  # tells apart the runs of one recipe (another seed, a ten-crop test)
)


def _measured_on(ref: PaperResult) -> str:
    metric = PAPERS[ref.paper].split
    return f"{metric} on {ref.test_images:,} images" if ref.test_images else metric


def _data_class(name: str) -> str:
    """The data class an experiment's YAML names (``...FER2013DataModule``), or ``?``."""
    config = experiments.load_config(experiments.list_experiments()[name])
    data = config.get("data")
    return str(data.get("class_path", "?")) if isinstance(data, dict) else "?"


def scratch_references(data_class: str) -> dict[str, PaperResult]:
    """The papers' results on ``data_class`` trained from scratch (their YAML sets no
    ``model.pretrained``): what an experiment of our own on that data has to beat."""
    known = experiments.list_experiments()
    found = {}
    for name, ref in RESULTS.items():
        if name not in known or _data_class(name) != data_class:
            continue
        model = experiments.load_config(known[name]).get("model")
        if not (isinstance(model, dict) and model.get("pretrained")):
            found[name] = ref
    return found


def _to_beat(data_class: str) -> str:
    refs = "; ".join(
        f"`{name}` {ref.accuracy:.2f} % ({ref.paper}, {_measured_on(ref)})"
        for name, ref in sorted(
            scratch_references(data_class).items(), key=lambda kv: -kv[1].accuracy
        )
    )
    dataset = data_class.rsplit(".", 1)[-1].removesuffix("DataModule")
    return f"The papers' from-scratch {dataset} results to beat: {refs or 'none'}."


def starts_from_a_model(name: str) -> bool:
    """The experiment's YAML starts its fit from a FER model (``model.init_from``)."""
    config = experiments.load_config(experiments.list_experiments()[name])
    model = config.get("model")
    return isinstance(model, dict) and bool(model.get("init_from"))


def own_table(results: list[Result]) -> str | None:
    """Our own recipes beside the from-scratch FER2013 results of the papers they have to beat
    (the ones that start from one of our models are in :func:`transfer_table`)."""
    names = [name for name in own_experiments() if not starts_from_a_model(name)]
    if not names:
        return None
    data_classes = sorted({_data_class(name) for name in names})
    lines = [
        "### Ours: recipes of our own, trained from scratch",
        "",
        *[_to_beat(data_class) for data_class in data_classes],
        "",
        markdown_row(list(OWN_COLUMNS)),
        markdown_row(["---"] * 3 + ["---:"] * 3 + ["---"] * 4),
    ]
    for name in names:
        mine = [r for r in results if r.experiment == name and not r.cross_dataset]
        if not mine:
            lines.append(
                markdown_row(
                    [
                        f"`{name}`",
                        "",
                        "",
                        "",
                        f"not run yet: `make train EXP={name}`",
                        "",
                        "",
                        "",
                        "",
                        "",
                    ]
                )
            )
        for r in mine:
            count = r.summary.get("parameters")
            cells = [f"`{name}`", protocol(r), r.summary.get("model", "?")]
            cells += [f"{count:,}" if count else "—", ours(r), new_faces(r)]
            cells += [training(r), machine(r), recipe(r), result_folder(r)]
            lines.append(markdown_row(cells))
    return "\n".join(lines)


def per_fold(result: Result) -> str:
    if result.cv is None:
        return "—"
    return " / ".join(f"{100 * f['test_acc']:.1f}" for f in result.cv["folds"])


def transfer_table(results: list[Result]) -> str | None:
    """One table per dataset that an experiment starts on from one of our FER models
    (``model.init_from``): those runs beside the same dataset's cross-validations and our own
    from-scratch recipes, whatever their regime or initialisation."""
    own = set(own_experiments())
    tested = [r for r in results if not r.cross_dataset]
    started = [r for r in tested if (r.config.get("model") or {}).get("init_from")]
    data = sorted({_data_class_of(r) for r in started})
    if not data:
        return None
    parts = [
        "### Transfer: starting from our own FER models",
        "",
        "Scratch, transfer (backbone frozen) and fine-tuning (every layer, the backbone at a "
        "lower rate) on the same data; `initialisation` names the zoo model a run started from "
        "(`model.init_from`).",
    ]
    for data_class in data:
        rows = [
            r
            for r in tested
            if _data_class_of(r) == data_class
            and (r.cv is not None or r.experiment in own or r in started)
        ]
        parts += [
            "",
            markdown_row(
                [
                    "experiment",
                    "protocol",
                    "initialisation",
                    "regime",
                    "test accuracy",
                    NEW_FACES,
                    "per fold (%)",
                    "training",
                    "hardware, precision",
                    "result folder",
                ]
            ),
            markdown_row(["---"] * 4 + ["---:", "---:", "---", "---", "---", "---"]),
        ]
        for r in rows:
            cells = [
                f"`{r.experiment}`",
                protocol(r),
                describe_start(r.config),
                regime_cell(r.config),
            ]
            cells += [ours(r), new_faces(r), per_fold(r), training(r), machine(r)]
            cells.append(result_folder(r))
            parts.append(markdown_row(cells))
    return "\n".join(parts)


def _data_class_of(result: Result) -> str:
    return str((result.config.get("data") or {}).get("class_path", "?"))


def render(root: Path = RESULTS_DIR) -> str:
    results, sweeps = load_results(root), load_sweeps(root)
    parts = [paper_table(key, results, sweeps) for key in PAPERS]
    if own := own_table(results):
        parts.append(own)
    if others := [sweep_table(s) for s in sweeps if s.experiment not in RESULTS]:
        parts.append("\n\n".join(["### Sweeps of our own experiments", *others]))
    if transfer := transfer_table(results):
        parts.append(transfer)
    if cross := cross_dataset_table(results):
        parts.append(cross)
    if ensembles := ensemble_table(results):
        parts.append(ensembles)
    head = (
        "Generated by `make tables` from the runs in `results/` (each folder holds the run's "
        "config, command, report, metrics and pictures); do not edit by hand."
    )
    return head + "\n\n" + "\n\n".join(parts) + "\n"


def render_readme(root: Path = RESULTS_DIR) -> str:
    """The README's short form: every result we have beside its paper's, then a count of what
    was not run and a link to the full tables."""
    own = own_experiments()
    results = [
        r
        for r in load_results(root)
        if (r.experiment in RESULTS or r.experiment in own) and not r.cross_dataset
    ]
    lines = [
        "Generated by `make tables` from `results/`; the full tables, one per paper with "
        "parameters, hardware and protocol differences, are in "
        f"[results/{TABLES_MD}](results/{TABLES_MD}).",
        "",
        markdown_row(["experiment", "paper", "protocol", "paper's result", "ours", "training"]),
        markdown_row(["---", "---", "---", "---:", "---:", "---"]),
    ]
    for r in results:
        ref = RESULTS.get(r.experiment)
        paper = (ref.paper, f"{ref.accuracy:.2f} %") if ref else ("ours (no paper)", "—")
        cells = [f"`{r.experiment}`", paper[0], protocol(r), paper[1], ours(r)]
        lines.append(markdown_row([*cells, f"{training(r)}, {machine(r)}"]))
    if not results:
        lines.append(markdown_row(["(none yet)", "", "", "", "", ""]))
    missing = sorted(set(RESULTS) - {r.experiment for r in results})
    lines += [f"\n{readme_line(sweep)}" for sweep in load_sweeps(root)]
    lines += ["", f"Not run here yet ({len(missing)}): {', '.join(f'`{m}`' for m in missing)}."]
    return "\n".join(lines) + "\n"


def replace_block(text: str, block: str, begin: str = BEGIN, end: str = END) -> str:
    """``text`` with everything between the ``begin`` and ``end`` markers replaced by ``block``."""
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        raise ValueError(f"lacks the {begin} ... {end} markers")
    return text[: start + len(begin)] + "\n" + block + text[stop:]
