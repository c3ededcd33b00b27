"""`mdcnb report` keeps this week's snapshot and its summary page reads it: real papermill run of 00_summary."""

from __future__ import annotations

import contextlib
import io

from mdcnb.analysis import score
from mdcnb.cli import main
from mdcnb.report.index import recorded
from mdcnb.sources.dataset import SAMPLE_DATASET
from mdcnb.tables import load_tables
from mdcnb.tables.history import HistoryStore


def test_report_stores_the_week_and_the_summary_shows_its_change(tmp_path):
    store, out = tmp_path / "history.duckdb", tmp_path / "reports"
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["report", "--notebook", "00_summary", "--history", str(store), "--out", str(out)])
    assert code == 0, err.getvalue()
    assert "history: 2026-W48 of sample/7c1e4b2a-3f5d-4e8a-9b6c-2d1f0e3a4b5c stored" in err.getvalue()
    with HistoryStore(store, read_only=True) as opened:
        assert [s.week for s in opened.snapshots()] == [f"2026-W{w}" for w in range(43, 49)]
    week_dir = out / "2026-W48"
    assert (week_dir / "00_summary.html").exists()
    headlines = {h["label"]: h["value"] for h in recorded(week_dir / "notebooks" / "00_summary.ipynb")[0]}
    # the score the page shows is MDC's aggregate of this week's tables, computed here from the dataset itself
    latest = score.overall(score.scopes(load_tables(SAMPLE_DATASET)))["percentage"]
    previous = score.overall(score.scopes(load_tables(SAMPLE_DATASET / "history" / "2026-W47")))["percentage"]
    assert headlines["Secure score"] == latest
    assert headlines["Secure score change since last week"] == round(latest - previous, 2)
    changes = (week_dir / "csv" / "00_summary" / "changes.csv").read_text()
    assert "Recommendations newly unhealthy" in changes
