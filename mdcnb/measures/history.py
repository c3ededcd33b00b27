"""Week-over-week measures and trends: any measure computed on each stored week of the estate.

A trend point is the measure itself on that week's tables (`trend`), so the last point equals the headline.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from mdcnb.analysis import diff
from mdcnb.measures.registry import Filters, define, value
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
    return round(value("score.overall", snap, f), 2) - round(value("score.overall", before, f), 2)


def _changes(snap: Snapshot) -> dict[str, int]:
    history = snap.history
    if history is None:
        return {}
    return diff.diff_tables(history.baseline, snap.tables).counts()


@define("history.newly_unhealthy", "Recommendations newly unhealthy", "count", "{:,}")
def newly_unhealthy(snap: Snapshot, f: Filters) -> int:
    return _changes(snap).get("newly_unhealthy", 0)


@define("history.resolved", "Recommendations resolved", "count", "{:,}")
def resolved(snap: Snapshot, f: Filters) -> int:
    return _changes(snap).get("resolved", 0)
