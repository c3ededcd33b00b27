"""Trends over all stored weeks (pure functions on the tables of each week, no I/O).

Every function takes `weeks`: an ordered mapping ISO week -> `Tables` (oldest first, as
`mdcnb.tables.history_weeks.weekly_history` gives it) and gives a long DataFrame with one row per week and series,
ready to plot: secure score per scope and overall, Defender plan coverage. The headline numbers, their
week-over-week change, the summary's pass rate lines and CloudTrail bars are measures (`mdcnb.measures.history`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

import pandas as pd

from mdcnb.analysis import score
from mdcnb.core.weeks import iso_week
from mdcnb.tables import Tables

Weeks = Mapping[str, Tables]
OVERALL = "overall"

def weeks_between(weeks: Weeks, since: date | str | None = None, until: date | str | None = None) -> dict[str, Tables]:
    """The weeks whose ISO week lies between those of `since` and `until` (dates; None leaves that end open)."""
    first = iso_week(since) if since else ""
    last = iso_week(until) if until else "~"
    return {week: tables for week, tables in weeks.items() if first <= week <= last}


def score_trend(weeks: Weeks, *, environments: Iterable[str] = (), subscriptions: Iterable[str] = ()) -> pd.DataFrame:
    """Secure score per week: overall (MDC's aggregation over the scopes) and per scope (its stored percentage).

    `environments` and `subscriptions` keep some scopes (`score.scopes` filters); the overall line then aggregates
    those scopes only, and is null in a week where none of them has a score.
    """
    frames = []
    for week, tables in weeks.items():
        scopes = score.scopes(tables, environments=environments, subscriptions=subscriptions)
        overall = score.overall(scopes)["percentage"] if len(scopes) else None
        frames.append(pd.DataFrame({"week": [week], "scope_id": [OVERALL], "name": ["Overall"],
                                    "scope_type": [OVERALL], "environment": ["All"], "percentage": [overall]}))
        frames.append(scopes[["scope_id", "name", "scope_type", "environment", "percentage"]].assign(week=week))
    return _concat(frames, ["week", "scope_id", "name", "scope_type", "environment", "percentage"])


def overall_by_week(trend: pd.DataFrame) -> pd.DataFrame:
    """The overall line of a `score_trend` table: week, percentage and the change since the week before."""
    rows = trend[trend["scope_id"] == OVERALL].sort_values("week", kind="stable")
    percentage = pd.to_numeric(rows["percentage"]).astype("float64")
    return pd.DataFrame({"week": rows["week"].to_numpy(), "percentage": percentage.to_numpy(),
                         "change": percentage.diff().round(2).to_numpy()})


def score_movers(trend: pd.DataFrame, count: int = 8) -> pd.DataFrame:
    """The overall rows plus the `count` scopes whose score moved most between their first and last stored week."""
    scopes = trend[trend["scope_id"] != OVERALL]
    ordered = scopes.sort_values("week", kind="stable").groupby("scope_id")["percentage"]
    moved = (ordered.last() - ordered.first()).abs().rename("moved").reset_index()
    chosen = moved.sort_values(["moved", "scope_id"], ascending=[False, True]).head(count)["scope_id"]
    return trend[(trend["scope_id"] == OVERALL) | trend["scope_id"].isin(chosen)].reset_index(drop=True)


def plan_coverage_trend(weeks: Weeks) -> pd.DataFrame:
    """Per Defender plan and week: subscriptions with the plan on, subscriptions with the plan listed, coverage %."""
    frames = []
    for week, tables in weeks.items():
        plans = tables.plans[tables.plans["level"].eq("subscription").fillna(False)]
        per_plan = plans.groupby("plan", as_index=False).agg(
            enabled=("enabled", lambda s: int(s.fillna(False).sum())), scopes=("scope_id", "nunique"))
        frames.append(per_plan.assign(week=week))
    out = _concat(frames, ["week", "plan", "enabled", "scopes"])
    out["coverage"] = (out["enabled"] / out["scopes"].where(out["scopes"] > 0) * 100).round(2).astype("float64")
    return out


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    return pd.concat(frames, ignore_index=True)[columns]
