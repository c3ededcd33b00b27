"""Trends over all stored weeks (pure functions on the tables of each week, no I/O).

Every function takes `weeks`: an ordered mapping ISO week -> `Tables` (oldest first, as
`mdcnb.tables.history_weeks.weekly_history` gives it) and gives a long DataFrame with one row per week and series,
ready to plot: Defender plan coverage, and the scopes whose score moved most. The secure score lines, the headline
numbers, their week-over-week change, the pass rate lines and CloudTrail bars are measures (`mdcnb.measures.history`).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from mdcnb.tables import Tables

Weeks = Mapping[str, Tables]
OVERALL = "overall"

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
