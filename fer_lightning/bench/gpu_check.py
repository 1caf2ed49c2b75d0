"""``make gpu-check`` (``python -m fer_lightning.bench.gpu_check``): on one GPU, a few dozen
bf16 training steps of every experiment family through the Lightning Trainer, on generated
inputs at the experiment's input size; images/s and peak GPU memory per experiment, beside
timm's published RTX 3090 AMP training figures at 224 px; then one ``strategy=ddp`` run on one
GPU over NCCL. Writes ``benchmarks/gpu_check.json`` and ``benchmarks/GPU_CHECK.md``.

The same code runs on the CPU (``--device cpu``, gloo instead of NCCL, bf16 autocast on the
CPU): that is what the tests run, with a few tiny steps.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.strategies import DDPStrategy

from fer_lightning.bench.common import build_model, built, learning_rate, machine
from fer_lightning.bench.harness import _with_adam, random_loader

#: One experiment of each family the experiments use (own CNNs, ResNet, EfficientNet, VGG,
#: GoogLeNet / Inception, DenseNet / MobileNet, ViT), at its own input size.
FAMILIES: dict[str, list[str]] = {
    "own CNNs": ["baseline_fer2013", "cnn_ckplus", "cnn_fer2013_clean"],
    "ResNet": [
        "resnet18_fer2013",
        "resnet18_rafdb",
        "resnet50_fer2013_scratch",
        "resnet50v2_fer2013",
    ],
    "EfficientNet": ["efficientnet_b0_fer2013", "efficientnet_b0_rafdb"],
    "VGG": ["vgg16_fer2013", "vgg19_fer2013", "vgg16_fer2013_scratch", "vgg13_ferplus_majority"],
    "GoogLeNet / Inception": ["googlenet_fer2013", "inception_v3_ckplus"],
    "DenseNet / MobileNet": ["densenet121_ckplus", "mobilenet_v2_ckplus"],
    "ViT": ["vit_b16_fer2013"],
}


def default_experiments() -> list[str]:
    """:data:`FAMILIES`' experiments, then the first experiment of every other backbone that an
    experiment uses: a backbone added with its experiment is checked without editing this
    file."""
    from fer_lightning.experiments import list_experiments, load_config

    found = list_experiments()

    def backbone(name: str) -> Any:
        return (load_config(found[name]).get("model") or {}).get("backbone")

    chosen = [name for names in FAMILIES.values() for name in names if name in found]
    covered = {backbone(name) for name in chosen}
    for name in found:
        if backbone(name) not in covered:
            chosen.append(name)
            covered.add(backbone(name))
    return chosen


#: timm's published training throughput, RTX 3090, AMP, 224 px (images/s): what an
#: experiment's backbone run at 224 px is compared with.
TIMM_RTX3090_AMP_TRAIN_224: dict[str, tuple[str, float]] = {
    "resnet18_fer2013": ("resnet18", 2764.0),
    "efficientnet_b0_fer2013": ("efficientnet_b0", 1459.0),
    "vgg16_fer2013": ("vgg16", 465.0),
    "vit_b16_fer2013": ("vit_base_patch16_224", 391.0),
}


class StepClock(L.Callback):
    """Wall time of every training step (the device synchronised first, so a step's time is
    its compute, not its launch)."""

    def __init__(self) -> None:
        self.stamps: list[float] = []

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if trainer.strategy.root_device.type == "cuda":
            torch.cuda.synchronize()
        self.stamps.append(time.perf_counter())


def train_steps(
    experiment: str,
    device: str,
    steps: int,
    warmup: int,
    batch_size: int | None = None,
    image_size: int | None = None,
    strategy: str = "auto",
) -> dict[str, Any]:
    """``steps`` bf16 training steps of the experiment's model under ``Trainer.fit``;
    images/s over the steps after ``warmup`` and the peak memory the device allocated."""
    lr = learning_rate(experiment)
    torch.manual_seed(0)
    model = _with_adam(build_model(experiment, image_size=image_size), lr)
    size, channels = model.hparams.image_size, model.hparams.in_chans
    batch = batch_size or built(experiment).datamodule.batch_size
    clock = StepClock()
    if strategy == "ddp":
        backend = "nccl" if device == "cuda" else "gloo"
        strategy_obj: Any = DDPStrategy(process_group_backend=backend)
    else:
        backend, strategy_obj = None, "auto"
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    trainer = L.Trainer(
        accelerator=device,
        devices=1,
        strategy=strategy_obj,
        precision="bf16-mixed",
        max_steps=steps,
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        callbacks=[clock],
    )
    started = time.perf_counter()
    trainer.fit(model, train_dataloaders=random_loader(model, steps, batch))
    wall = time.perf_counter() - started
    timed = clock.stamps[warmup:]
    images_per_s = (len(timed) - 1) * batch / (timed[-1] - timed[0]) if len(timed) > 1 else None
    peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else None
    row: dict[str, Any] = {
        "experiment": experiment,
        "backbone": model.hparams.backbone,
        "input": f"{size}x{size}x{channels}",
        "batch_size": batch,
        "steps": len(clock.stamps),
        "images_per_s": round(images_per_s, 1) if images_per_s else None,
        "peak_memory_mib": round(peak) if peak is not None else None,
        "wall_s": round(wall, 1),
        "finite_weights": all(torch.isfinite(p).all().item() for p in model.parameters()),
    }
    if strategy == "ddp":
        row["strategy"] = "ddp"
        row["process_group_backend"] = backend
        if torch.distributed.is_initialized():
            row["process_group_backend"] = torch.distributed.get_backend()
            torch.distributed.destroy_process_group()  # the next runs are single-process
    return row


def run(
    device: str,
    steps: int,
    warmup: int,
    experiments: list[str],
    reference: bool,
    batch_size: int | None = None,
    log: Any = print,
) -> dict[str, Any]:
    rows, references = [], []
    for name in experiments:
        rows.append(train_steps(name, device, steps, warmup, batch_size))
        log(f"{name}: {rows[-1]['images_per_s']} img/s, peak {rows[-1]['peak_memory_mib']} MiB")
    if reference:  # the backbones timm measured, at timm's 224 px and a batch of 256
        for name, (timm_name, published) in TIMM_RTX3090_AMP_TRAIN_224.items():
            row = train_steps(name, device, steps, warmup, batch_size or 256, image_size=224)
            row.update(timm_model=timm_name, timm_rtx3090_amp_train_224=published)
            references.append(row)
            log(f"{name} at 224 px: {row['images_per_s']} img/s (timm RTX 3090: {published})")
    ddp = train_steps(experiments[0], device, steps, warmup, batch_size, strategy="ddp")
    log(f"ddp on 1 device ({ddp['process_group_backend']}): {ddp['images_per_s']} img/s")
    return {"device": device, "rows": rows, "reference_224": references, "ddp": ddp}


def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    where = m["gpu"] if r["device"] == "cuda" else f"CPU ({m['cpu']}, {m['cores']} cores)"
    lines = [
        "# GPU check",
        "",
        f"Written by `{r['command']}` ({r['wall_clock_s']} s) on {m['date_utc']} UTC, commit "
        f"{m['git_commit'] or '?'}, on {where}; torch {m['torch']}, lightning {m['lightning']}.",
        "",
        f"`Trainer.fit`, precision `bf16-mixed`, {r['steps']} steps on generated inputs at the "
        f"experiment's input size and batch size; images/s over the steps after the first "
        f"{r['warmup']}; peak = `torch.cuda.max_memory_allocated`. Ten-crop experiments train "
        "on single crops here (one image per sample).",
        "",
        "| experiment | backbone | input | batch | images/s | peak MiB | finite |",
        "|---|---|---|---:|---:|---:|---|",
    ]

    def fmt(v: Any) -> str:
        return "n/a" if v is None else f"{v:,}"

    for row in r["rows"]:
        lines.append(
            f"| {row['experiment']} | {row['backbone']} | {row['input']} | {row['batch_size']} "
            f"| {fmt(row['images_per_s'])} | {fmt(row['peak_memory_mib'])} | "
            f"{row['finite_weights']} |"
        )
    if r["reference_224"]:
        lines += [
            "",
            "At timm's 224 px, beside timm's published RTX 3090 AMP training figures:",
            "",
            "| backbone (experiment) | batch | images/s here | timm RTX 3090 AMP | ratio "
            "| peak MiB |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for row in r["reference_224"]:
            ips, pub = row["images_per_s"], row["timm_rtx3090_amp_train_224"]
            ratio = f"{ips / pub:.2f}" if ips else "n/a"
            lines.append(
                f"| {row['timm_model']} ({row['experiment']}) | {row['batch_size']} | "
                f"{fmt(ips)} | {pub:,.0f} | {ratio} | {fmt(row['peak_memory_mib'])} |"
            )
    d = r["ddp"]
    lines += [
        "",
        f"DDP: `strategy=ddp` on 1 device, process group `{d['process_group_backend']}`, "
        f"`{d['experiment']}`: {fmt(d['images_per_s'])} images/s, finite weights "
        f"{d['finite_weights']}.",
    ]
    return "\n".join(lines) + "\n"


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m fer_lightning.bench.gpu_check", description=__doc__)
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    p.add_argument("--steps", type=int, default=40, help="training steps per experiment")
    p.add_argument("--warmup", type=int, default=10, help="steps not timed")
    p.add_argument("--batch-size", type=int, default=None, help="default: the experiment's")
    p.add_argument("--out", default="benchmarks", help="folder for gpu_check.json, GPU_CHECK.md")
    p.add_argument(
        "--experiments",
        nargs="+",
        default=default_experiments(),
    )
    p.add_argument(
        "--no-reference", action="store_true", help="skip the 224 px runs of timm's backbones"
    )
    args = p.parse_args(argv)
    if args.warmup >= args.steps - 1:
        p.error(f"--warmup {args.warmup} leaves no timed steps of --steps {args.steps}")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print(
            "gpu-check: no CUDA GPU here (use --device cpu to run the same check on the CPU)",
            file=sys.stderr,
        )
        return 2
    started = time.perf_counter()
    results = run(
        args.device,
        args.steps,
        args.warmup,
        args.experiments,
        reference=not args.no_reference,
        batch_size=args.batch_size,
    )
    results.update(
        command="make gpu-check" + (f" ARGS='{' '.join(argv)}'" if argv else ""),
        machine=machine(),
        steps=args.steps,
        warmup=args.warmup,
        wall_clock_s=round(time.perf_counter() - started, 1),
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "GPU_CHECK.md").write_text(markdown(results))
    print(f"wrote {out / 'gpu_check.json'} and {out / 'GPU_CHECK.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
