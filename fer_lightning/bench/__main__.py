"""``python -m fer_lightning.bench`` (``make bench``): run the three measurements, write
``benchmarks/results.json`` and ``benchmarks/BENCHMARKS.md``."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from fer_lightning.bench import dataprep, harness, pipeline, precision, recognition, startup
from fer_lightning.bench.common import load_average, machine
from fer_lightning.bench.report import markdown


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m fer_lightning.bench", description=__doc__)
    p.add_argument("--out", default="benchmarks", help="folder for results.json, BENCHMARKS.md")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds per measurement")
    p.add_argument("--steps", type=int, default=30, help="training steps per harness run")
    p.add_argument("--samples", type=int, default=3200, help="samples per loader measurement")
    p.add_argument("--quick", action="store_true", help="1 round, few steps: checks that it runs")
    p.add_argument("--skip-data-prep", action="store_true", help="no cold/warm measurement")
    p.add_argument("--skip-recognition", action="store_true", help="no detector / video figures")
    p.add_argument(
        "--experiments",
        nargs="+",
        default=["baseline_fer2013", "resnet18_fer2013"],
        help="experiments whose input pipeline is measured against their model",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.steps, args.samples = 1, 8, 640
    return args


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse(argv)
    started = time.perf_counter()
    results: dict = {
        "command": "make bench" + (f" ARGS={shlex.quote(' '.join(argv))}" if argv else ""),
        "machine": machine(),
        "load_average_at_start": load_average(),
        "note": (
            "Measured on a CPU shared with other jobs, so absolute images/s vary with their "
            "load. To keep the ratios fair the two sides are measured together: the harness "
            "in lockstep (step by step), the pipeline alternately within each round; each "
            "ratio is the median over rounds."
        ),
    }
    log = print
    results["harness"] = harness.measure(
        "baseline_fer2013",
        args.rounds,
        args.steps,
        warmup=min(5, args.steps // 2),
        batch_size=64,
        log=log,
    )
    results["precision"] = precision.measure(
        "baseline_fer2013",
        args.rounds,
        args.steps,
        warmup=min(5, args.steps // 2),
        batch_size=64,
        log=log,
    )
    results["startup"] = startup.measure(runs=1 if args.quick else 5, log=log)
    results["pipeline"] = [
        pipeline.measure(
            exp, args.rounds, args.samples, model_steps=max(6, args.steps // 2), log=log
        )
        for exp in args.experiments
    ]
    if not args.skip_data_prep:
        results["data_prep"] = dataprep.measure("baseline_fer2013", warm_runs=3, log=log)
    if not args.skip_recognition:
        results["recognition"] = recognition.measure(
            rounds=1 if args.quick else 2, frames=32 if args.quick else 60, log=log
        )
    results["load_average_at_end"] = load_average()
    results["wall_clock_s"] = round(time.perf_counter() - started, 1)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "BENCHMARKS.md").write_text(markdown(results))
    print(f"wrote {out / 'results.json'} and {out / 'BENCHMARKS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
