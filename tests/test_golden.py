"""The golden notebooks catch moved numbers: nbval fails when the data behind a page changes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from mdcnb.report.golden import GOLDEN_DIR, strip_volatile
from mdcnb.sources.dataset import SAMPLE_DATASET, read_records
from mdcnb.sources.dataset_write import write_records

REPO = Path(__file__).resolve().parents[1]


def run_nbval(notebook: Path, dataset: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MDCNB_DATASET": str(dataset)}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(notebook)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def test_a_moved_secure_score_fails_the_comparison(tmp_path):
    dataset = tmp_path / "sample"
    shutil.copytree(SAMPLE_DATASET, dataset)
    scores = read_records(dataset, "securescores").records
    first = scores[0]
    first["properties"]["score"]["current"] = round(first["properties"]["score"]["current"] + 1.0, 2)
    write_records(dataset, "securescores", scores, compress=True)  # in place of the gzipped file the sample ships
    result = run_nbval(GOLDEN_DIR / "10_secure_score.ipynb", dataset)
    assert result.returncode == 1, result.stdout[-3000:]
    # the headline cell (`page.measure("score.overall")`) is among the cells whose outputs moved
    assert "Cell outputs differ" in result.stdout and 'page.measure("score.overall")' in result.stdout


def test_golden_copies_hold_no_run_metadata():
    for path in GOLDEN_DIR.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        assert "papermill" not in nb.metadata, path.name
        assert not any("execution" in c.metadata or "papermill" in c.metadata for c in nb.cells), path.name
        assert any(c.get("outputs") for c in nb.cells), f"{path.name} has no outputs: run `make golden`"


def test_strip_volatile_removes_timings(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    nb.metadata["papermill"] = {"start_time": "2026-11-28T18:00:00"}
    nb.cells[0].metadata.update({"execution": {"iopub.status.busy": "x"}, "papermill": {"duration": 1.0},
                                 "tags": ["keep"]})
    nbformat.write(nb, tmp_path / "n.ipynb")
    strip_volatile(tmp_path / "n.ipynb")
    again = nbformat.read(tmp_path / "n.ipynb", as_version=4)
    assert "papermill" not in again.metadata and again.cells[0].metadata == {"tags": ["keep"]}
