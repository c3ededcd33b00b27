"""The coverage page's panel: headline numbers, connectors, the plan matrix, plans off where resources exist, the
AWS readiness pitfalls and checks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from mdcnb.analysis import cost_units, coverage, readiness
from mdcnb.figures import coverage as coverage_figures
from mdcnb.measures import registry
from mdcnb.measures.coverage import gaps
from mdcnb.snapshot import Snapshot
from mdcnb.widgets.panel import FilterPanel, Filters, account_options, measures_of, present, scope_options

HEADLINES = ("coverage.connectors", "coverage.plans_off_with_resources", "readiness.accounts", "readiness.failures",
             "readiness.could_not_check")


def coverage_explorer(snapshot: Snapshot, *, environments: Sequence[str] = (), subscriptions: Sequence[str] = (),
                      accounts: Sequence[str] = (), mask: Callable[[Any], Any] | None = None) -> FilterPanel:
    """Coverage panel: the connector views follow environment, subscription and account; the plan matrix and the
    plans off (subscription plans) environment and subscription, the AWS readiness views environment and account
    (their titles say what they do not follow while it is selected)."""
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
        return panel.once("connectors", lambda f: coverage.select(
            tables.connectors, environments=f.environments, subscriptions=f.scopes, accounts=f.accounts,
            account_column="hierarchy_id"))

    labelled = coverage.plan_labels(settings, names)  # each setting's cell, labelled once

    def plan_cells(f: Filters) -> pd.DataFrame:
        return coverage.select(labelled, environments=f.environments, subscriptions=f.scopes)

    def audit(f: Filters) -> pd.DataFrame:
        return panel.once("audit", lambda f: coverage.audit_selection(audit_results, environments=f.environments,
                                                                      accounts=f.accounts))

    panel.view(lambda f: measures_of(snapshot, HEADLINES, f.measures()), "headlines")
    panel.view(lambda f: coverage_figures.connectors_by_environment(coverage.connectors_by_environment(connectors(f))),
               "connectors")
    panel.view(lambda f: coverage.connectors_overview(connectors(f)), "connectors", caption="Connectors")
    panel.view(lambda f: coverage.pivot_plans(plan_cells(f)), "plans", caption="Defender plans per scope",
               ignores=("accounts",))
    # plans off are subscription plans: an account (which narrows connectors only) leaves them as they are
    panel.view(lambda f: gaps(snapshot, f.measures())[["subscription", "plan_display", "resources", "resource_types"]],
               "plans_off", caption=lambda f: registry.labelled("coverage.gaps", f.measures()), ignores=("accounts",))
    panel.view(lambda f: coverage_figures.pitfall_counts(coverage.pitfall_counts(audit(f))), "pitfalls",
               ignores=("scopes",))
    panel.view(lambda f: coverage.pitfalls(audit(f)), "pitfalls", caption="Onboarding pitfalls", ignores=("scopes",))
    panel.view(lambda f: readiness.failures(audit(f)), "readiness", caption="Failing AWS readiness checks",
               ignores=("scopes",))
    return panel
