"""Coverage measures: Defender plans that are off where billable resources exist."""

from __future__ import annotations

import pandas as pd

from mdcnb.analysis import cost_units, coverage, diff
from mdcnb.measures.cost import FILTERS, estate
from mdcnb.measures.registry import Filters, define
from mdcnb.snapshot import Snapshot, computed_once


@define("coverage.gaps", "Plans off where protected resources exist", "count", "{:,}", filters=FILTERS,
        table=True)
def gaps(snap: Snapshot, f: Filters) -> pd.DataFrame:
    """Table measure: one row per scope and plan that is off while the plan's resources exist there: the cost
    page's units and settings of the selection (`cost_units.select_scopes` of the estate's, which are counted once
    per snapshot; the prices play no part), once per selection."""
    f = f.only(FILTERS)

    def compute() -> pd.DataFrame:
        units, settings = cost_units.select_scopes(*estate(snap), f.environments, f.subscriptions, f.accounts)
        names = computed_once(snap, "coverage.names", None, lambda: cost_units.scope_names(snap.tables))
        return coverage.plans_off_with_resources(settings, units, names)
    return computed_once(snap, "coverage.gaps", f, compute)


@define("coverage.plans_off_with_resources", "Plans off where resources exist (scope x plan)", "count", "{:,}",
        filters=FILTERS)
def plans_off_with_resources(snap: Snapshot, f: Filters) -> int:
    return len(gaps(snap, f))


@define("coverage.subscriptions", "Subscriptions", "count", "{:,}", filters=("subscriptions",))
def subscriptions(snap: Snapshot, f: Filters) -> int:
    return len(coverage.only(snap.tables.subscriptions, "subscription_id", f.subscriptions))


@define("coverage.connectors", "Multicloud connectors", "count", "{:,}", filters=("environments",))
def connectors(snap: Snapshot, f: Filters) -> int:
    return len(coverage.only(snap.tables.connectors, "environment", f.environments))


@define("coverage.resources", "Resources assessed or inventoried", "count", "{:,}")
def resources(snap: Snapshot, f: Filters) -> int:
    return len(diff.resource_set(snap.tables))


@define("coverage.plans_enabled", "Defender plans switched on (subscription level)", "count", "{:,}",
        filters=("subscriptions",))
def plans_enabled(snap: Snapshot, f: Filters) -> int:
    plans = coverage.only(snap.tables.plans, "subscription_id", f.subscriptions)
    plans = plans[plans["level"].eq("subscription").fillna(False)]
    return int(plans["enabled"].fillna(False).sum())
