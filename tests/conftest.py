"""Shared pytest set-up.

The golden notebooks in tests/golden are collected by nbval in every `pytest` run (not only with `--nbval`), compared
strictly with tests/golden/nbval_sanitize.cfg, in a kernel of this interpreter. `sample_report` is one weekly report
of the sample tenant shared by every test of the session that reads a finished report.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
REPORT_ROOT = Path(__file__).resolve().parents[1] / "reports" / "browser-test"


def pytest_collect_file(file_path: Path, parent):
    option = parent.config.option
    if file_path.suffix != ".ipynb" or file_path.parent != GOLDEN_DIR or option.nbval or option.nbval_lax:
        return None
    from nbval.plugin import IPyNbFile

    option.nbval_sanitize_with = option.nbval_sanitize_with or str(GOLDEN_DIR / "nbval_sanitize.cfg")
    option.nbval_current_env = True
    # nbval's 60 s kernel start-up timeout is too short on a busy 2-core machine (kernels of several runs at once)
    option.nbval_kernel_startup_timeout = max(option.nbval_kernel_startup_timeout, 300)
    return IPyNbFile.from_parent(parent, path=file_path)


def pytest_configure(config):
    """Keep every test, and every notebook kernel it starts, off the user's own history store."""
    if "MDCNB_HISTORY" not in os.environ:
        os.environ["MDCNB_HISTORY"] = os.path.join(tempfile.mkdtemp(prefix="mdcnb-history-"), "history.duckdb")


@pytest.fixture(scope="session")
def sample_report():
    """`mdcnb report` of the sample tenant into reports/browser-test/<week>/, run once per session."""
    from mdcnb.report.runner import ReportOptions, run_report

    result = run_report(ReportOptions(out=REPORT_ROOT), log=lambda *a, **k: None)
    assert result.ok, [n.failure() for n in result.notebooks if not n.ok]
    return result


@pytest.fixture
def chunk_counter(monkeypatch):
    """`count(module)`: from then on, the chunks a columnar reader's `_columns` reads (`columnar`) and those it leaves
    to the per-row path (`per_row`, by raising `NotPlain`) are counted in the dict it returns; a test checks with it
    that the columnar path really ran."""
    from mdcnb.normalize.chunked import NotPlain

    def count(module) -> dict[str, int]:
        counts = {"columnar": 0, "per_row": 0}
        read = module._columns

        def counted(*args):
            try:
                columns = read(*args)
            except NotPlain:
                counts["per_row"] += 1
                raise
            counts["columnar"] += 1
            return columns

        monkeypatch.setattr(module, "_columns", counted)
        return counts

    return count


@pytest.fixture
def chunks(chunk_counter, monkeypatch, request):
    """The chunk counts (`chunk_counter`) of the reader the test module names as `READER`, three lines a chunk, so
    that a few built lines make several chunks."""
    monkeypatch.setattr("mdcnb.normalize.chunked.RECORDS_CHUNK", 3)
    return chunk_counter(request.module.READER)

