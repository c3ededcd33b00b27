"""The order stage 2 of `mdcnb report` starts its notebooks in (`runner.longest_first`)."""

from __future__ import annotations

import heapq
from pathlib import Path

from mdcnb.report import NOTEBOOKS_DIR
from mdcnb.report.runner import longest_first, select_notebooks

# What each notebook took at 2,000 subscriptions in the report on main 76bcd38, as the report printed it.
MEASURED = {"00_summary": 13.9, "10_secure_score": 22.1, "20_compliance": 8.2, "30_coverage": 10.5,
            "40_cloudtrail": 3.5, "50_cost": 4.9, "60_governance": 14.7}


def finish(order: list[Path], workers: int = 2) -> float:
    """When the last notebook ends, each started by the first free worker in `order`."""
    free = [0.0] * workers
    for notebook in order:
        heapq.heappush(free, heapq.heappop(free) + MEASURED[notebook.stem])
    return max(free)


def test_the_longest_notebooks_start_first_so_that_both_workers_end_together():
    sources = select_notebooks(NOTEBOOKS_DIR, [])
    assert sorted(s.stem for s in sources) == sorted(MEASURED)
    # by hand: file order ends at 45.2 s (governance starts last, at 30.5 s); longest first at 40.3 s
    assert round(finish(sources), 1) == 45.2
    assert round(finish(longest_first(sources)), 1) == 40.3
    assert [s.stem for s in longest_first(sources)][:2] == ["10_secure_score", "60_governance"]


def test_a_notebook_without_a_measured_time_starts_after_the_others_in_the_order_given(tmp_path):
    mine = [tmp_path / "05_mine.ipynb", tmp_path / "01_other.ipynb"]
    known = [NOTEBOOKS_DIR / "40_cloudtrail.ipynb", NOTEBOOKS_DIR / "10_secure_score.ipynb"]
    assert longest_first([mine[1], known[0], mine[0], known[1]]) == [known[1], known[0], mine[1], mine[0]]
