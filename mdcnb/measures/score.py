"""Secure score measures: overall and per scope as MDC computes them, controls' potential increase, assessments."""

from __future__ import annotations

import pandas as pd

from mdcnb.analysis import score, score_detail
from mdcnb.measures.registry import Filters, column_format, define, formatted
from mdcnb.snapshot import Snapshot

SCOPE_FILTERS = ("environments", "subscriptions", "accounts")


def scopes(snap: Snapshot, f: Filters) -> pd.DataFrame:
    """The secure score scopes the filters keep (subscriptions and connectors), with their scores."""
    return score.scopes(snap.tables, environments=f.environments, subscriptions=f.subscriptions, accounts=f.accounts)


@define("score.overall", "Secure score", "%", "{:.2f}", filters=SCOPE_FILTERS, decimals=2)
def overall(snap: Snapshot, f: Filters) -> float:
    return score.overall(scopes(snap, f))["percentage"]


@define("score.points", "Secure score points", "points", "{:,.2f}", filters=SCOPE_FILTERS, decimals=2)
def points(snap: Snapshot, f: Filters) -> float:
    return score.overall(scopes(snap, f))["current"]


@define("score.scopes", "Scopes (subscriptions and connectors)", "count", "{:,}", filters=SCOPE_FILTERS)
def scope_count(snap: Snapshot, f: Filters) -> int:
    return len(scopes(snap, f))


@define("score.by_scope", "Secure score per scope", "%", "{:.2f}", filters=SCOPE_FILTERS, decimals=2,
        table=True)
def by_scope(snap: Snapshot, f: Filters) -> pd.DataFrame:
    """Table measure: one row per scope (scope_id, name, environment, current, max, percentage, weight)."""
    return scopes(snap, f)


@define("score.controls", "Potential increase per control", "points", "{:.2f}", filters=SCOPE_FILTERS,
        decimals=2, table=True)
def controls(snap: Snapshot, f: Filters) -> pd.DataFrame:
    """Table measure: controls ranked by the secure score points fixing them would add (`potential_increase`)."""
    return score.controls(snap.tables, scopes(snap, f))


@define("score.top_control", "Largest potential increase", "", "{}", filters=SCOPE_FILTERS)
def top_control(snap: Snapshot, f: Filters) -> str:
    """`Enable MFA (+17.57 pts)`, or `none` when no fix would raise the score."""
    best = score_detail.best_control(controls(snap, f))
    return "none" if best is None else f"{best[0]} ({formatted(best[1], *column_format('potential_increase'))})"


def _assessments(snap: Snapshot, f: Filters) -> pd.DataFrame:
    frame = snap.tables.assessments
    kept = scopes(snap, f)
    if f.environments or f.subscriptions or f.accounts:
        frame = frame[score.assessment_scope(frame).isin(set(kept["scope_id"]))]
    if f.severities:
        frame = frame[frame["severity"].isin(list(f.severities))]
    return frame


@define("score.unhealthy", "Unhealthy assessments", "count", "{:,}", filters=(*SCOPE_FILTERS, "severities"))
def unhealthy(snap: Snapshot, f: Filters) -> int:
    return int(_assessments(snap, f)["status"].eq("Unhealthy").sum())


@define("score.healthy", "Healthy assessments", "count", "{:,}", filters=(*SCOPE_FILTERS, "severities"))
def healthy(snap: Snapshot, f: Filters) -> int:
    return int(_assessments(snap, f)["status"].eq("Healthy").sum())


@define("score.recount_agreement", "Controls that agree with a recount of the assessments", "", "{}")
def recount_agreement(snap: Snapshot, f: Filters) -> str:
    """How many controls' stored healthy/unhealthy counts MDC's assessments reproduce (whole estate)."""
    recount = score.recompute_controls(snap.tables)
    return f"{int(recount['agrees'].sum())} of {len(recount)}"
