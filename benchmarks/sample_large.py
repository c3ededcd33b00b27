"""Benchmark: generate the large sample tenant (2,000 subscriptions, >= 1M assessments) and print figures.

Runs `mdcnb sample --scale large --plain` (plain JSON Lines, as a pull writes them) in a child process (so its
peak memory is measured alone) into a temporary directory, prints wall time, peak RSS, record counts, bytes and
rates, then deletes the output.
Usage: .venv/bin/python benchmarks/sample_large.py [--scale large|N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="large")
    parser.add_argument("--keep", type=Path, help="write here and keep the output")
    args = parser.parse_args()
    out = args.keep or Path(tempfile.mkdtemp(prefix="mdcnb-large-")) / "ds"
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "mdcnb", "sample", "--out", str(out), "--scale", args.scale, "--plain"],
                   check=True)
    wall = time.monotonic() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    counts = json.loads((out / "manifest.json").read_text())["counts"]
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"scale={args.scale} subscriptions={counts['subscriptions']} assessments={counts['assessments']} "
          f"records={sum(counts.values())}")
    print(f"wall_s={wall:.1f} peak_rss_mb={peak_mb:.0f} size_mb={size / 1e6:.0f} "
          f"assessments_per_s={counts['assessments'] / wall:.0f} mb_per_s={size / 1e6 / wall:.1f}")
    if not args.keep:
        shutil.rmtree(out.parent)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
