"""Benchmark: how long a light `mdcnb` command takes, whole process (interpreter start, imports, the command, exit).

Runs each command `--runs` times (default 5) in a fresh `python -m mdcnb` and prints the median wall time and the
median CPU time (user + system, of the process and its children): `mdcnb cloudtrail volume --logs EMPTY` on an
empty folder, `mdcnb --help` and `mdcnb prices show`. On a shared machine the wall time carries the other jobs'
load; the CPU time is what the command itself costs. `--source DIR` measures another checkout of mdcnb instead
(e.g. a worktree of an older commit, its built extension copied in) and prints without recording.
Usage: .venv/bin/python benchmarks/startup.py [--runs N] [--source DIR]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = {"startup.cloudtrail_empty": ["cloudtrail", "volume", "--logs", "{empty}"],
            "startup.help": ["--help"], "startup.prices_show": ["prices", "show"]}
# `python -m mdcnb`, or (--source) the same with the editable install's finder of this checkout removed
LAUNCH = "import runpy; runpy.run_module('mdcnb', run_name='__main__', alter_sys=True)"
ELSEWHERE = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path if '__editable__' not in type(f).__module__]; "
             "sys.path.insert(0, {source!r}); ")
LABELS = {"startup.help": "`mdcnb --help`, whole process", "startup.prices_show": "`mdcnb prices show`, whole process"}


def timed(argv: list[str], launch: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of `mdcnb ARGV` in a fresh interpreter."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", launch, *argv], check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--source", type=Path, help="a checkout of mdcnb to measure instead (nothing recorded)")
    args = parser.parse_args()
    launch = (ELSEWHERE.format(source=str(args.source.resolve())) if args.source else "") + LAUNCH
    figures = []
    with tempfile.TemporaryDirectory() as empty:
        for id, argv in COMMANDS.items():
            argv = [a.replace("{empty}", empty) for a in argv]
            runs = [timed(argv, launch) for _ in range(args.runs)]
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            text = f"{wall:.2f} s wall, {cpu:.2f} s CPU (median of {args.runs} runs)"
            print(f"mdcnb {' '.join(argv)}: {text}; runs (wall s): " + ", ".join(f"{r[0]:.2f}" for r in runs))
            figure = {"id": id, "value": round(wall, 3), "unit": "s", "text": text, "cpu_s": round(cpu, 3)}
            if id in LABELS:
                figure.update(measure=LABELS[id], target="≤ 0.3 s")
            figures.append(figure)
    if args.source is None:
        from _results import write

        write(__file__, figures, note="wall time carries the shared machine's load; CPU time is the command's own")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
