"""What a benchmark measured, written where `benchmarks/readme.py` finds it (not a benchmark: `make bench` skips `_*`).

Each benchmark that produces a figure of the README's performance section calls `write(__file__, figures)` once at
the end: `benchmarks/results/<script name>.json` then holds the figures, the date, the machine (cores, memory, load
average), the git commit, the command line and the SHA-256 of the benchmark script's content.
`tests/test_bench_readme.py` fails when a script changed after its results were written (the hash differs) and
when the README's section is not what `readme.py` generates from the results.

A figure is a dict: `id` (a row of `benchmarks/targets.json`, or a new id: any benchmark can add rows), `value`
(a number, or null when it could not be measured), `unit`, `text` (the value as the README writes it) and, for a
row not in targets.json, `measure` and `target` (what it is and what it should reach).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).with_name("results")


def script_hash(script: str | Path) -> str:
    """SHA-256 of a benchmark script's bytes (git keeps content, not modification times)."""
    return hashlib.sha256(Path(script).read_bytes()).hexdigest()


def machine() -> dict[str, Any]:
    """Cores this process may use, total memory and the load average when the figures were taken."""
    pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    return {"cores": len(os.sched_getaffinity(0)), "ram_gb": round(pages * page_size / 2**30, 1),
            "load_average": [round(x, 1) for x in os.getloadavg()]}


def commit(root: Path) -> str:
    """The commit checked out when the figures are written (`+changes` when mdcnb/ differed from it)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "--short=10", "HEAD") or "unknown"
    return head + ("+changes" if git("status", "--porcelain", "--untracked-files=no", "--", "mdcnb") else "")


def write(script: str | Path, figures: list[dict[str, Any]], note: str = "") -> Path:
    """Record `figures` of `script` in `benchmarks/results/<name>.json`; returns the path."""
    script = Path(script).resolve()
    RESULTS.mkdir(exist_ok=True)
    document = {"benchmark": f"benchmarks/{script.name}", "script_sha256": script_hash(script),
                "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
                "commit": commit(script.parent), "command": " ".join([f"benchmarks/{script.name}", *sys.argv[1:]]),
                "note": note, "figures": figures}
    path = RESULTS / f"{script.stem}.json"
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"results: {path}", file=sys.stderr)
    return path
