"""Trends and headline numbers over the two hand-built weeks of tests/diff_snapshots.py, expected values by hand."""

from __future__ import annotations

import math

import pytest
from diff_snapshots import AFTER, BEFORE, S1

from mdcnb.analysis import trends

WEEKS = {"2026-W47": BEFORE, "2026-W48": AFTER}


def test_score_trend_overall_and_per_scope():
    trend = trends.score_trend(WEEKS)
    overall = trend[trend["scope_id"] == trends.OVERALL].set_index("week")["percentage"]
    assert overall.to_dict() == {"2026-W47": 55.0, "2026-W48": 65.0}  # (60+50)/2 and (70+45+80)/3, weights 1
    s1 = trend[trend["scope_id"] == S1].set_index("week")["percentage"]
    assert s1.to_dict() == {"2026-W47": 60.0, "2026-W48": 70.0}
    assert len(trend) == 2 + 2 + 3  # one overall row per week, then two scopes, then three


def test_compliance_trend_pass_rate_per_standard():
    trend = trends.compliance_trend(WEEKS).set_index(["standard", "week"])
    # MCSB: (3+1) passed of (3+1)+(1+1) judged = 66.67 %; then (4+1) of (4+1)+(0+1) = 83.33 %
    assert trend.loc[("MCSB", "2026-W47"), "pass_rate"] == 66.67
    assert trend.loc[("MCSB", "2026-W48"), "pass_rate"] == 83.33
    assert trend.loc[("MCSB", "2026-W48"), "passed_controls"] == 5
    assert math.isnan(trend.loc[("PCI", "2026-W48"), "pass_rate"])  # nothing passed or failed: no rate


def test_plan_coverage_trend():
    trend = trends.plan_coverage_trend(WEEKS).set_index(["plan", "week"])
    expected = {("VirtualMachines", "2026-W47"): (0, 1, 0.0), ("VirtualMachines", "2026-W48"): (1, 1, 100.0),
                ("StorageAccounts", "2026-W47"): (2, 2, 100.0), ("StorageAccounts", "2026-W48"): (1, 2, 50.0),
                ("Containers", "2026-W48"): (0, 1, 0.0), ("CloudPosture", "2026-W48"): (1, 1, 100.0)}
    for key, (enabled, scopes, coverage) in expected.items():
        assert tuple(trend.loc[key, ["enabled", "scopes", "coverage"]]) == (enabled, scopes, coverage), key
    assert ("CloudPosture", "2026-W47") not in trend.index


def test_headline_with_week_over_week_change():
    head = trends.headline(WEEKS).set_index("key")
    assert head.loc["secure_score", ["value", "previous", "change"]].tolist() == [65.0, 55.0, 10.0]
    assert head.loc["secure_score", "better"] is True
    assert head.loc["unhealthy", ["value", "previous", "change"]].tolist() == [3.0, 3.0, 0.0]
    assert head.loc["resources", ["value", "previous", "change"]].tolist() == [5.0, 4.0, 1.0]
    assert head.loc["pass_rate", ["value", "previous"]].tolist() == [83.33, 66.67]
    assert head.loc["pass_rate", "change"] == pytest.approx(16.66)
    assert head.loc["plans_enabled", ["value", "previous", "change"]].tolist() == [3.0, 2.0, 1.0]
    assert head.loc["connectors", ["value", "change"]].tolist() == [1.0, 0.0]


def test_headline_of_a_single_week_has_no_change():
    head = trends.headline({"2026-W48": AFTER}).set_index("key")
    assert head["previous"].isna().all() and head["change"].isna().all()
    assert head.loc["secure_score", "value"] == 65.0


def test_no_weeks_gives_empty_trends():
    assert trends.score_trend({}).empty and trends.compliance_trend({}).empty and trends.headline({}).empty
