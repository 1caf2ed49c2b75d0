"""Model cards: what a zoo model is for, how it was tested and where it fails, in one page.

A card is generated from the files of the model's result folder only (``summary.json``,
``report.csv``, ``confusion_matrix_test.csv``, ``command.txt``, ``model.json``,
``calibration.json`` and ``robustness.json`` where present) and from the results beside it made
with the same checkpoint: the ten-crop (or single-image) test of the same weights and the
cross-dataset tests (``cross_dataset.json``). ``fer-lightning card NAME`` writes it as
``MODEL_CARD.md`` into the folder; ``recognize --about`` prints :func:`short`.

This module reads JSON and CSV only (no torch): ``recognize --about`` answers at once. The
robustness table of the full card is drawn by the robustness evaluation's own code.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fer_lightning import zoo
from fer_lightning.run import layout

FILENAME = "MODEL_CARD.md"
ROBUSTNESS = "robustness.json"
CROSS = layout.CROSS_DATASET_JSON

#: Who and what is in each dataset's images (the card's "intended use and limits").
POPULATIONS = {
    "fer2013": "FER2013: 35,887 grey 48x48 face crops found by web image searches for "
    "emotion words (Goodfellow et al., 2013), labels checked by people (humans agree with "
    "them about 65 % of the time); mostly adults, every age, sex and skin tone but in unknown "
    "and unbalanced proportions, many from stock photos. Classes are skewed: disgust is 1.5 % "
    "of the images, happy 25 %. Some test images are copies of training images (counted "
    "below).",
    "ckplus": "CK+: posed expressions filmed frontally in a lab (Lucey et al., 2010), the "
    "peak frames of the 327 labelled sequences of 118 of its 123 subjects, university "
    "students aged 18 to 50, 69 % women, 81 % Euro-American; a model tested here has seen the "
    "same people in training unless the split is by subject.",
    "ferplus": "FER+: FER2013's images relabelled by ten crowd annotators each (Barsoum et al., "
    "2016), same population as FER2013; the targets are the vote distributions.",
    "rafdb": "RAF-DB: about 30,000 face photos from the web, each labelled by about 40 "
    "annotators; more varied poses and lighting than FER2013's crops.",
}


@dataclass
class Sources:
    """What a card is made from: one zoo model's folder and its siblings."""

    model: zoo.ZooModel
    summary: dict[str, Any]
    calibration: dict[str, Any] | None
    robustness: dict[str, Any] | None
    #: results of the same checkpoint on the same dataset with another test-time augmentation
    siblings: dict[str, dict[str, Any]] = field(default_factory=dict)  # tta -> summary
    #: (folder, cross_dataset.json, summary.json) of the same checkpoint tested elsewhere
    cross: list[tuple[Path, dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    #: folders of the siblings (tta -> folder)
    sibling_folders: dict[str, Path] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return self.model.folder


def _json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _checkpoint_key(summary: dict[str, Any]) -> str | None:
    """A result's checkpoint, the same wherever the runs folder was (``runs/...`` onwards)."""
    ckpt = summary.get("checkpoint")
    if not ckpt:
        return None
    ckpt = Path(ckpt).as_posix()
    return ckpt[ckpt.rfind("runs/") :] if "runs/" in ckpt else ckpt


def gather(model: zoo.ZooModel, root: Path | None = None) -> Sources:
    """The files of ``model``'s folder and of the results made with the same checkpoint
    (in ``results/<experiment>/``)."""
    root = root or zoo.ZOO_DIR
    summary = json.loads((model.folder / zoo.SUMMARY).read_text())
    sources = Sources(
        model,
        summary,
        _json(model.folder / zoo.CALIBRATION),
        _json(model.folder / ROBUSTNESS),
    )
    key = _checkpoint_key(summary)
    experiment = root / model.name.split("/")[0]
    if key is None or not experiment.is_dir():
        return sources
    for path in sorted(experiment.rglob(zoo.SUMMARY)):
        folder = path.parent
        if folder.resolve() == model.folder.resolve():
            continue
        other = json.loads(path.read_text())
        if _checkpoint_key(other) != key:
            continue
        cross = _json(folder / CROSS)
        if cross is not None:
            sources.cross.append((folder, cross, other))
        elif other.get("dataset") == summary.get("dataset"):
            tta = other.get("tta") or "none"
            if tta != (summary.get("tta") or "none") and tta not in sources.siblings:
                sources.siblings[tta] = other
                sources.sibling_folders[tta] = folder
    return sources


# ---------------------------------------------------------------------------- formatting
def _pct(value: Any, digits: int = 2) -> str:
    return "n/a" if value is None else f"{100 * value:.{digits}f} %"


def _ci(pair: Any) -> str:
    return "" if not pair else f" [{100 * pair[0]:.2f}, {100 * pair[1]:.2f}]"


def _rel(path: Path | str) -> str:
    """A path relative to the repository where it is inside it."""
    p = Path(path)
    try:
        return p.resolve().relative_to(zoo.ZOO_DIR.parent.resolve()).as_posix()
    except ValueError:
        return str(path)


def _population(dataset: str | None) -> str:
    key = (dataset or "").lower().replace("+", "plus").replace("-", "").replace("_", "")
    return POPULATIONS.get(key, f"{dataset}: see the dataset's own documentation.")


def accuracies(summary: dict[str, Any]) -> list[str]:
    """Both accuracies: the paper protocol's and without the test images copied from training."""
    n = summary.get("test_images")
    lines = [
        f"paper protocol: {_pct(summary.get('test_accuracy'))}"
        f"{_ci(summary.get('test_accuracy_ci95'))} on {n:,} test images"
        if n
        else f"paper protocol: {_pct(summary.get('test_accuracy'))}"
    ]
    copies = summary.get("copies") or {}
    if summary.get("test_accuracy_no_copies") is not None:
        lines.append(
            f"without the {copies.get('exact', '?')} exact copies of training images: "
            f"{_pct(summary['test_accuracy_no_copies'])} on "
            f"{summary.get('test_images_no_copies', '?'):,} images"
        )
    if summary.get("test_accuracy_no_near_copies") is not None:
        lines.append(
            f"without the {copies.get('near', '?')} exact or near copies: "
            f"{_pct(summary['test_accuracy_no_near_copies'])} on "
            f"{summary.get('test_images_no_near_copies', '?'):,} images"
        )
    return lines


def worst_drops(robustness: dict[str, Any] | None, k: int = 3) -> list[dict[str, Any]]:
    """The ``k`` perturbations that cost the most accuracy, worst first."""
    if not robustness:
        return []
    rows = [r for r in robustness.get("rows", []) if r.get("name") != "clean"]
    return sorted(rows, key=lambda r: r["change"])[:k]


def ece_parts(sources: Sources) -> list[str]:
    """The test ECE of the single-image and the ten-crop result of these weights."""
    by_tta = {(sources.summary.get("tta") or "none"): sources.summary, **sources.siblings}
    return [
        f"{_pct(by_tta[tta]['ece'])} {label}"
        for tta, label in (("none", "single image"), ("ten_crop", "ten-crop"))
        if by_tta.get(tta, {}).get("ece") is not None
    ]


def calibration_line(sources: Sources) -> str:
    """ECE of the single-image (and ten-crop) test, and the temperature with its effect."""
    parts = [f"ECE {text}" for text in ece_parts(sources)]
    cal = sources.calibration
    if cal:
        parts.append(
            f"temperature {cal['temperature']:.3f} fitted on the {cal['fitted_on']}: test ECE "
            f"{_pct(cal['ece_test_before'])} -> {_pct(cal['ece_test_after'])}"
        )
    else:
        parts.append(f"no temperature fitted (fer-lightning calibrate {sources.model.name})")
    return "; ".join(parts)


def short(model: zoo.ZooModel) -> str:
    """``recognize --about`` for a zoo model: its card in a few lines (JSON reading only)."""
    sources = gather(model)
    r, s = model.record, sources.summary
    classes = r.get("class_names") or []
    drops = worst_drops(sources.robustness)
    robust = (
        "robustness, worst drops: "
        + ", ".join(f"{d['name']} {100 * d['change']:+.1f} points" for d in drops)
        if drops
        else f"robustness: not measured yet (fer-lightning robustness --ckpt {model.name})"
    )
    acc = accuracies(s)
    return "\n".join(
        [
            f"zoo model {model.name}: {_rel(model.weights)} ({r.get('backbone')} + "
            f"{r.get('head')} head, {r.get('dtype')}, sha256 {r.get('sha256', '')[:12]}…)",
            f"classes ({len(classes)}): {', '.join(classes)}; input {r['input']['image_size']}x"
            f"{r['input']['image_size']} {r['input'].get('color')}, tight frontal face crops",
            f"test on {r.get('dataset')} split {r.get('split')} (tta {r.get('tta')}): {acc[0]}",
            *(f"  {line}" for line in acc[1:]),
            f"calibration: {calibration_line(sources)}"
            + ("; recognize uses it (--no-calibration: raw)" if model.temperature else ""),
            robust,
            f"full card: {_rel(model.folder / FILENAME)}",
        ]
    )


# ---------------------------------------------------------------------------- full card
def _table(rows: list[list[str]], align: str) -> str:
    head, *body = rows
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def per_class(folder: Path) -> str:
    """Precision, recall, F1 and support per class, from ``report.csv``."""
    path = folder / layout.REPORT_CSV
    if not path.is_file():
        return "report.csv is missing."
    rows = [["class", "precision %", "recall %", "F1 %", "test images"]]
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            if not row.get("precision"):
                continue  # the accuracy line
            rows.append(
                [
                    row["class"],
                    f"{100 * float(row['precision']):.1f}",
                    f"{100 * float(row['recall']):.1f}",
                    f"{100 * float(row['f1']):.1f}",
                    str(int(float(row["support"]))),
                ]
            )
    return _table(rows, ["---", "---:", "---:", "---:", "---:"])


def confusion(folder: Path) -> str:
    """The test confusion matrix (counts), from ``confusion_matrix_test.csv``."""
    path = folder / "confusion_matrix_test.csv"
    if not path.is_file():
        return "confusion_matrix_test.csv is missing."
    with path.open(newline="") as fh:
        rows = [row for row in csv.reader(fh)]
    rows[0][0] = "true \\ predicted"
    return _table(rows, ["---"] + ["---:"] * (len(rows[0]) - 1))


def robustness_section(sources: Sources) -> str:
    rob = sources.robustness
    name = sources.model.name
    tta = sources.summary.get("tta") or "none"
    if not rob:
        command = f"fer-lightning robustness --ckpt {name} --out {_rel(sources.folder)}"
        if tta != "none":
            command += f" --tta {tta}"
        text = f"Not measured yet: `{command}`."
        single = sources.sibling_folders.get("none")
        if single is not None and (single / ROBUSTNESS).is_file():
            text += f" The same weights on single images: `{_rel(single / FILENAME)}`."
        return text
    from fer_lightning.evaluation.robustness import Robustness, Row

    table = Robustness(
        [Row(**row) for row in rob["rows"]], rob["test_images"], rob["tta"], rob["ci_method"]
    ).markdown()
    drops = worst_drops(rob)
    worst = ", ".join(f"{d['name']} ({100 * d['change']:+.1f} points)" for d in drops)
    return (
        f"Accuracy on the {rob['test_images']:,} test images, each put through one change a "
        f"camera, a compression or an occluder makes (test-time augmentation {rob['tta']}); "
        "change: perturbed minus clean accuracy in points, with its paired 95 % interval "
        f"({rob['ci_method']}); predictions changed: share of test images whose predicted "
        f"class differs from the clean prediction. Worst: {worst}.\n\n{table}\n"
        + "\n".join(f"- `{r['name']}`: {r['description']}" for r in rob["rows"][1:])
    )


def cross_section(sources: Sources) -> str:
    if not sources.cross:
        return "No cross-dataset test of this checkpoint is published."
    rows = [["tested on", "split", "shared classes", "left out", "test images", "accuracy"]]
    for folder, cross, summary in sources.cross:
        left = [f"model: {c}" for c in cross.get("model_only", [])]
        left += [f"data: {c}" for c in cross.get("data_only", [])]
        rows.append(
            [
                f"{summary.get('dataset')} (`{_rel(folder)}`)",
                str(summary.get("split")),
                ", ".join(cross.get("shared", [])),
                ", ".join(left) or "none",
                f"{summary.get('test_images', 0):,}",
                f"{_pct(summary.get('test_accuracy'))}{_ci(summary.get('test_accuracy_ci95'))}",
            ]
        )
    return (
        "The same checkpoint tested on another dataset, over the classes both share (the "
        "others' images and outputs left out):\n\n" + _table(rows, ["---"] * 4 + ["---:", "---:"])
    )


def markdown(model: zoo.ZooModel) -> str:
    """The full model card of ``model``."""
    sources = gather(model)
    r, s = model.record, sources.summary
    p = r.get("provenance") or {}
    inp = r.get("input") or {}
    command = sources.folder / layout.COMMAND_TXT
    cal = sources.calibration
    dataset = r.get("dataset")
    lines = [
        f"# Model card: {model.name}",
        "",
        f"Generated by `fer-lightning card {model.name}` from the files of `{_rel(model.folder)}`"
        " (do not edit by hand).",
        "",
        "## Model",
        "",
        f"- name: `{model.name}` (`--ckpt {model.name}`, `--ckpt_path {model.name}`)",
        f"- architecture: {r.get('backbone')} backbone + {r.get('head')} head, "
        f"{s.get('parameters', 0):,} parameters, {len(r.get('class_names') or [])} classes: "
        f"{', '.join(r.get('class_names') or [])}",
        f"- weights: `{r.get('weights')}` ({r.get('bytes', 0) / 1e6:.1f} MB, {r.get('dtype')}), "
        f"SHA-256 `{r.get('sha256')}`",
        f"- input: {inp.get('image_size')}x{inp.get('image_size')} px, {inp.get('channels')} "
        f"channel(s) from {inp.get('color')} images, normalised with mean {inp.get('mean')}, "
        f"std {inp.get('std')}",
        f"- trained: experiment `{p.get('experiment')}`, {p.get('epochs')} epochs, seed "
        f"{p.get('seed')}, {p.get('precision')}, commit `{(p.get('git_commit') or '?')[:12]}`",
        "",
        "## Intended use and limits",
        "",
        "- For research and demonstrations of facial *expression* recognition: which of "
        f"{len(r.get('class_names') or [])} prototypical expressions a face crop shows most.",
        f"- Input: a {inp.get('image_size')}x{inp.get('image_size')} {inp.get('color')} crop "
        "of one face, tight and frontal, as FER2013's crops are (`recognize` finds and crops "
        "faces with a margin that matches them). Profiles, small or blurred faces, heavy "
        "compression and covered mouths are outside what it was tested on well: see Robustness.",
        f"- Data: {_population(dataset)}",
        *(
            f"- Tested also on {_population(summary.get('dataset'))}"
            for _, _, summary in sources.cross
        ),
        "- Accuracy differs between groups of people and was not measured per group; the "
        "datasets' populations are not those of any particular use.",
        "- An expression is not an emotion: a smile is not happiness, and posed or masked "
        "expressions are common. Do not use the model for decisions about people (hiring, "
        "policing, health, education, credit) or to infer what anyone feels.",
        "",
        "## Data and protocol",
        "",
        f"- dataset {dataset}, split `{r.get('split')}`; test images: {s.get('test_images', 0):,}"
        f" (test set fingerprint `{s.get('test_set') or s.get('test_fingerprint')}`), test-time "
        f"augmentation: {s.get('tta')}",
        f"- checkpoint selection: {s.get('checkpoint_selection') or 'n/a'}; checkpoint "
        f"`{p.get('checkpoint') or s.get('checkpoint')}`",
        f"- command: `{command.read_text().strip() if command.is_file() else 'n/a'}`",
        "",
        "## Accuracy",
        "",
        *(f"- {line}" for line in accuracies(s)),
        f"- macro F1 {_pct(s.get('macro_f1'))}{_ci(s.get('macro_f1_ci95'))}; interval "
        f"method: {s.get('ci_method', 'n/a')}",
    ]
    if s.get("copies"):
        lines.append(f"- copies: {s['copies'].get('method')}")
    for tta, other in sources.siblings.items():
        lines.append(
            f"- the same weights with test-time augmentation {tta}: "
            f"{accuracies(other)[0]} (`{_rel(sources.sibling_folders[tta])}`)"
        )
    lines += [
        "",
        "### Per class (test)",
        "",
        per_class(sources.folder),
        "",
        "### Confusion matrix (test, counts)",
        "",
        confusion(sources.folder),
        "",
        "## Calibration",
        "",
        f"- expected calibration error ({s.get('ece_bins', 15)} bins, top label): "
        + ("; ".join(ece_parts(sources)) or "n/a"),
    ]
    if cal:
        lines += [
            f"- temperature T = {cal['temperature']:.4f}, fitted on the {cal['fitted_on']} "
            f"(validation NLL {cal['nll_before']:.4f} -> {cal['nll_after']:.4f}); stored in "
            "`model.json`; `recognize` divides the logits by T before the softmax "
            "(`--no-calibration`: raw)",
            f"- test ECE of the published predictions (test-time augmentation "
            f"{cal.get('test_tta')}) before "
            f"{_pct(cal['ece_test_before'])}, after {_pct(cal['ece_test_after'])}",
            f"- method: {cal['method']}",
        ]
    else:
        lines.append(f"- no temperature fitted yet: `fer-lightning calibrate {model.name}`")
    lines += [
        "",
        "## Cross-dataset",
        "",
        cross_section(sources),
        "",
        "## Robustness",
        "",
        robustness_section(sources),
        "",
    ]
    shipped = zoo.default()
    if shipped is not None and shipped.name == model.name:
        from fer_lightning.results import default_choice

        lines += [
            "## Why this model is the default",
            "",
            default_choice.section(default_choice.candidates()),
            "",
        ]
    return "\n".join(lines)


def write(model: zoo.ZooModel) -> Path:
    """``MODEL_CARD.md`` in the model's folder."""
    path = model.folder / FILENAME
    text = markdown(model)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path
