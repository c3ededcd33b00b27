"""The coverage page's panel: headline numbers, connectors, the plan matrix, plans off where resources exist, the
AWS readiness pitfalls and checks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from mdcnb.analysis import cost_units, coverage, readiness
from mdcnb.figures import coverage as coverage_figures
from mdcnb.measures.coverage import gaps
from mdcnb.snapshot import Snapshot
from mdcnb.widgets.panel import FilterPanel, Filters, account_options, measures_of, present, scope_options

HEADLINES = ("coverage.connectors", "coverage.plans_off_with_resources", "readiness.accounts", "readiness.failures",
             "readiness.could_not_check")


def coverage_explorer(snapshot: Snapshot, *, environments: Sequence[str] = (), subscriptions: Sequence[str] = (),
                      accounts: Sequence[str] = (), mask: Callable[[Any], Any] | None = None) -> FilterPanel:
    """Coverage panel: every view follows environment, subscription and account (the plan views through the
    account's connector; the readiness views are AWS-only)."""
    tables, audit_results = snapshot.tables, snapshot.audit.results
    settings, names = cost_units.plan_settings(tables), cost_units.scope_names(tables)
    panel = FilterPanel(
        environments=present([*settings["environment"], *tables.connectors["environment"]]),
        scopes=scope_options(tables),
        accounts=account_options((tables.connectors, "hierarchy_id", "account_name"),
                                 (audit_results, "account_id", "account_name")),
        defaults=Filters(environments=tuple(environments), scopes=tuple(subscriptions), accounts=tuple(accounts)),
        mask=mask)

    def connectors(f: Filters) -> pd.DataFrame:
        return coverage.select(tables.connectors, environments=f.environments, subscriptions=f.scopes,
                               accounts=f.accounts, account_column="hierarchy_id")

    def plan_settings(f: Filters) -> pd.DataFrame:
        return coverage.select(settings, environments=f.environments, subscriptions=f.scopes)

    def audit(f: Filters) -> pd.DataFrame:
        return coverage.audit_selection(audit_results, environments=f.environments, accounts=f.accounts)

    panel.view(lambda f: measures_of(snapshot, HEADLINES, f.measures()), "headlines")
    panel.view(lambda f: coverage_figures.connectors_by_environment(coverage.connectors_by_environment(connectors(f))),
               "connectors")
    panel.view(lambda f: coverage.connectors_overview(connectors(f)), "connectors")
    panel.view(lambda f: coverage.plan_matrix(plan_settings(f), names), "plans")
    panel.view(lambda f: gaps(snapshot, f.measures())[["subscription", "plan_display", "resources", "resource_types"]],
               "plans_off")
    panel.view(lambda f: coverage_figures.pitfall_counts(coverage.pitfall_counts(audit(f))), "pitfalls")
    panel.view(lambda f: coverage.pitfalls(audit(f)), "pitfalls")
    panel.view(lambda f: readiness.failures(audit(f)), "readiness")
    return panel
