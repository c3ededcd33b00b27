"""Benchmark: read a generated tenant through the normalisers and the score/compliance analysis; print figures.

Generates `mdcnb sample --scale large` (2,000 subscriptions, >= 1M assessments) into a temporary directory
unless `--dataset DIR` names one, then, in a child process measured alone: `load_tables` wall time (normalising,
and again from the table cache, see `mdcnb.tables.cache`), rows per second through normalisation, peak RSS, and
the time of each analysis function on the loaded tables.
Usage: .venv/bin/python benchmarks/load_tables.py [--scale large|N] [--dataset DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, resource, sys, time
from mdcnb.analysis import compliance, score
from mdcnb.tables import load_tables
started = time.perf_counter()
tables = load_tables(sys.argv[1])
figures = {"load_s": time.perf_counter() - started,
           "rows": {name: len(frame) for name, frame in tables.items()},
           "load_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="large")
    parser.add_argument("--dataset", type=Path, help="an existing dataset (nothing is generated or deleted)")
    args = parser.parse_args()
    dataset = args.dataset
    if dataset is None:
        dataset = Path(tempfile.mkdtemp(prefix="mdcnb-load-")) / "ds"
        subprocess.run([sys.executable, "-m", "mdcnb", "sample", "--out", str(dataset), "--scale", args.scale,
                        "--plain"], check=True, stdout=subprocess.DEVNULL)
    cache = tempfile.mkdtemp(prefix="mdcnb-cache-")
    env = {**os.environ, "MDCNB_CACHE_DIR": cache, "MDCNB_TABLE_CACHE": "on"}
    result = subprocess.run([sys.executable, "-c", CHILD, str(dataset)], check=True, capture_output=True, text=True,
                            env=env)
    shutil.rmtree(cache)
    figures = json.loads(result.stdout)
    records = sum(n for name, n in figures["rows"].items() if name not in ("offerings", "plan_extensions"))
    print(f"dataset={dataset} assessments={figures['rows']['assessments']} rows={records} "
          f"skips={figures['rows']['skips']}")
    print(f"load_s={figures['load_s']:.1f} rows_per_s={records / figures['load_s']:.0f} "
          f"load_peak_rss_mb={figures['load_peak_rss_mb']:.0f} (normalising and writing the cache entry) "
          f"peak_rss_mb={figures['peak_rss_mb']:.0f} (then a cached load beside it, and the analysis)")
    print(" ".join(f"{name}={value:.2f}" for name, value in figures.items() if name.endswith("_s") and
                   name != "load_s"))
    if args.dataset is None:
        shutil.rmtree(dataset.parent)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
