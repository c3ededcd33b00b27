"""Governance, exemption and risk measures: owners and due dates, waivers and mitigations, risk levels.

Every figure is judged at the snapshot's as-of time (`manifest` `as_of`, else `created`: a pull's own time); the
scope filters are those of the secure score (environment, subscription).
"""

from __future__ import annotations

import pandas as pd

from mdcnb.analysis import governance
from mdcnb.measures import score as score_measures
from mdcnb.measures.registry import Filters, define
from mdcnb.snapshot import Snapshot, computed_once
from mdcnb.tables.history import dataset_as_of

FILTERS = ("environments", "subscriptions")


def as_of(snap: Snapshot) -> pd.Timestamp:
    return dataset_as_of(snap.tables.manifest)


def _scoped(snap: Snapshot, f: Filters) -> pd.DataFrame:
    """The assessments in scope, picked once per snapshot and selection (every governance measure reads them)."""
    f = f.only(FILTERS)
    return computed_once(snap, "governance.scoped", f, lambda: governance.scoped_assessments(
        snap.tables, environments=f.environments, subscriptions=f.subscriptions))


def _assigned(snap: Snapshot, f: Filters) -> pd.DataFrame:
    f = f.only(FILTERS)
    return computed_once(snap, "governance.assigned", f,
                         lambda: governance.assignments(snap.tables, as_of(snap), _scoped(snap, f)))


def _unassigned(snap: Snapshot, f: Filters) -> pd.DataFrame:
    """Unhealthy assessments without an owner, sorted once per snapshot and selection (a count and a table)."""
    f = f.only(FILTERS)
    return computed_once(snap, "governance.unassigned", f,
                         lambda: governance.unassigned_unhealthy(snap.tables, _scoped(snap, f)))


def _exemptions(snap: Snapshot, f: Filters) -> pd.DataFrame:
    return governance.exemptions(snap.tables, as_of(snap), environments=f.environments, subscriptions=f.subscriptions)


@define("governance.assignments", "Assignments on unhealthy assessments", "count", "{:,}", filters=FILTERS)
def assignments(snap: Snapshot, f: Filters) -> int:
    return len(_assigned(snap, f))


@define("governance.overdue", "Overdue assignments", "count", "{:,}", filters=FILTERS)
def overdue(snap: Snapshot, f: Filters) -> int:
    return int(_assigned(snap, f)["overdue"].sum())


@define("governance.unassigned_unhealthy", "Unhealthy assessments without an owner", "count", "{:,}",
        filters=FILTERS)
def unassigned_unhealthy(snap: Snapshot, f: Filters) -> int:
    return len(_unassigned(snap, f))


@define("governance.owners", "Assigned and overdue per owner", "count", "{:,}", filters=FILTERS, table=True)
def owners(snap: Snapshot, f: Filters) -> pd.DataFrame:
    """Table measure: owner, assigned, overdue (most overdue first)."""
    return governance.owners(_assigned(snap, f))


@define("governance.overdue_items", "Overdue assignments, longest overdue first", "count", "{:,}", filters=FILTERS,
        table=True)
def overdue_items(snap: Snapshot, f: Filters) -> pd.DataFrame:
    """Table measure: the overdue assignments, longest overdue first."""
    assigned = _assigned(snap, f)
    return assigned[assigned["overdue"]].reset_index(drop=True)


@define("governance.high_risk_overdue", "Overdue High and Critical risk items per owner", "count", "{:,}",
        filters=FILTERS, table=True)
def high_risk_overdue(snap: Snapshot, f: Filters) -> pd.DataFrame:
    return governance.high_risk_overdue(_assigned(snap, f))


@define("governance.unassigned", "Unhealthy assessments without an owner, riskiest first", "count", "{:,}",
        filters=FILTERS, table=True)
def unassigned(snap: Snapshot, f: Filters) -> pd.DataFrame:
    return _unassigned(snap, f)


@define("governance.overdue_trend", "Overdue assignments per owner by week", "count", "{:,}", table=True)
def overdue_trend(snap: Snapshot, f: Filters) -> pd.DataFrame:
    """Table measure: week, owner, assigned, overdue over the stored weeks (whole estate)."""
    return governance.overdue_trend(snap.history.weeks if snap.history is not None else {})


def _count(column: str):
    def compute(snap: Snapshot, f: Filters) -> int:
        return governance.exemption_counts(_exemptions(snap, f))[column]
    return compute


for _column, _label in (("exemptions", "Exemptions"), ("waiver", "Waivers"), ("mitigated", "Mitigations"),
                        ("expired", "Expired exemptions"), ("expiring_30d", "Exemptions expiring within 30 days")):
    define(f"exemptions.{_column}", _label, "count", "{:,}", filters=FILTERS)(_count(_column))


@define("exemptions.list", "Every exemption (expired ones included)", "count", "{:,}", filters=FILTERS, table=True)
def exemption_list(snap: Snapshot, f: Filters) -> pd.DataFrame:
    """Table measure: every exemption in scope with `expired`, `expiring_30d` and `days_left`."""
    return _exemptions(snap, f)


@define("exemptions.score_held_up", "Secure score held up by each exemption expiring within 30 days", "points",
        "{:.2f}", filters=FILTERS, decimals=2, table=True)
def score_held_up(snap: Snapshot, f: Filters) -> pd.DataFrame:
    """Table measure: per expiring exemption the assessments it exempts, the score now and without it."""
    frame = _exemptions(snap, f)
    expiring = frame[frame["expiring_30d"]]
    resources = score_measures.control_resources(snap) if len(expiring) else None
    return governance.score_held_up(snap.tables, expiring, environments=f.environments,
                                    subscriptions=f.subscriptions, resources=resources)


@define("exemptions.trend", "Exemptions per week", "count", "{:,}", table=True)
def exemption_trend(snap: Snapshot, f: Filters) -> pd.DataFrame:
    return governance.exemption_trend(snap.history.weeks if snap.history is not None else {})


def _risk(level: str):
    def compute(snap: Snapshot, f: Filters) -> int:
        return governance.unhealthy_by_risk(_scoped(snap, f))[level]
    return compute


for _level in (*governance.RISK_LEVELS, governance.NO_RISK):
    define(f"risk.{_level.lower()}", f"Unhealthy assessments of risk level {_level}", "count", "{:,}",
           filters=FILTERS)(_risk(_level))


@define("risk.by_severity", "Unhealthy assessments: risk level x severity", "count", "{:,}", filters=FILTERS,
        table=True)
def risk_by_severity(snap: Snapshot, f: Filters) -> pd.DataFrame:
    return governance.risk_by_severity(_scoped(snap, f)).reset_index()
