"""The summary page's trend figures draw exactly the rows they are given."""

from __future__ import annotations

from diff_snapshots import AFTER, BEFORE, S1, S2
from test_summary_trends import _snapshot

from mdcnb.analysis import history as trends
from mdcnb.figures import history as history_figures
from mdcnb.measures.history import score_trend

WEEKS = {"2026-W47": BEFORE, "2026-W48": AFTER}


def test_score_trend_draws_overall_bold_and_each_scope():
    data = score_trend(_snapshot())  # the two hand-built weeks as a snapshot's history
    fig = history_figures.score_trend(data)
    by_name = {t.name: t for t in fig.data}
    assert by_name["Overall"].line.width == 4 and list(by_name["Overall"].y) == [55.0, 65.0]
    assert sum(len(t.y) for t in fig.data) == len(data)
    assert fig.layout.xaxis.type == "category"


def test_score_movers_keeps_overall_and_the_biggest_moves():
    data = score_trend(_snapshot())  # the two hand-built weeks as a snapshot's history
    # s1 moved 60 -> 70 (10 points), s2 50 -> 45 (5), the connector has one week only (0)
    movers = trends.score_movers(data, count=1)
    assert set(movers["scope_id"]) == {trends.OVERALL, S1}
    assert set(trends.score_movers(data, count=2)["scope_id"]) == {trends.OVERALL, S1, S2}


def test_pass_rate_coverage_and_cloudtrail_figures():
    import pandas as pd

    rates = pd.DataFrame({"week": ["2026-W47", "2026-W48", "2026-W48"], "standard": ["MCSB", "MCSB", "PCI"],
                          "pass_rate": [66.67, 83.33, None]})
    fig = history_figures.pass_rate_trend(rates, " (all environments)")
    assert sorted(t.name for t in fig.data) == ["MCSB", "PCI"]
    assert fig.layout.title.text.startswith("Compliance pass rate by week (passed / (passed + failed)) (all env")
    coverage = trends.plan_coverage_trend(WEEKS)
    fig = history_figures.coverage_trend(coverage)
    assert sum(len(t.x) for t in fig.data) == len(coverage)

    volume = pd.DataFrame({"week": ["2026-W47", "2026-W48"], "events": [30, 21], "cspm_read_events": [20, 19]})
    fig = history_figures.cloudtrail_trend(volume)
    assert [list(t.y) for t in fig.data] == [[20, 19], [10, 2]]
