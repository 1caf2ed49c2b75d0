"""``BENCHMARKS.md`` from the results dict."""

from __future__ import annotations

from typing import Any


def _met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    h = r["harness"]
    lines = [
        "# Benchmarks",
        "",
        f"Written by `{r['command']}` ({r['wall_clock_s']} s) on {m['date_utc']} UTC, "
        f"commit {m['git_commit'] or '?'}. Figures: `benchmarks/results.json`.",
        "",
        f"- machine: {m['cpu']}, {m['cores']} cores (torch uses {m['torch_threads']} threads)"
        + (f", GPU {m['gpu']}" if m["gpu"] else ", no GPU"),
        f"- {m['platform']}, Python {m['python']}, torch {m['torch']}, torchvision "
        f"{m['torchvision']}, lightning {m['lightning']}, albumentations {m['albumentations']}",
        f"- load average (1, 5, 15 min) at start {r['load_average_at_start']}, at end "
        f"{r['load_average_at_end']}",
        f"- {r['note']}",
        "",
        "## 1. Harness overhead",
        "",
        f"`{h['experiment']}` model, batch {h['batch_size']}, {h['steps']} training steps on "
        "random in-memory tensors, fp32; images/s over the steps after the first "
        f"{h['warmup_steps']}. Bare loop: forward, cross-entropy, backward, Adam step. "
        "Lightning: `Trainer.fit` with the model's metrics and logging and the package's "
        "training callbacks (FiniteLoss, EpochSeed, TrainingSpeed); no progress bar, logger or "
        "checkpoint (per-epoch costs). The two run in lockstep: after each Lightning step a "
        "callback runs one bare step of a twin model, and each loop is timed only while it "
        "runs, so a shared CPU's changing load falls on both alike.",
        "",
        "| round | bare loop img/s | Lightning img/s | ratio |",
        "|---:|---:|---:|---:|",
    ]
    for i, (row, ratio) in enumerate(zip(h["rounds"], h["round_ratios"], strict=True), 1):
        lines.append(f"| {i} | {row['bare']:.1f} | {row['lightning']:.1f} | {ratio:.3f} |")
    lines += [
        "",
        f"**Ratio (median of rounds): {h['ratio']:.3f}** — goal ≥ {h['goal']}: "
        f"{_met(h['ratio'] >= h['goal'])}.",
        "",
        "## 2. Input pipeline vs model",
        "",
        "Augmented images/s the training DataLoader delivers (the experiment's preset and "
        "batch size; after the workers started) against images/s the experiment's model trains "
        "on (bare loop, in-memory batches, same batch size). Each measured alone, alternately; "
        "medians over rounds. Ten-crop presets (`qutub2023`) deliver ten images per sample. "
        "Worst pairing: the slowest loader round against the fastest model round.",
        "",
        "| experiment | data | augment | 1 worker | default workers | model consumes | "
        "ratio 1 worker | ratio default | worst pairing | goal ≥ 3 |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for p in r["pipeline"]:
        worst = min(row["default_workers"] for row in p["rounds"]) / max(
            row["model"] for row in p["rounds"]
        )
        lines.append(
            f"| {p['experiment']} | {p['data']} | {p['augment']} | "
            f"{p['one_worker_images_per_s']:.0f} | {p['default_workers_images_per_s']:.0f} "
            f"({p['default_workers']}) | {p['model_images_per_s']:.0f} | "
            f"{p['ratio_one_worker']:.2f} | {p['ratio_default_workers']:.2f} | {worst:.2f} | "
            f"{_met(min(worst, p['ratio_default_workers']) >= p['goal'])} |"
        )
    d = r.get("data_prep")
    lines += ["", "## 3. Data preparation to the first batch", ""]
    if d is None:
        lines.append("Not measured (the real FER2013 was not found, or --skip-data-prep).")
    else:
        lines += [
            f"`{d['experiment']}` on {d['data']}: setup (list the files, decode or load the "
            "cache, split) and the first training batch (default workers, augmentation).",
            "",
            "| start | setup s | first batch s | total s |",
            "|---|---:|---:|---:|",
            f"| cold | {d['cold']['setup_s']:.2f} | {d['cold']['first_batch_s']:.2f} | "
            f"{d['cold']['total_s']:.2f} |",
        ]
        for i, w in enumerate(d["warm"], 1):
            lines.append(
                f"| warm {i} | {w['setup_s']:.2f} | {w['first_batch_s']:.2f} | {w['total_s']:.2f} |"
            )
        lines += [
            "",
            f"**Warm (median): {d['warm_median_s']:.2f} s** — goal ≤ {d['goal_warm_s']} s: "
            f"{_met(d['warm_median_s'] <= d['goal_warm_s'])}. {d['note']}",
        ]
    lines += precision_markdown(r.get("precision"))
    lines += startup_markdown(r.get("startup"))
    lines += recognition_section(r.get("recognition"))
    return "\n".join(lines) + "\n"


def _found(detector: dict[str, Any]) -> str:
    """`` (faces found per frame)`` where the record has it."""
    per_frame = detector.get("found_per_frame")
    return "" if per_frame is None else f" ({per_frame})"


def recognition_section(rec: dict[str, Any] | None) -> list[str]:
    """Detector recall on the real photos and recognize's speed on videos, Haar vs YuNet."""
    if not rec:
        return []
    p = rec["photos"]
    lines = [
        "",
        "## Recognition (Haar cascade vs YuNet)",
        "",
        f"Real photos (tests/data/photos): {p['photos']} photos, {p['faces']} faces.",
        "",
        "| detector | faces found | recall | false positives | ms / photo |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name in ("haar", "yunet"):
        d = p[name]
        lines.append(
            f"| {name} | {d['found']} | {d['recall']} | {d['false_positives']} "
            f"| {d['ms_per_photo']} |"
        )
    lines += [
        "",
        "| video | faces / frame | haar frames/s | haar faces/s (found / frame) "
        "| yunet frames/s | yunet faces/s (found / frame) | yunet / haar |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for v in rec["video"]:
        h, y = v["haar"], v["yunet"]
        per_frame = v.get("faces_per_frame", "?")
        lines.append(
            f"| {v['video']} | {per_frame} | {h['frames_per_s']} | {h['faces_per_s']}{_found(h)} "
            f"| {y['frames_per_s']} | {y['faces_per_s']}{_found(y)} | {v['yunet_over_haar_fps']} |"
        )
    sources = sorted({v["source"] for v in rec["video"] if v.get("source")})
    lines += [
        "",
        *(f"Videos: {s}; faces / frame: real faces wholly inside each frame." for s in sources),
    ]
    lines.append("")
    lines.append("Goal: at least 15 frames/s on 640x480 video with YuNet on 2 idle cores.")
    return lines


def precision_markdown(p: dict[str, Any] | None) -> list[str]:
    """Section 4: fp32 against the automatic precision (``fer_lightning.precision``)."""
    if p is None:
        return []
    lines = [
        "",
        "## 4. fp32 vs automatic precision",
        "",
        f"`{p['experiment']}` model, batch {p['batch_size']}, {p['steps']} training steps on "
        "random in-memory tensors in a bare loop (forward, cross-entropy, backward, Adam); bf16 "
        "= `torch.autocast('cpu', torch.bfloat16)` around the forward pass, as Lightning's "
        "`bf16-mixed`. The variants' steps are interleaved (each timed alone), images/s over "
        f"the steps after the first {p['warmup_steps']}. This CPU "
        + ("has" if p["cpu_native_bf16"] else "lacks")
        + f" native bf16, so the automatic choice is **{p['automatic_precision']}** "
        f"(`{p['automatic_variant']}`).",
        "",
        "| round | " + " | ".join(p["images_per_s"]) + " |",
        "|---:|" + "---:|" * len(p["images_per_s"]),
    ]
    for i, row in enumerate(p["rounds"], 1):
        lines.append(f"| {i} | " + " | ".join(f"{row[k]:.1f}" for k in p["images_per_s"]) + " |")
    lines += [
        "| ratio to fp32 (median) | "
        + " | ".join(f"{p['ratio_to_fp32'][k]:.3f}" for k in p["images_per_s"])
        + " |",
        "",
        f"**Automatic vs fp32: {p['automatic_vs_fp32']:.3f}x** images/s.",
    ]
    return lines


def startup_markdown(s: dict[str, Any] | None) -> list[str]:
    """Section 5: start-up seconds of the light commands."""
    if s is None:
        return []
    lines = [
        "",
        "## 5. Start-up",
        "",
        f"Wall seconds from launch to exit (`python -m fer_lightning ...`, a fresh interpreter "
        f"each), median of {s['runs']}.",
        "",
        "| command | median s | median CPU s | goal |",
        "|---|---:|---:|---|",
    ]
    for row in s["commands"]:
        ok = row["median_s"] <= s["goal_s"]
        lines.append(
            f"| `{row['command']}` | {row['median_s']:.2f} | {row['median_cpu_s']:.2f} | "
            f"≤ {s['goal_s']} s: {_met(ok)} |"
        )
    return lines
