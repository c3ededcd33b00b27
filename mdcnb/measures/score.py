"""Secure score measures: overall and per scope as MDC computes them, controls' potential increase, assessments."""

from __future__ import annotations

import pandas as pd

from mdcnb.analysis import score, score_detail
from mdcnb.measures.registry import Filters, column_format, define, formatted
from mdcnb.snapshot import Snapshot, computed_once

SCOPE_FILTERS = ("environments", "subscriptions", "accounts")


def scopes(snap: Snapshot, f: Filters) -> pd.DataFrame:
    """The secure score scopes the filters keep (subscriptions and connectors), with their scores: every scope is
    scored once per snapshot, and a selection's rows are picked from those once, however many of its measures (or
    a panel's views) read them."""
    f = f.only(SCOPE_FILTERS)
    every = computed_once(snap, "score.scopes", Filters(), lambda: score.scopes(snap.tables))
    if not f.active():
        return every
    return computed_once(snap, "score.scopes", f, lambda: score.filter_scopes(
        every, environments=f.environments, subscriptions=f.subscriptions, accounts=f.accounts).reset_index(drop=True))


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
    f = f.only(SCOPE_FILTERS)
    return computed_once(snap, "score.controls", f, lambda: score.controls(snap.tables, scopes(snap, f)))


@define("score.top_control", "Largest potential increase", "", "{}", filters=SCOPE_FILTERS)
def top_control(snap: Snapshot, f: Filters) -> str:
    """`Enable MFA (+17.57 pts)`, or `none` when no fix would raise the score."""
    best = score_detail.best_control(controls(snap, f))
    return "none" if best is None else f"{best[0]} ({formatted(best[1], *column_format('potential_increase'))})"


def _assessments(snap: Snapshot, f: Filters, status: str) -> int:
    """Assessments of `status` in the scopes and severities selected, summed from the snapshot's counts per scope,
    severity and status (made once)."""
    counts = computed_once(snap, "score.assessment_counts", Filters(), lambda: score.assessment_counts(snap.tables))
    keep = counts["status"].eq(status).fillna(False)
    if f.environments or f.subscriptions or f.accounts:
        keep &= counts["scope_id"].isin(set(scopes(snap, f)["scope_id"]))
    if f.severities:
        keep &= counts["severity"].isin(list(f.severities))
    return int(counts.loc[keep.astype(bool), "assessments"].sum())


@define("score.unhealthy", "Unhealthy assessments", "count", "{:,}", filters=(*SCOPE_FILTERS, "severities"))
def unhealthy(snap: Snapshot, f: Filters) -> int:
    return _assessments(snap, f, "Unhealthy")


@define("score.healthy", "Healthy assessments", "count", "{:,}", filters=(*SCOPE_FILTERS, "severities"))
def healthy(snap: Snapshot, f: Filters) -> int:
    return _assessments(snap, f, "Healthy")


def recommendation_rows(snap: Snapshot) -> pd.DataFrame:
    """`score_detail.recommendation_rows` of the snapshot, joined once for every panel and page that reads it."""
    return computed_once(snap, "score.recommendation_rows", Filters(),
                         lambda: score_detail.recommendation_rows(snap.tables))


def recommendations(snap: Snapshot, f: Filters) -> pd.DataFrame:
    """`score_detail.control_recommendations` of the selection's scopes and severities, from the snapshot's
    recommendation rows and the selection's control ranking (each made once): the page and its panel share them."""
    f = f.only((*SCOPE_FILTERS, "severities"))
    return computed_once(snap, "score.recommendations", f, lambda: score_detail.control_recommendations(
        snap.tables, scopes(snap, f), severities=f.severities, rows=recommendation_rows(snap),
        ranking=controls(snap, f)))


def control_resources(snap: Snapshot) -> score.ControlResources:
    """`score.control_resources` of the snapshot, joined once for the recount and the exemptions' what-if."""
    return computed_once(snap, "score.control_resources", Filters(), lambda: score.control_resources(snap.tables))


@define("score.recount_agreement", "Controls that agree with a recount of the assessments", "", "{}")
def recount_agreement(snap: Snapshot, f: Filters) -> str:
    """How many controls' stored healthy/unhealthy counts MDC's assessments reproduce (whole estate)."""
    recount = score.recompute_controls(snap.tables, resources=control_resources(snap))
    return f"{int(recount['agrees'].sum())} of {len(recount)}"
