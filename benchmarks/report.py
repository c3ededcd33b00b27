"""Benchmark: `mdcnb report` on the sample and on a generated 2,000-subscription tenant; print figures.

For each dataset: wall time and CPU seconds of the command, peak memory of its whole process tree (stage-1 process
and kernels, sampled every 0.2 s), the size of every HTML page, and whether it exited 0. Targets (issue 5): sample
under 60 s after set-up, large tenant under 10 minutes in under 4 GB, no page over 6 MB; issue 19: large tenant
under 60 s in under 2 GB.

Every run starts from an empty table cache and history store of its own (MDCNB_CACHE_DIR, MDCNB_HISTORY in a
temporary folder), so a figure never depends on what an earlier run left. The large tenant is reported twice, as a
user meets it: the first report of a new dataset (its tables normalised from the JSON files, its week stored in the
history store), then the weekly report after `mdcnb pull`, which has already cached the tables and stored the week
(measured as a second report of the same dataset: pull's own `snapshot.build` + `snapshot.record` are what stage 1
of the first report did), and the weekly report once more with one kernel (`--workers 1`): each kernel holds the
week's tables, so a second kernel buys time with memory. Those weekly runs have no previous week: the week a user
reports every Monday has one, which stage 1 reads from the store and writes into the snapshot, and the summary page
compares with. `--second-week DIR` (a tenant generated with `mdcnb sample --scale large --weeks 2 --plain`, whose
earlier week the first report stores; generated when neither it nor `--large` is given) measures that too: its
first report, then its weekly report.
Usage: .venv/bin/python benchmarks/report.py [--skip-large] [--large DIR] [--scale large|N] [--workers N]
       [--second-week DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
MDCNB = [sys.executable, "-m", "mdcnb"]
# seconds and GB: issue 19's for the large tenant's weekly report, issue 5's for the first report of a new dataset
TARGETS = {"sample": 60.0, "large": 60.0, "large_first": 600.0, "large_one_kernel": 60.0,
           "second_week_first": 600.0, "second_week": 60.0}
MEMORY_GB = {"large": 2.0, "large_first": 4.0, "large_one_kernel": 2.0, "second_week_first": 4.0, "second_week": 2.0}
MAX_PAGE_MB = 6.0


def tree_rss(process: psutil.Process) -> int:
    total = 0
    for p in [process, *process.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
    return total


def _children_cpu() -> float:
    """CPU seconds of every finished descendant (the command, its stage-1 process, its kernels): unlike wall time,
    this does not grow when other work shares the cores."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(args: list[str], state: Path | None = None) -> dict:
    """Run a command; wall time, peak RSS of its process tree, exit code and the last line it printed. `state`: the
    folder holding the command's table cache and history store."""
    env = os.environ | ({"MDCNB_CACHE_DIR": str(state / "cache"), "MDCNB_HISTORY": str(state / "history.duckdb")}
                        if state else {})
    started, cpu_before = time.perf_counter(), _children_cpu()
    child = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    process, peak = psutil.Process(child.pid), 0
    while child.poll() is None:
        peak = max(peak, tree_rss(process))
        time.sleep(0.2)
    out, err = child.communicate()
    return {"wall_s": round(time.perf_counter() - started, 1), "cpu_s": round(_children_cpu() - cpu_before, 1),
            "peak_rss_mb": round(peak / 2**20),
            "exit": child.returncode, "stdout": out.strip().splitlines()[-1:] or [""],
            "stderr_tail": err.strip().splitlines()[-5:]}


def report(dataset: Path | None, out: Path, workers: int, state: Path) -> dict:
    args = [*MDCNB, "report", "--out", str(out), "--workers", str(workers)]
    figures = measure(args + (["--dataset", str(dataset)] if dataset else []), state)
    index = Path(figures["stdout"][0]) if figures["stdout"][0].endswith("index.html") else None
    if index and index.exists():
        figures["pages_mb"] = {p.name: round(p.stat().st_size / 2**20, 2) for p in sorted(index.parent.glob("*.html"))}
        figures["notebooks_s"] = {n["name"]: n["seconds"] for n in
                                  json.loads((index.parent / "report.json").read_text())["pages"]}
    return figures


def verdict(name: str, figures: dict) -> str:
    pages = figures.get("pages_mb", {})
    target, memory = TARGETS[name], MEMORY_GB.get(name)
    checks = [f"exit {figures['exit']}",
              f"wall {figures['wall_s']} s (target < {target:.0f} s): {'ok' if figures['wall_s'] < target else 'OVER'}",
              f"CPU {figures['cpu_s']} s",
              f"peak memory {figures['peak_rss_mb']} MB"
              + (f" (target ≤ {memory:g} GB): {'ok' if figures['peak_rss_mb'] <= memory * 1024 else 'OVER'}"
                 if memory else ""),
              f"largest page {max(pages.values(), default=0)} MB (target < {MAX_PAGE_MB} MB): "
              f"{'ok' if max(pages.values(), default=0) < MAX_PAGE_MB else 'OVER'}"]
    return f"{name}: " + "; ".join(checks)


def record(results: dict[str, dict]) -> None:
    """The README's rows (benchmarks/_results.py): the report at 2,000 subscriptions (when run), and the sample's."""
    from _results import write

    weekly = " (weekly: after `mdcnb pull` cached its tables and stored its week; no previous week)"
    rows = {"large": ("report.large", None, None, weekly),
            "large_first": ("report.large_first", "first report of a new 2,000-subscription dataset (tables "
                            "normalised from JSON, week stored)", "< 600 s, < 4 GB", ""),
            "large_one_kernel": ("report.large_one_kernel", "weekly report at 2,000 subscriptions with one kernel "
                                 "(`--workers 1`)", "≤ 60 s, ≤ 2 GB", ""),
            "second_week": ("report.second_week", "weekly report at 2,000 subscriptions with the previous week "
                            "stored (what the summary page compares with)", "≤ 60 s, ≤ 2 GB", ""),
            "sample": ("report.sample", "report on the sample", "< 60 s", "")}
    figures = []
    for name, (id, label, target, how) in rows.items():
        f = results.get(name)
        if f is None or f["exit"] != 0:
            continue
        figure = {"id": id, "value": f["wall_s"], "unit": "s", "peak_rss_mb": f["peak_rss_mb"],
                  "text": f"{f['wall_s']:.0f} s wall ({f['cpu_s']:.0f} s CPU), {f['peak_rss_mb'] / 1024:.2f} GB "
                          f"peak memory of the process tree{how}"}
        figures.append(figure if label is None else {**figure, "measure": label, "target": target})
    write(__file__, figures)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-large", action="store_true", help="only the sample")
    parser.add_argument("--large", type=Path, help="an existing large dataset (default: generate one)")
    parser.add_argument("--scale", default="large", help="scale for the generated tenant (default: large)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--second-week", type=Path, help="a large tenant generated with --weeks 2: its first "
                        "report, then its weekly report (the previous week stored)")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="mdcnb-bench-") as tmp:
        results["sample"] = report(None, Path(tmp) / "sample-reports", args.workers, Path(tmp) / "sample-state")
        print(json.dumps({"sample": results["sample"]}, indent=1), flush=True)
        if not args.skip_large:
            dataset = args.large
            if dataset is None:
                dataset = Path(tmp) / "large"
                generated = measure([*MDCNB, "sample", "--out", str(dataset), "--scale", args.scale, "--plain"])
                print(json.dumps({"generate_large": generated}, indent=1), flush=True)
            # the same state: the second run finds what the first one left, the third too
            for name, workers in (("large_first", args.workers), ("large", args.workers), ("large_one_kernel", 1)):
                results[name] = report(dataset, Path(tmp) / f"{name}-reports", workers, Path(tmp) / "large-state")
                print(json.dumps({name: results[name]}, indent=1), flush=True)
            if args.large is None:
                shutil.rmtree(dataset, ignore_errors=True)
        second = args.second_week
        if second is None and args.large is None and not args.skip_large:
            second = Path(tmp) / "second-week"
            generated = measure([*MDCNB, "sample", "--out", str(second), "--scale", args.scale, "--weeks", "2",
                                 "--plain"])
            print(json.dumps({"generate_second_week": generated}, indent=1), flush=True)
        if second is not None:
            for name in ("second_week_first", "second_week"):
                results[name] = report(second, Path(tmp) / f"{name}-reports", args.workers,
                                       Path(tmp) / "second-week-state")
                print(json.dumps({name: results[name]}, indent=1), flush=True)
    for name, figures in results.items():
        print(verdict(name, figures))
    record(results)
    return 0 if all(f["exit"] == 0 for f in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
