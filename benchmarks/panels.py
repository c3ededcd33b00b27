"""Benchmark: median redraw time of each interactive panel after a filter change, on the sample and on a large tenant.

A redraw is one control change: every view of the panel recomputed and redrawn (`FilterPanel.refresh` through the
control's observer), or, for the cost what-if, one `CostExplorer.recompute`. Each turn picks another option of the
panel's control (then everything again: what a selection of everything computes, the snapshot keeps), so no even
turn redraws a selection seen before; the median and the slowest of `--repeat` redraws are printed per panel, as
wall time and as this process's CPU time (which other work on a shared machine does not inflate; the README's text
gives both). Targets (issue 19): at most 100 ms per redraw on the sample, at most 300 ms at 2,000
subscriptions.
Usage: .venv/bin/python benchmarks/panels.py [--large DIR] [--repeat N] [--snapshots DIR]
  (make the large tenant once: .venv/bin/python benchmarks/sample_large.py --keep DIR; `--snapshots DIR` keeps each
  dataset's built snapshot there and reads it on the next run instead of loading the dataset again)
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from IPython.core.interactiveshell import InteractiveShell

from mdcnb import widgets
from mdcnb.snapshot import Snapshot, build, read, write
from mdcnb.snapshot import cost as cost_page
from mdcnb.snapshot.stored import MANIFEST
from mdcnb.sources.dataset import default_dataset
from mdcnb.widgets import cost as cost_widgets

TARGETS_MS = {"sample": 100.0, "large": 300.0}


def _option(option: Any) -> Any:
    """An option's value (options are values or (label, value) pairs)."""
    return option[1] if isinstance(option, tuple) else option


def _toggles(panel: Any, name: str) -> Callable[[int], None]:
    """A change of control `name`: on turn t, the (t // 2)-th option alone on even turns, everything on odd ones."""
    control = panel.controls[name]
    options = [_option(o) for o in control.options]

    def change(turn: int) -> None:
        control.value = (options[(turn // 2) % len(options)],) if turn % 2 == 0 else ()
    return change


def panels(snap: Snapshot) -> dict[str, Callable[[int], None]]:
    """Per panel, one filter change to time (the control a reader reaches for first)."""
    score = widgets.score_explorer(snap)
    compliance = widgets.compliance_explorer(snap)
    coverage = widgets.coverage_explorer(snap)
    cloudtrail = widgets.cloudtrail_explorer(snap)
    summary = widgets.summary_explorer(snap)
    view = cost_page.cost_view(snap.tables, snap.prices)
    cost = cost_widgets.CostExplorer(view.units, view.settings, snap.prices)
    scenarios = cost.scenario.options

    def cost_change(turn: int) -> None:
        cost.scenario.value = scenarios[turn % len(scenarios)]
    return {"score": _toggles(score, "scopes"), "compliance": _toggles(compliance, "scopes"),
            "coverage": _toggles(coverage, "scopes"), "cost": cost_change,
            "cloudtrail": _toggles(cloudtrail, "accounts"), "summary": _toggles(summary, "scopes")}


def timings(change: Callable[[int], None], repeat: int) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds of each of `repeat` changes (after one untimed warm-up)."""
    change(-1)
    wall, cpu = [], []
    for turn in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        change(turn)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    return wall, cpu


def snapshot(dataset: Path, kept: Path | None) -> Snapshot:
    """The dataset's snapshot, read from `kept` when an earlier run left it there (else built, and left there)."""
    if kept and (kept / MANIFEST).exists():
        return read(kept)
    snap = build(dataset)
    if kept:
        kept.mkdir(parents=True, exist_ok=True)
        write(snap, kept)
    return snap


def run(name: str, dataset: Path, repeat: int, kept: Path | None) -> dict[str, Any]:
    """Time every panel of `dataset`; print one line per panel and return the README's figure for the dataset."""
    started = time.perf_counter()
    changes = panels(snapshot(dataset, kept))
    print(f"{name}: snapshot and panels built in {time.perf_counter() - started:.1f} s", flush=True)
    medians, cpu_medians = {}, {}
    for panel, change in changes.items():
        wall, cpu = timings(change, repeat)
        median = medians[panel] = statistics.median(wall)
        cpu_medians[panel] = statistics.median(cpu)
        verdict = "ok" if median <= TARGETS_MS[name] else "OVER"
        print(f"{name} {panel:<11} median {median:7.1f} ms (CPU {statistics.median(cpu):7.1f} ms)  "
              f"max {max(wall):7.1f} ms  (target <= {TARGETS_MS[name]:.0f} ms: {verdict})", flush=True)
    text = (" / ".join(f"{panel} {ms:.0f}" for panel, ms in medians.items()) + f" ms (median of {repeat}, wall; CPU "
            + " / ".join(f"{ms:.0f}" for ms in cpu_medians.values()) + " ms)")
    return {"id": f"panels.{name}", "value": round(max(medians.values()), 1), "unit": "ms", "text": text}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=Path, help="a large generated dataset (benchmarks/sample_large.py --keep)")
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--skip-sample", action="store_true")
    parser.add_argument("--snapshots", type=Path, help="keep (and reuse) each dataset's built snapshot here")
    args = parser.parse_args()
    InteractiveShell.instance()  # views format their results as a kernel would
    figures = []
    if not args.skip_sample:
        figures.append(run("sample", default_dataset(), args.repeat, args.snapshots and args.snapshots / "sample"))
    if args.large:
        figures.append(run("large", args.large, args.repeat, args.snapshots and args.snapshots / "large"))
    from _results import write

    write(__file__, figures, note="wall time carries the shared machine's load")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
