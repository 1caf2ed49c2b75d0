"""Run many ``fer-lightning`` command lines, each in its own forked process, for the price of
one interpreter start.

Importing torch and Lightning takes seconds; a table of bad inputs run one ``python -m
fer_lightning`` each would take minutes. This script imports the package once, then forks a
child per command line that runs ``fer_lightning`` as ``__main__`` (as ``python -m`` does:
an uncaught exception prints its traceback and exits 1, ``SystemExit`` sets the exit code) with
its own argv, environment, working directory, stdout and stderr. A child is a real process, so
nothing one case changes (environment, modules, W&B state) reaches another; up to one child
per CPU runs at a time.

Input on stdin, output on stdout, both JSON:
``[{"argv": [...], "env": {...}, "cwd": "..."}]`` -> ``[{"rc": 2, "stdout": "...",
"stderr": "..."}]``.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import tempfile
import traceback


def _child(case: dict, out_path: str, err_path: str) -> None:
    """Runs in the forked process; never returns."""
    code = 1
    try:
        with open(out_path, "w") as out, open(err_path, "w") as err:
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
        for key, value in case.get("env", {}).items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if case.get("cwd"):
            os.chdir(case["cwd"])
        sys.argv = ["fer-lightning", *case["argv"]]
        # imported by the parent only to share its imports; run it afresh, as python -m does
        sys.modules.pop("fer_lightning.__main__", None)
        try:
            runpy.run_module("fer_lightning", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exc:  # what the interpreter does with it
            if exc.code is None:
                code = 0
            elif isinstance(exc.code, int):
                code = exc.code
            else:
                print(exc.code, file=sys.stderr)
                code = 1
        except BaseException:  # noqa: BLE001 - an uncaught exception, as python prints it
            traceback.print_exc()
            code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def run_cases(cases: list[dict], jobs: int | None = None) -> list[dict]:
    """Run ``cases``, up to ``jobs`` (default: the CPU count) at a time; results in order."""
    import fer_lightning.cli  # noqa: F401 - import torch, Lightning and the package once
    import fer_lightning.main  # noqa: F401

    jobs = jobs or os.cpu_count() or 1
    codes: dict[int, int] = {}
    running: dict[int, int] = {}  # pid -> case index
    with tempfile.TemporaryDirectory() as tmp:
        for i, case in enumerate(cases):
            while len(running) >= jobs:
                pid, status = os.wait()
                codes[running.pop(pid)] = os.waitstatus_to_exitcode(status)
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(case, f"{tmp}/{i}.out", f"{tmp}/{i}.err")
            running[pid] = i
        while running:
            pid, status = os.wait()
            codes[running.pop(pid)] = os.waitstatus_to_exitcode(status)
        results = []
        for i in range(len(cases)):
            with open(f"{tmp}/{i}.out") as out, open(f"{tmp}/{i}.err") as err:
                results.append({"rc": codes[i], "stdout": out.read(), "stderr": err.read()})
    return results


if __name__ == "__main__":
    json.dump(run_cases(json.load(sys.stdin)), sys.stdout)
