"""Profile: where `mdcnb report`'s memory goes, process by process and cell by cell.

Runs `mdcnb report --dataset DIR` (its own empty table cache and history store, or `--state` to keep one between
runs: the second run is the weekly report) and samples every process of its tree every 0.1 s: the timeline of the
RSS of the parent, the stage-1 process and each kernel, and of their sum (what `benchmarks/report.py`
takes the peak of). Each kernel also records, through an IPython start-up file, the peak RSS of every cell it runs
(VmHWM, reset before each cell through /proc/self/clear_refs), so that a kernel's peak is traced to its notebook
and cell.
Usage: .venv/bin/python benchmarks/report_memory.py DATASET [--state DIR] [--workers N] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
STARTUP = '''\
def _mdcnb_memory_hooks(log):  # a closure: `reset` between two notebooks empties the kernel's namespace
    import json, os, time
    state = {}
    def hwm():
        with open("/proc/self/status") as fh:
            return next(int(l.split()[1]) * 1024 for l in fh if l.startswith("VmHWM"))
    def pre(info):
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        state.update(started=time.time(), source=info.raw_cell)
    def post(result):
        with open(log, "a") as fh:
            fh.write(json.dumps({"pid": os.getpid(), "start": state["started"], "end": time.time(), "hwm": hwm(),
                                 "rss": int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE"),
                                 "source": state["source"][:4000]}) + "\\n")
    get_ipython().events.register("pre_run_cell", pre)
    get_ipython().events.register("post_run_cell", post)
_mdcnb_memory_hooks(__import__("os").environ["MDCNB_CELL_LOG"])
del _mdcnb_memory_hooks
'''


def role(p: psutil.Process, root: int, first_child: list[int]) -> str:
    cmd = " ".join(p.cmdline())
    if p.pid == root:
        return "parent"
    if "ipykernel_launcher" in cmd:
        return f"kernel-{p.pid}"
    if not first_child:
        first_child.append(p.pid)
    # any other child is a kernel not started yet (its command line still the report's)
    return "stage1" if p.pid == first_child[0] else f"child-{p.pid}"


def notebook_of(source: str, notebooks: dict[str, list[str]]) -> tuple[str, int]:
    for name, cells in notebooks.items():
        for i, cell in enumerate(cells):
            if cell and cell.strip()[:4000] == source.strip()[:4000]:
                return name, i
    return "?", -1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--state", type=Path, help="table cache and history store folder (default: a new one)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("report_memory.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mdcnb-mem-") as tmp:
        state = args.state or Path(tmp) / "state"
        ipython = Path(tmp) / "ipython"
        (ipython / "profile_default" / "startup").mkdir(parents=True)
        (ipython / "profile_default" / "startup" / "00-mem.py").write_text(STARTUP)
        cells = Path(tmp) / "cells.jsonl"
        env = os.environ | {"MDCNB_CACHE_DIR": str(state / "cache"), "MDCNB_HISTORY": str(state / "history.duckdb"),
                            "IPYTHONDIR": str(ipython), "MDCNB_CELL_LOG": str(cells)}
        started = time.time()
        child = subprocess.Popen([sys.executable, "-m", "mdcnb", "report", "--dataset", str(args.dataset), "--out",
                                  str(Path(tmp) / "reports"), "--workers", str(args.workers)], cwd=REPO, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        root, first_child, timeline = psutil.Process(child.pid), [], []
        while child.poll() is None:
            sample: dict[str, int] = {}
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                break
            for p in procs:
                try:
                    sample[role(p, child.pid, first_child)] = p.memory_info().rss
                except psutil.Error:
                    continue
            timeline.append((round(time.time() - started, 2), sample))
            time.sleep(0.1)
        _, err = child.communicate()
        notebooks = {p.stem: ["".join(c["source"]) for c in json.loads(p.read_text())["cells"]]
                     for p in sorted((REPO / "notebooks").glob("*.ipynb"))}
        cell_rows = []
        for line in cells.read_text().splitlines() if cells.exists() else []:
            row = json.loads(line)
            name, index = notebook_of(row.pop("source"), notebooks)
            cell_rows.append({**row, "start": round(row["start"] - started, 2), "end": round(row["end"] - started, 2),
                              "notebook": name, "cell": index})
    peak_at = max(timeline, key=lambda t: sum(t[1].values()))
    result = {"exit": child.returncode, "stderr_tail": err.strip().splitlines()[-12:], "timeline": timeline,
              "cells": cell_rows, "peak": {"t": peak_at[0], "total_mb": round(sum(peak_at[1].values()) / 2**20),
                                          "by_process_mb": {k: round(v / 2**20) for k, v in peak_at[1].items()}}}
    args.out.write_text(json.dumps(result))
    summarise(result)
    return child.returncode


def summarise(result: dict) -> None:
    """Per process: its peak and when; the total's peak and its parts; each kernel's heaviest cells."""
    peaks: dict[str, tuple[float, int]] = {}
    for t, sample in result["timeline"]:
        for name, rss in sample.items():
            if rss > peaks.get(name, (0, 0))[1]:
                peaks[name] = (t, rss)
    print("exit", result["exit"], "; total peak", result["peak"])
    for name, (t, rss) in peaks.items():
        print(f"  {name:16} peak {rss / 2**20:7.0f} MB at {t:6.1f} s")
    step = max(1, len(result["timeline"]) // 60)
    for t, sample in result["timeline"][::step]:
        print(f"  t={t:6.1f} total {sum(sample.values()) / 2**20:6.0f} MB  "
              + " ".join(f"{k}={v / 2**20:.0f}" for k, v in sample.items()))
    for row in sorted(result["cells"], key=lambda r: -r["hwm"])[:25]:
        print(f"  pid {row['pid']} {row['notebook']:18} cell {row['cell']:3} {row['start']:6.1f}-{row['end']:6.1f} s "
              f"peak {row['hwm'] / 2**20:6.0f} MB, after {row['rss'] / 2**20:6.0f} MB")


if __name__ == "__main__":
    raise SystemExit(main())
