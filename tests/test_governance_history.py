"""Governance in the history store: snapshots keep the tables, overdue and exemption counts trend week over week,
and `mdcnb diff` lists new overdue items and lapsed exemptions.

Expected figures come from the sample generator's construction (declared cases, the assessments they resolve to and
those assessments' statuses per week), never from the analysis under test.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from mdcnb.analysis import governance
from mdcnb.cli import main
from mdcnb.sample import governance as cases
from mdcnb.sample.estate import status
from mdcnb.sample.tenant import build_context
from mdcnb.sources.dataset import SAMPLE_DATASET
from mdcnb.tables.history_weeks import record_run, weekly_history

CTX = build_context()
PLAN = cases.plan(CTX)


def overdue_at(week: int) -> int:
    moment = CTX.week_time(week)
    return sum(1 for case, p in PLAN.assignments
               if cases.assignment_exists(CTX, case, p, week)
               and CTX.as_of + timedelta(days=case.due_days) < moment
               and status(CTX, p.rec, p.resource_id, week).code == "Unhealthy")


def expired_at(week: int) -> int:
    moment = CTX.week_time(week)
    return sum(1 for case in cases.EXEMPTIONS if cases.exemption_exists(CTX, case, week)
               and case.expires_days is not None and CTX.as_of + timedelta(days=case.expires_days) <= moment)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("history") / "history.duckdb"
    record_run(SAMPLE_DATASET, path)
    return path


@pytest.fixture(scope="module")
def weeks(store):
    """The stored weeks as the trends read them (`WeeklyHistory.weeks`: no assessments table)."""
    return weekly_history(SAMPLE_DATASET, store).weeks


def test_every_stored_week_keeps_the_governance_tables(weeks):
    assert list(weeks) == [CTX.week_label(w) for w in range(CTX.weeks)]
    for w, tables in enumerate(weeks.values()):
        assert len(tables.governance_assignments) == sum(
            cases.assignment_exists(CTX, case, p, w) for case, p in PLAN.assignments)
        assert len(tables.exemptions) == sum(cases.exemption_exists(CTX, case, w) for case in cases.EXEMPTIONS)
        assert tables.assessments.empty  # the trend needs only the assignments' own copy of the status
        assert tables.governance_assignments["status"].notna().all()


def test_overdue_trends_week_over_week(weeks):
    trend = governance.overdue_trend(weeks).groupby("week")["overdue"].sum()
    expected = [overdue_at(w) for w in range(CTX.weeks)]
    assert [int(trend.get(CTX.week_label(w), 0)) for w in range(CTX.weeks)] == expected
    assert expected[0] < expected[-1]  # the trend moves


def test_exemption_counts_trend_week_over_week(weeks):
    trend = governance.exemption_trend(weeks).set_index("week")
    assert list(trend["expired"]) == [expired_at(w) for w in range(CTX.weeks)]
    assert list(trend["exemptions"]) == [sum(cases.exemption_exists(CTX, c, w) for c in cases.EXEMPTIONS)
                                         for w in range(CTX.weeks)]


def test_diff_lists_new_overdue_items_and_lapsed_exemptions(store, capsys):
    latest = CTX.latest_week
    assert main(["diff", "--history", str(store), "--json"]) == 0  # the store holds the sample alone
    changes = json.loads(capsys.readouterr().out)["changes"]
    assert len(changes["new_overdue"]) == overdue_at(latest) - overdue_at(latest - 1) == 3
    lapsed = [c.name for c in cases.EXEMPTIONS if c.expires_days is not None
              and CTX.week_time(latest - 1) < CTX.as_of + timedelta(days=c.expires_days) <= CTX.as_of]
    assert [e["name"] for e in changes["lapsed_exemptions"]] == lapsed == ["waiver-migration-q3"]
