"""`make golden`: re-execute every notebook on the sample tenant into `tests/golden/` for nbval.

The golden copies run with the notebooks' own parameter defaults (the embedded sample, no report directory), the
way `pytest` re-runs them, and keep their outputs; papermill's timing metadata is stripped so a refresh that
changes no number changes no file. Review `git diff tests/golden` before committing: every moved number shows.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import nbformat

from mdcnb.report.runner import NOTEBOOKS_DIR, execute, local_kernel, select_notebooks
from mdcnb.tables.history import HISTORY_ENV

GOLDEN_DIR = Path(__file__).resolve().parents[2] / "tests" / "golden"
_VOLATILE_METADATA = ("papermill", "execution", "widgets")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def strip_volatile(path: Path) -> None:
    """Remove what changes on every run without a number changing: papermill's and nbclient's timestamps and
    durations, the saved widget state and the random ids of widget views (nbval does not compare widget views)."""
    nb = nbformat.read(path, as_version=4)
    for meta in [nb.metadata, *(cell.metadata for cell in nb.cells)]:
        for key in _VOLATILE_METADATA:
            meta.pop(key, None)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if WIDGET_VIEW in output.get("data", {}):
                output["data"][WIDGET_VIEW]["model_id"] = "widget"
    nbformat.write(nb, path)


def refresh(names: list[str] | None = None, notebooks_dir: Path = NOTEBOOKS_DIR,
            golden_dir: Path = GOLDEN_DIR) -> list[str]:
    """Execute the notebooks into `golden_dir`; return the failures (empty when all ran). The kernels read a new,
    empty history store, as pytest's do (tests/conftest.py): the summary shows the weeks the sample ships."""
    failures = []
    with local_kernel() as kernel_path, tempfile.TemporaryDirectory(prefix="mdcnb-golden-") as empty:
        os.environ[HISTORY_ENV] = str(Path(empty) / "history.duckdb")
        for source in select_notebooks(notebooks_dir, names or []):
            target = golden_dir / source.name
            result = execute(source, target, {}, kernel_path)
            if result.ok:
                strip_volatile(target)
                print(f"refreshed {target} ({result.seconds:.1f} s)")
            else:
                failures.append(result.failure())
                print(result.failure(), file=sys.stderr)
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mdcnb.report.golden", description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="notebook stems or prefixes (default: all)")
    args = parser.parse_args(argv)
    return 1 if refresh(args.notebooks) else 0


if __name__ == "__main__":
    raise SystemExit(main())
