"""Benchmark: read a generated tenant through the normalisers and the score/compliance analysis; print figures.

Generates `mdcnb sample --scale large` (2,000 subscriptions, >= 1M assessments) into a temporary directory
unless `--dataset DIR` names one, then, in a child process measured alone: `load_tables` wall time (normalising,
and again from the table cache, see `mdcnb.tables.cache`), rows per second through normalisation, peak RSS, and
the time of each analysis function on the loaded tables. `--runs N` repeats the cold load in N children and prints
the median. The bound: orjson decompressing and parsing the same record files, in 2 processes (each reads every
file and parses every other line), wall time and CPU time, and the cold load's ratio to each (this machine is
shared, so the CPU ratio is the steadier one). The load's CPU time and memory count its worker processes too
(`mdcnb.normalize.pooled`): CPU summed, the largest worker's peak RSS beside the loading process's own. Records the
ratios, the peak memory and the cached load for the README (benchmarks/_results.py). The children run with
`python -P`, so they measure the mdcnb of the interpreter's environment, not a checkout in the current folder.
Usage: .venv/bin/python benchmarks/load_tables.py [--scale large|N] [--dataset DIR] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import json, resource, sys, time
from mdcnb.analysis import compliance, score
from mdcnb.tables import load_tables
def cpu_s():  # this process and its worker processes (those it waited for)
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime
started, cpu = time.perf_counter(), cpu_s()
tables = load_tables(sys.argv[1])
figures = {"load_s": time.perf_counter() - started, "load_cpu_s": cpu_s() - cpu,
           "rows": {name: len(frame) for name, frame in tables.items()},
           "load_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "load_worker_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}
started = time.perf_counter()
load_tables(sys.argv[1])
figures["cached_load_s"] = time.perf_counter() - started
steps = {
    "score.scopes+overall": lambda: score.overall(score.scopes(tables)),
    "score.controls": lambda: score.controls(tables),
    "score.recompute_controls": lambda: score.recompute_controls(tables),
    "compliance.standards+rollup": lambda: compliance.rollup(compliance.standards(tables)),
    "compliance.failing_controls": lambda: compliance.failing_controls(tables),
}
for name, step in steps.items():
    started = time.perf_counter()
    step()
    figures[name + "_s"] = time.perf_counter() - started
figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(figures))
"""


BOUND = """
import gzip, sys, time, orjson
from mdcnb.sources.dataset import RECORD_TYPES, existing_record_path
part, parts = int(sys.argv[2]), int(sys.argv[3])
cpu = time.process_time()
for record_type in RECORD_TYPES:
    path = existing_record_path(sys.argv[1], record_type)
    if path is None:
        continue
    with (gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")) as fh:
        for number, line in enumerate(fh):
            if number % parts == part and line.strip():
                orjson.loads(line)
print(time.process_time() - cpu)
"""
PROCESSES = 2


def orjson_bound(dataset: Path) -> tuple[float, float]:
    """(wall, CPU seconds) of orjson decompressing and parsing the dataset's record files in `PROCESSES` processes."""
    started = time.perf_counter()
    children = [subprocess.Popen([sys.executable, "-P", "-c", BOUND, str(dataset), str(k), str(PROCESSES)],
                                 stdout=subprocess.PIPE, text=True) for k in range(PROCESSES)]
    cpu = sum(float(child.communicate()[0]) for child in children)
    return time.perf_counter() - started, cpu


def record(figures: dict, bound_s: float, bound_cpu_s: float, runs: int, scope: dict) -> None:
    """The README's rows (benchmarks/_results.py): the cold load against the bound, its peak memory, the cached load."""
    from _results import write

    wall, cpu = figures["load_s"] / bound_s, figures["load_cpu_s"] / bound_cpu_s
    where = f"{scope['subscriptions']:,} subscriptions, {figures['rows']['assessments']:,} assessments"
    write(__file__, [
        {"id": "load.vs_orjson", "value": round(wall, 2), "unit": "x", "cpu_ratio": round(cpu, 2),
         "text": f"{wall:.1f}× wall ({figures['load_s']:.0f} s vs {bound_s:.1f} s, median of {runs}), {cpu:.1f}× CPU "
                 f"({figures['load_cpu_s']:.0f} s vs {bound_cpu_s:.1f} s); {where}"},
        {"id": "load.peak_memory", "value": round(figures["load_peak_rss_mb"]), "unit": "MB",
         "text": f"{figures['load_peak_rss_mb'] / 1024:.2f} GB peak RSS (normalising and writing the cache; each "
                 f"worker process at most {figures['load_worker_peak_rss_mb'] / 1024:.2f} GB)"},
        {"id": "load.cached", "measure": "`load_tables` from the table cache, same tenant", "target": "",
         "value": round(figures["cached_load_s"], 2), "unit": "s", "text": f"{figures['cached_load_s']:.1f} s"},
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="large")
    parser.add_argument("--dataset", type=Path, help="an existing dataset (nothing is generated or deleted)")
    parser.add_argument("--runs", type=int, default=1, help="cold loads to take the median of")
    args = parser.parse_args()
    dataset = args.dataset
    if dataset is None:
        dataset = Path(tempfile.mkdtemp(prefix="mdcnb-load-")) / "ds"
        subprocess.run([sys.executable, "-m", "mdcnb", "sample", "--out", str(dataset), "--scale", args.scale,
                        "--plain"], check=True, stdout=subprocess.DEVNULL)
    bound_s, bound_cpu_s = orjson_bound(dataset)
    runs = []
    for _ in range(args.runs):
        cache = tempfile.mkdtemp(prefix="mdcnb-cache-")
        env = {**os.environ, "MDCNB_CACHE_DIR": cache, "MDCNB_TABLE_CACHE": "on"}
        result = subprocess.run([sys.executable, "-P", "-c", CHILD, str(dataset)], check=True, capture_output=True,
                                text=True, env=env)
        shutil.rmtree(cache)
        runs.append(json.loads(result.stdout))
    figures = sorted(runs, key=lambda f: f["load_s"])[len(runs) // 2]  # the median run
    records = sum(n for name, n in figures["rows"].items() if name not in ("offerings", "plan_extensions"))
    print(f"dataset={dataset} assessments={figures['rows']['assessments']} rows={records} "
          f"skips={figures['rows']['skips']}")
    loads = ", ".join(f"{run['load_s']:.1f}" for run in runs)
    print(f"load_s={figures['load_s']:.1f} (median of {len(runs)}: {loads}) load_cpu_s={figures['load_cpu_s']:.1f} "
          f"rows_per_s={records / figures['load_s']:.0f} load_peak_rss_mb={figures['load_peak_rss_mb']:.0f} "
          f"(normalising and writing the cache entry; the largest worker process: "
          f"{figures['load_worker_peak_rss_mb']:.0f}) peak_rss_mb={figures['peak_rss_mb']:.0f} (then a cached "
          f"load beside it, and the analysis)")
    print(f"orjson_bound_s={bound_s:.1f} orjson_bound_cpu_s={bound_cpu_s:.1f} ({PROCESSES} processes) "
          f"load_vs_bound={figures['load_s'] / bound_s:.1f}x "
          f"load_cpu_vs_bound_cpu={figures['load_cpu_s'] / bound_cpu_s:.1f}x")
    print(" ".join(f"{name}={value:.2f}" for name, value in figures.items() if name.endswith("_s") and
                   name not in ("load_s", "load_cpu_s")))
    record(figures, bound_s, bound_cpu_s, len(runs), json.loads((dataset / "manifest.json").read_text())["scope"])
    if args.dataset is None:
        shutil.rmtree(dataset.parent)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
