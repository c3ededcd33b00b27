"""Week-over-week measures and trends: any measure computed on each stored week of the estate.

A trend point is the measure itself on that week's tables (`trend`, `table_trend`), so the last point equals the
headline. The summary's charts take their points from here: the secure score lines (`score_trend`) and the
CloudTrail bars, each bar the measures over its week's own days (`cloudtrail_weeks`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date, timedelta

import pandas as pd

from mdcnb.analysis import diff
from mdcnb.analysis.history import OVERALL
from mdcnb.measures.registry import Filters, change_text, define, labelled, measure, rounded, scope_note, text, value
from mdcnb.measures.score import SCOPE_FILTERS
from mdcnb.snapshot import Snapshot, computed_once
from mdcnb.tables import Tables
from mdcnb.tables.cloudtrail.result import VolumeResult


def week(snap: Snapshot, tables: Tables, cloudtrail_daily: pd.DataFrame | None = None) -> Snapshot:
    """`snap` seen at another week: its tables, and its daily CloudTrail volume when given."""
    cloudtrail = snap.cloudtrail if cloudtrail_daily is None else VolumeResult(cloudtrail_daily, snap.cloudtrail.hourly)
    return dataclasses.replace(snap, tables=tables, cloudtrail=cloudtrail, history=None, assessment_match=None)


def weeks(snap: Snapshot) -> Iterator[tuple[str, Snapshot]]:
    """Each stored week of the estate, oldest first (the dataset's own week last), as a snapshot of its own."""
    history = snap.history
    for w, tables in (history.weeks if history is not None else {}).items():
        # one copy per week for the snapshot's life, so what a trend computes on it is reused by the next trend
        yield w, computed_once(snap, "history.week", w, lambda t=tables, w=w: week(snap, t, history.cloudtrail.get(w)))


def trend(id: str, snap: Snapshot, filters: Filters | None = None) -> pd.DataFrame:
    """One row per stored week (week, value) of measure `id`; the dataset's own week last."""
    rows = [{"week": w, "value": value(id, s, filters)} for w, s in weeks(snap)]
    return pd.DataFrame(rows, columns=["week", "value"])


def table_trend(id: str, snap: Snapshot, filters: Filters | None = None) -> pd.DataFrame:
    """Table measure `id` on each stored week: its rows, week by week, with a `week` column."""
    frames = [value(id, s, filters).assign(week=w) for w, s in weeks(snap)]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({"week": pd.Series(dtype=object)})


SCORE_TREND = ["week", "scope_id", "name", "scope_type", "environment", "percentage"]


def trend_note(filters: Filters | None, id: str | None = None) -> str:
    """`registry.scope_note` for a chart of the stored weeks: the page's date window picks those weeks, so the
    chart never ignores it (" (whole window)" would be wrong there)."""
    return scope_note((filters or Filters()).but(since=None, until=None), id)


def score_trend(snap: Snapshot, filters: Filters | None = None) -> pd.DataFrame:
    """The summary's secure score lines: per stored week the overall score (`score.overall`, null in a week where
    the filters keep no scope) and each scope's (`score.by_scope`), the overall row first."""
    overall = trend("score.overall", snap, filters)
    kept = trend("score.scopes", snap, filters)["value"]
    lines = pd.DataFrame({"week": overall["week"], "scope_id": OVERALL, "name": "Overall", "scope_type": OVERALL,
                          "environment": "All", "percentage": overall["value"].where(kept > 0)})
    scopes = table_trend("score.by_scope", snap, filters).reindex(columns=SCORE_TREND)
    both = pd.concat([lines, scopes], ignore_index=True) if len(scopes) else lines
    return both.sort_values("week", kind="stable").reset_index(drop=True)[SCORE_TREND]


def pass_rate_trend(snap: Snapshot, filters: Filters | None = None) -> pd.DataFrame:
    """The summary's pass rate lines: `compliance.by_standard` on each stored week, the pass rate in % (0-100)."""
    table = table_trend("compliance.by_standard", snap, filters)
    columns = ["week", "standard", "scopes", "passed_controls", "failed_controls", "pass_rate"]
    if table.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return table[columns].assign(pass_rate=(pd.to_numeric(table["pass_rate"]) * 100).round(2))


# The summary's CloudTrail bars: column -> measure.
CLOUDTRAIL_WEEKS = {"events": "cloudtrail.events", "cspm_read_events": "cloudtrail.cspm_read_events",
                    "bytes": "cloudtrail.bytes", "monthly_cost": "cloudtrail.siem_monthly_cost",
                    "monthly_saving": "cloudtrail.siem_monthly_saving"}


def own_days(filters: Filters, iso_week: str) -> Filters:
    """`filters` over the days of one ISO week (`2026-W48`: Monday 2026-11-23 to Sunday 2026-11-29)."""
    monday = date.fromisocalendar(int(iso_week[:4]), int(iso_week[-2:]), 1)
    return filters.but(since=monday.isoformat(), until=(monday + timedelta(days=6)).isoformat())


def cloudtrail_weeks(snap: Snapshot, filters: Filters | None = None) -> pd.DataFrame:
    """Per stored week with CloudTrail logs, the `CLOUDTRAIL_WEEKS` measures over that week's own days (a week's
    snapshot also holds the earlier days its scan read), under the filters' accounts; `days`: days with events."""
    history, rows = snap.history, []
    for w, s in weeks(snap):
        f = own_days(filters or Filters(), w)
        days = value("cloudtrail.volume", s, f)["date"].nunique() if w in history.cloudtrail else 0
        if days:
            rows.append({"week": w, "days": int(days), **{c: value(id, s, f) for c, id in CLOUDTRAIL_WEEKS.items()},
                         "currency": snap.siem_price.currency})
    return pd.DataFrame(rows, columns=["week", "days", *CLOUDTRAIL_WEEKS, "currency"])


def _previous(snap: Snapshot) -> Snapshot | None:
    """The stored week before this one as a snapshot of its own, one copy for the snapshot's life (what a measure
    computes on it, such as its scopes' scores, is then reused by the next change of a page's filters)."""
    history = snap.history
    if history is None or history.previous is None:
        return None
    return computed_once(snap, "history.previous", None, lambda: week(snap, history.previous))


@define("history.score_change", "Secure score change since last week", "points", "{:+.2f}", filters=SCOPE_FILTERS,
        decimals=2)
def score_change(snap: Snapshot, f: Filters) -> float:
    before = _previous(snap)
    if before is None:
        return float("nan")
    return round(round(value("score.overall", snap, f), 2) - round(value("score.overall", before, f), 2), 2)


def week_diff(snap: Snapshot) -> diff.SnapshotDiff | None:
    """What changed between the previous stored week and this one (None without a history)."""
    history = snap.history
    if history is None:
        return None
    return computed_once(snap, "history.week_diff", None,
                         lambda: diff.diff_tables(history.baseline, snap.tables, snap.assessment_match))


SCORE = ("%", "{:.2f}")
POINTS = ("points", "{:.2f}")
POINT_CHANGE = ("points", "{:+.2f}")


@define("history.changes", "Changes since last week", "count", "{:,}", table=True, columns={
    "before": SCORE, "after": SCORE, "delta": POINT_CHANGE, "max": POINTS, "current_before": POINTS,
    "current_after": POINTS})
def changes(snap: Snapshot, f: Filters) -> pd.DataFrame:
    """Table measure: how many of each kind of change between the previous stored week and this one (the whole
    estate: the lists of `diff.SnapshotDiff.changed` a page shows under it take no filter either)."""
    found = week_diff(snap)
    return found.summary()[["change", "count"]] if found is not None else pd.DataFrame(columns=["change", "count"])


def _changes(snap: Snapshot) -> dict[str, int]:
    found = week_diff(snap)
    return {} if found is None else found.counts()


@define("history.newly_unhealthy", "Recommendations newly unhealthy", "count", "{:,}")
def newly_unhealthy(snap: Snapshot, f: Filters) -> int:
    return _changes(snap).get("newly_unhealthy", 0)


@define("history.newly_unhealthy_high", "High and Critical recommendations newly unhealthy", "count", "{:,}")
def newly_unhealthy_high(snap: Snapshot, f: Filters) -> int:
    found = week_diff(snap)
    if found is None:
        return 0
    return int(found.changed("newly_unhealthy")["severity"].isin(["High", "Critical"]).sum())


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


def week_on_week_text(table: pd.DataFrame, currency: str = "USD") -> pd.DataFrame:
    """The `week_on_week` table as the page shows it: each value in its measure's unit and format, the change
    signed (`+0.66 pts`, `+22`), and whether it is for the better."""
    def written(column: str, change: bool = False) -> list[str]:
        write = change_text if change else text
        pairs = zip(table["measure"], table[column], strict=True)
        return ["—" if pd.isna(v) else write(id, v, currency) for id, v in pairs]

    verdict = {True: "better", False: "worse"}
    return pd.DataFrame({"measure": table["metric"], "this week": written("value"), "last week": written("previous"),
                         "change": written("change", change=True),
                         "verdict": [verdict.get(b, "—") for b in table["better"]]})
