"""Trends over all stored weeks (pure functions on the tables of each week, no I/O).

Every function takes `weeks`: an ordered mapping ISO week -> `Tables` (oldest first, as
`mdcnb.history.load_weeks` returns it) and gives a long DataFrame with one row per week and series, ready to
plot: secure score per scope and overall, pass rate per standard, Defender plan coverage, CloudTrail volume
and cost. `headline` gives the page's headline numbers with their change since the previous week.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pandas as pd

from mdcnb.tables import Tables

Weeks = Mapping[str, Tables]
OVERALL = "overall"

# Headline metrics: key -> (label, unit, whether a rise is good). Text kept apart from the code that computes them.
HEADLINES: dict[str, tuple[str, str, bool]] = {
    "secure_score": ("Secure score (overall)", "%", True),
    "unhealthy": ("Unhealthy recommendations (resource x recommendation)", "", False),
    "resources": ("Resources assessed or inventoried", "", True),
    "pass_rate": ("Regulatory compliance pass rate (all standards)", "%", True),
    "plans_enabled": ("Defender plans switched on (subscription level)", "", True),
    "connectors": ("Multicloud connectors", "", True),
}


def score_trend(weeks: Weeks, overall_score: Callable[[Tables], float | None] | None = None) -> pd.DataFrame:
    """Secure score per scope (MDC's stored percentage x 100) and, when given, the overall aggregate per week."""
    frames = []
    for week, tables in weeks.items():
        scores = tables.secure_scores
        frames.append(pd.DataFrame({
            "week": week, "scope_id": scores["scope_id"], "scope_type": scores["scope_type"],
            "environment": scores["environment"], "percentage": (scores["percentage"] * 100).round(2),
        }))
        if overall_score is not None:
            frames.append(pd.DataFrame({"week": [week], "scope_id": [OVERALL], "scope_type": [OVERALL],
                                        "environment": ["All"], "percentage": [overall_score(tables)]}))
    return _concat(frames, ["week", "scope_id", "scope_type", "environment", "percentage"])


def compliance_trend(weeks: Weeks) -> pd.DataFrame:
    """Per standard and week: controls passed and failed summed over scopes, pass rate = passed/(passed+failed) %.

    The pass rate is null for a week in which a standard has no passed or failed control (never a division error).
    """
    frames = []
    for week, tables in weeks.items():
        per_standard = tables.compliance_standards.groupby("standard", as_index=False)[
            ["passed_controls", "failed_controls"]].sum()
        frames.append(per_standard.assign(week=week))
    out = _concat(frames, ["week", "standard", "passed_controls", "failed_controls"])
    judged = (out["passed_controls"] + out["failed_controls"]).astype("Float64")
    out["pass_rate"] = (out["passed_controls"] / judged.where(judged > 0) * 100).round(2).astype("float64")
    return out


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


def headline(weeks: Weeks, overall_score: Callable[[Tables], float | None] | None = None) -> pd.DataFrame:
    """The latest week's headline numbers, the previous week's and the change (null without a previous week)."""
    names = list(weeks)
    latest = _headline_values(weeks[names[-1]], overall_score) if names else {}
    previous = _headline_values(weeks[names[-2]], overall_score) if len(names) > 1 else {}
    rows = []
    for key, (label, unit, rise_is_good) in HEADLINES.items():
        if key not in latest:
            continue
        now, before = latest[key], previous.get(key)
        change = None if now is None or before is None else round(now - before, 2)
        rows.append({"key": key, "metric": label, "unit": unit, "value": now, "previous": before,
                     "change": change, "better": None if not change else (change > 0) == rise_is_good})
    return pd.DataFrame(rows, columns=["key", "metric", "unit", "value", "previous", "change", "better"])


def _headline_values(tables: Tables, overall_score: Callable[[Tables], float | None] | None) -> dict[str, float]:
    from mdcnb.analysis.diff import resource_set

    standards = tables.compliance_standards
    passed, failed = standards["passed_controls"].sum(), standards["failed_controls"].sum()
    plans = tables.plans[tables.plans["level"].eq("subscription").fillna(False)]
    values: dict[str, float] = {
        "unhealthy": float(tables.assessments["status"].eq("Unhealthy").sum()),
        "resources": float(len(resource_set(tables))),
        "pass_rate": round(float(passed / (passed + failed) * 100), 2) if passed + failed else None,
        "plans_enabled": float(plans["enabled"].fillna(False).sum()),
        "connectors": float(tables.connectors["connector_id"].nunique()),
    }
    if overall_score is not None:
        values["secure_score"] = overall_score(tables)
    return values


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    return pd.concat(frames, ignore_index=True)[columns]
