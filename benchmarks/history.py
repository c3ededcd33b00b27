"""Benchmark: the history store on a large tenant: snapshot write, read back, diff and trends, file size, memory.

Generates a tenant with `mdcnb sample --scale N` (default 2,000 subscriptions, >= 1M assessments) into a temporary
directory (or uses `--dataset DIR`), loads its tables once, then writes it as two weekly snapshots of one store,
reads the second back, diffs the two and computes the trends. Prints one line of figures per step (one run each).
Usage: .venv/bin/python benchmarks/history.py [--scale large|N] [--dataset DIR]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mdcnb.analysis import diff
from mdcnb.analysis import history as trends
from mdcnb.tables import load_tables
from mdcnb.tables.history import HistoryStore
from mdcnb.tables.history_weeks import TREND_TABLES


def _timed(label: str, step):
    started = time.monotonic()
    result = step()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{label:<28} wall_s={time.monotonic() - started:7.2f}  peak_rss_mb={peak_mb:7.0f}", flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="large", help="sample scale when no --dataset is given")
    parser.add_argument("--dataset", type=Path, help="use this dataset instead of generating one")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mdcnb-history-bench-"))
    try:
        dataset = args.dataset
        if dataset is None:
            dataset = work / "ds"
            _timed("generate (mdcnb sample)", lambda: subprocess.run(
                [sys.executable, "-m", "mdcnb", "sample", "--out", str(dataset), "--scale", args.scale, "--plain",
                 "--weeks", "1"], check=True))
        tables = _timed("load_tables", lambda: load_tables(dataset))
        rows = sum(len(frame) for _, frame in tables.items())
        print(f"subscriptions={len(tables.subscriptions)} assessments={len(tables.assessments)} rows={rows}")
        path = work / "history.duckdb"
        with HistoryStore(path) as store:
            _timed("save week 1", lambda: store.save(tables, as_of="2026-11-16", source="bench", scope={"t": 1}))
            _timed("save week 2", lambda: store.save(tables, as_of="2026-11-23", source="bench", scope={"t": 1}))
            snap = _timed("save week 2 again (replace)", lambda: store.save(tables, as_of="2026-11-24",
                                                                             source="bench", scope={"t": 1}))
            back = _timed("load snapshot (all tables)", lambda: store.load(snap))
            weeks = _timed("load trend tables (2 wk)", lambda: {s.week: store.load(s, TREND_TABLES)
                                                               for s in store.snapshots()})
        same = all(back[name].equals(frame) for name, frame in tables.items())
        print(f"store_mb={path.stat().st_size / 1e6:.0f} (two weeks)  read back equal to written: {same}")
        changes = _timed("diff_tables", lambda: diff.diff_tables(tables, back))
        print(f"changes between identical weeks: {sum(changes.counts().values())}")
        # the score and pass-rate lines are measures over a snapshot's history (mdcnb.measures.history)
        _timed("plan coverage trend", lambda: trends.plan_coverage_trend(weeks))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
