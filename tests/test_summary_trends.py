"""The summary's trend charts take their points from the measure registry (`mdcnb.measures.history`).

Weeks are the two hand-built ones of tests/diff_snapshots.py and the CloudTrail volume of tests/test_trends.py;
every expected figure is counted by hand from those rows.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import pandas as pd
from diff_snapshots import AFTER, BEFORE, C1, S1
from test_trends import VOLUME

from mdcnb.analysis import history as trends
from mdcnb.analysis.cloudtrail_cost import SiemPrice
from mdcnb.core import schema
from mdcnb.figures import history as history_figures
from mdcnb.measures.history import cloudtrail_weeks, pass_rate_trend, score_trend, trend, trend_note
from mdcnb.measures.registry import Filters, scope_note
from mdcnb.snapshot import Snapshot
from mdcnb.tables import Tables
from mdcnb.tables.cloudtrail.result import VolumeResult, cloudtrail_daily
from mdcnb.tables.history_weeks import WeeklyHistory

PRICE = SiemPrice(per_gb=2.0, source="test price")


def _with_subscriptions(tables: Tables) -> Tables:
    """The hand-built scores with the subscription each scope belongs to (connector c1 lives in s1)."""
    scores = tables.secure_scores
    return dataclasses.replace(tables, secure_scores=scores.assign(
        subscription_id=scores["scope_id"].str.split("/").str[2]))


def _snapshot(cloudtrail: dict[str, pd.DataFrame] | None = None) -> Snapshot:
    before, after = _with_subscriptions(BEFORE), _with_subscriptions(AFTER)
    history = WeeklyHistory("test", None, {"2026-W47": before, "2026-W48": after}, cloudtrail=cloudtrail or {},
                            audits={}, folders={}, latest=after, previous_tables=before, incomplete=[])
    empty = VolumeResult(schema.CLOUDTRAIL_VOLUME.frame(), schema.CLOUDTRAIL_HOURLY.frame())
    return Snapshot(tables=after, cloudtrail=empty, audit=None, prices=None, siem_price=PRICE, history=history)


def _overall_line(fig) -> list:
    return next(list(t.y) for t in fig.data if t.name == "Overall")


def test_score_trend_chart_points_are_the_registry_trend():
    snap = _snapshot()
    lines = trends.score_movers(score_trend(snap), count=8)
    fig = history_figures.score_trend(lines)
    # W47: s1 60 %, s2 50 % -> 55; W48: s1 70, s2 45, c1 80 -> 65 (weights 1)
    assert _overall_line(fig) == [55.0, 65.0] == trend("score.overall", snap)["value"].tolist()
    by_scope = lines[lines["scope_id"] == S1].set_index("week")["percentage"].to_dict()
    assert by_scope == {"2026-W47": 60.0, "2026-W48": 70.0}
    assert lines.loc[lines["scope_id"] == C1, "week"].tolist() == ["2026-W48"]


def test_score_trend_honours_the_page_filters():
    """The old chart ignored `accounts`; the registry's line follows every filter the measure honours."""
    snap = _snapshot()
    only_s2 = Filters(subscriptions=("s2",))
    fig = history_figures.score_trend(score_trend(snap, only_s2))
    assert _overall_line(fig) == [50.0, 45.0] == trend("score.overall", snap, only_s2)["value"].tolist()
    assert {t.name for t in fig.data} == {"Overall", "s2"}
    nothing = score_trend(snap, Filters(environments=("GCP",)))
    assert nothing["scope_id"].tolist() == ["overall", "overall"] and nothing["percentage"].isna().all()


def test_pass_rate_lines_are_the_registry_table_of_each_week():
    snap = _snapshot()
    rates = pass_rate_trend(snap).set_index(["standard", "week"])
    # MCSB: (3+1) passed of (3+1)+(1+1) judged = 66.67 %; then (4+1) of (4+1)+(0+1) = 83.33 %
    assert rates.loc[("MCSB", "2026-W47"), "pass_rate"] == 66.67
    assert rates.loc[("MCSB", "2026-W48"), "pass_rate"] == 83.33
    assert rates.loc[("MCSB", "2026-W48"), "passed_controls"] == 5
    assert pd.isna(rates.loc[("PCI", "2026-W48"), "pass_rate"])  # nothing passed or failed: no rate
    only_s2 = pass_rate_trend(snap, Filters(subscriptions=("s2",))).set_index(["standard", "week"])
    assert only_s2["pass_rate"].dropna().to_dict() == {("MCSB", "2026-W47"): 50.0, ("MCSB", "2026-W48"): 50.0}
    assert pass_rate_trend(dataclasses.replace(snap, history=None)).empty


def test_a_chart_that_ignores_a_page_filter_says_so_in_its_title():
    aws = Filters(environments=("AWS",), subscriptions=("s2",))
    assert scope_note(aws, "compliance.by_standard") == " (all environments)"  # it honours subscriptions
    assert scope_note(aws) == " (all environments, all subscriptions)"
    assert scope_note(Filters(), "compliance.by_standard") == scope_note(aws, "score.overall") == ""


def test_a_trend_chart_follows_the_date_window_so_its_title_never_says_whole_window():
    window = Filters(environments=("AWS",), since=date(2026, 11, 1), until=date(2026, 11, 28))
    assert "whole window" in scope_note(window, "compliance.by_standard")  # a one-week figure ignores it
    assert trend_note(window, "compliance.by_standard") == " (all environments)"  # the weeks shown are the window
    assert trend_note(window.but(environments=()), "compliance.by_standard") == ""


def test_cloudtrail_bars_are_the_registry_measures_of_each_week():
    daily = cloudtrail_daily(VOLUME)  # 2026-11-20 and -21: Friday and Saturday of W47
    snap = _snapshot({"2026-W47": daily, "2026-W48": schema.CLOUDTRAIL_DAILY.frame()})
    weeks = cloudtrail_weeks(snap)
    assert weeks["week"].tolist() == ["2026-W47"]  # a week without CloudTrail data has no bar
    row = weeks.iloc[0]
    assert (row["days"], row["events"], row["cspm_read_events"], row["bytes"]) == (2, 21, 19, 22 * 10**8)
    # 2.2 GB x 2 USD over 2 days -> 30-day month: 4.4 x 15 = 66; CSPM reads 1.9 GB x 2 x 15 = 57
    assert (row["monthly_cost"], row["monthly_saving"], row["currency"]) == (66.0, 57.0, "USD")
    fig = history_figures.cloudtrail_trend(weeks)
    assert [list(t.y) for t in fig.data] == [[19], [2]]  # CSPM reads, then the other events


def test_each_bar_counts_only_the_days_of_its_week():
    """A snapshot taken in W48 also holds the W47 days its scan read: its bar counts W48's days only."""
    daily = cloudtrail_daily(VOLUME)
    monday = daily.assign(date="2026-11-23")  # the same counts moved to Monday of W48
    weeks = cloudtrail_weeks(_snapshot({"2026-W47": daily, "2026-W48": pd.concat([daily, monday])}))
    assert weeks[["week", "days", "events"]].values.tolist() == [["2026-W47", 2, 21], ["2026-W48", 1, 21]]
    assert cloudtrail_weeks(_snapshot({"2026-W48": daily})).empty


def test_cloudtrail_bars_honour_the_account_filter():
    other = cloudtrail_daily(VOLUME.assign(account_id="222222222222"))
    snap = _snapshot({"2026-W47": pd.concat([cloudtrail_daily(VOLUME), other])})
    assert cloudtrail_weeks(snap)["events"].tolist() == [42]
    assert cloudtrail_weeks(snap, Filters(accounts=("222222222222",)))["events"].tolist() == [21]


def test_each_week_is_seen_once_however_many_trends_read_it(monkeypatch):
    """The weeks a trend reads are made once per snapshot (with their CloudTrail volume): the score lines, the
    pass rates and the CloudTrail bars of one page compute each week's measures on the same week snapshot."""
    from mdcnb.measures import history as measures_history

    made = []
    real_week = measures_history.week
    monkeypatch.setattr(measures_history, "week", lambda snap, tables, daily=None: made.append(tables) or
                        real_week(snap, tables, daily))
    daily = cloudtrail_daily(VOLUME)
    snap = _snapshot({"2026-W47": daily, "2026-W48": schema.CLOUDTRAIL_DAILY.frame()})
    first = score_trend(snap)
    pass_rate_trend(snap)
    cloudtrail_weeks(snap)
    assert score_trend(snap).equals(first)
    assert len(made) == 2  # W47 and W48, once each
