"""Week-over-week measures and trends: any measure computed on each stored week of the estate.

A trend point is the measure itself on that week's tables (`trend`), so the last point equals the headline.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from mdcnb.analysis import diff
from mdcnb.measures.registry import Filters, define, labelled, measure, rounded, value
from mdcnb.measures.score import SCOPE_FILTERS
from mdcnb.snapshot import Snapshot
from mdcnb.tables import Tables
from mdcnb.tables.cloudtrail.result import VolumeResult


def week(snap: Snapshot, tables: Tables, cloudtrail_daily: pd.DataFrame | None = None) -> Snapshot:
    """`snap` seen at another week: its tables, and its daily CloudTrail volume when given."""
    cloudtrail = snap.cloudtrail if cloudtrail_daily is None else VolumeResult(cloudtrail_daily, snap.cloudtrail.hourly)
    return dataclasses.replace(snap, tables=tables, cloudtrail=cloudtrail, history=None)


def trend(id: str, snap: Snapshot, filters: Filters | None = None) -> pd.DataFrame:
    """One row per stored week (week, value) of measure `id`; the dataset's own week last."""
    history = snap.history
    rows = [{"week": w, "value": value(id, week(snap, tables, history.cloudtrail.get(w)), filters)}
            for w, tables in history.weeks.items()] if history is not None else []
    return pd.DataFrame(rows, columns=["week", "value"])


def _previous(snap: Snapshot) -> Snapshot | None:
    history = snap.history
    return week(snap, history.previous) if history is not None and history.previous is not None else None


@define("history.score_change", "Secure score change since last week", "points", "{:+.2f}", filters=SCOPE_FILTERS,
        decimals=2)
def score_change(snap: Snapshot, f: Filters) -> float:
    before = _previous(snap)
    if before is None:
        return float("nan")
    return round(round(value("score.overall", snap, f), 2) - round(value("score.overall", before, f), 2), 2)


def _diff(snap: Snapshot) -> diff.SnapshotDiff | None:
    history = snap.history
    return None if history is None else diff.diff_tables(history.baseline, snap.tables)


def _changes(snap: Snapshot) -> dict[str, int]:
    changes = _diff(snap)
    return {} if changes is None else changes.counts()


@define("history.newly_unhealthy", "Recommendations newly unhealthy", "count", "{:,}")
def newly_unhealthy(snap: Snapshot, f: Filters) -> int:
    return _changes(snap).get("newly_unhealthy", 0)


@define("history.newly_unhealthy_high", "High and Critical recommendations newly unhealthy", "count", "{:,}")
def newly_unhealthy_high(snap: Snapshot, f: Filters) -> int:
    changes = _diff(snap)
    if changes is None:
        return 0
    return int(changes.changed("newly_unhealthy")["severity"].isin(["High", "Critical"]).sum())


@define("history.resolved", "Recommendations resolved", "count", "{:,}")
def resolved(snap: Snapshot, f: Filters) -> int:
    return _changes(snap).get("resolved", 0)


# The page's "this week and last week" table: measure -> whether a rise is good.
WEEK_ON_WEEK = {"score.overall": True, "score.unhealthy": False, "coverage.resources": True,
                "compliance.pass_rate": True, "coverage.plans_enabled": True, "coverage.connectors": True}


def week_on_week(snap: Snapshot, filters: Filters | None = None) -> pd.DataFrame:
    """This week's value of each `WEEK_ON_WEEK` measure, last week's, and the change (null on a first week)."""
    before = _previous(snap)
    rows = []
    for id, rise_is_good in WEEK_ON_WEEK.items():
        now = rounded(id, value(id, snap, filters))
        then = rounded(id, value(id, before, filters)) if before is not None else None
        change = None if now is None or then is None or now != now or then != then else round(now - then, 2)
        rows.append({"measure": id, "metric": labelled(id, filters), "unit": measure(id).unit, "value": now,
                     "previous": then, "change": change,
                     "better": None if not change else (change > 0) == rise_is_good})
    return pd.DataFrame(rows, columns=["measure", "metric", "unit", "value", "previous", "change", "better"])
