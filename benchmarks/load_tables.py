"""Benchmark: read a generated tenant through the normalisers and the score/compliance analysis; print figures.

Generates `mdcnb sample --scale large` (2,000 subscriptions, >= 1M assessments) into a temporary directory
unless `--dataset DIR` names one, then, in a child process measured alone: `load_tables` wall time (normalising,
and again from the table cache, see `mdcnb.tables.cache`), rows per second through normalisation, peak RSS, and
the time of each analysis function on the loaded tables; then the bound it is compared with: the same record files
decompressed and parsed with orjson in as many processes (one JSON document per line, nothing kept). Records the
cold load's ratio to that bound and its peak memory (benchmarks/_results.py).
Usage: .venv/bin/python benchmarks/load_tables.py [--scale large|N] [--dataset DIR] [--processes P]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import orjson

from mdcnb.sources.dataset import RECORD_TYPES, existing_record_path

CHUNK = 64 << 20  # bytes of a plain file one worker parses at a time

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


def chunks(dataset: Path) -> list[tuple[str, int, int]]:
    """(path, start, end) pieces of the record files `load_tables` reads: a gzip file whole (end -1), a plain file
    in CHUNK-byte ranges (a worker starts after the first newline at or after `start`, ends at the line that
    crosses `end`)."""
    out = []
    for record_type in RECORD_TYPES:
        path = existing_record_path(dataset, record_type)
        if path is None:
            continue
        if path.suffix == ".gz":
            out.append((str(path), 0, -1))
        else:
            size = path.stat().st_size
            out += [(str(path), start, min(start + CHUNK, size)) for start in range(0, size, CHUNK)]
    return out


def parse(piece: tuple[str, int, int]) -> int:
    """Records in one piece, decompressed and parsed with orjson (the bound of a columnar load: nothing kept)."""
    path, start, end = piece
    if end < 0:
        with gzip.open(path, "rb") as fh:
            return sum(1 for line in fh.read().splitlines() if line.strip() and orjson.loads(line) is not None)
    records = 0
    with open(path, "rb") as fh:
        if start:
            fh.seek(start - 1)
            fh.readline()  # the line that began before `start` belongs to the previous piece
        while fh.tell() < end:
            line = fh.readline()
            if not line:
                break
            if line.strip():
                orjson.loads(line)
                records += 1
    return records


def orjson_bound(dataset: Path, processes: int) -> tuple[float, int]:
    """(seconds, records) to decompress and parse every record file with orjson in `processes` processes."""
    started = time.perf_counter()
    with Pool(processes) as pool:
        records = sum(pool.imap_unordered(parse, chunks(dataset)))
    return time.perf_counter() - started, records


def record(figures: dict, bound_s: float, processes: int, subscriptions: str) -> None:
    from _results import write

    ratio = figures["load_s"] / bound_s
    where = f"{subscriptions} subscriptions, {figures['rows']['assessments']:,} assessments"
    write(__file__, [
        {"id": "load.vs_orjson", "value": round(ratio, 2), "unit": "x",
         "text": f"{ratio:.1f}× ({figures['load_s']:.0f} s vs {bound_s:.1f} s for orjson in {processes} processes; "
                 f"{where})"},
        {"id": "load.peak_memory", "value": round(figures["load_peak_rss_mb"]), "unit": "MB",
         "text": f"{figures['load_peak_rss_mb'] / 1024:.2f} GB peak RSS (normalising and writing the cache)"},
        {"id": "load.cached", "measure": "`load_tables` from the table cache, same tenant", "target": "",
         "value": round(figures["cached_load_s"], 2), "unit": "s", "text": f"{figures['cached_load_s']:.1f} s"},
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="large")
    parser.add_argument("--dataset", type=Path, help="an existing dataset (nothing is generated or deleted)")
    parser.add_argument("--processes", type=int, default=2, help="processes of the orjson bound (default 2)")
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
    bound_s, parsed = orjson_bound(dataset, args.processes)
    print(f"orjson decompress+parse of the same files, {args.processes} processes: {bound_s:.1f} s "
          f"({parsed:,} records); cold load / bound = {figures['load_s'] / bound_s:.1f}x (target <= 2x)")
    subscriptions = json.loads((dataset / "manifest.json").read_text())["scope"]["subscriptions"]
    record(figures, bound_s, args.processes, f"{subscriptions:,}")
    if args.dataset is None:
        shutil.rmtree(dataset.parent)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
