"""The compliance page's panel: headline numbers, control states per standard, the heat map, failing controls."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from mdcnb import figures
from mdcnb.analysis import compliance_detail, score_detail
from mdcnb.measures import compliance as compliance_measures
from mdcnb.measures import registry
from mdcnb.snapshot import Snapshot
from mdcnb.widgets.panel import FilterPanel, Filters, measures_of, present, scope_options

HEADLINES = ("compliance.pass_rate", "compliance.passed", "compliance.failed", "compliance.failed_assessments")


def compliance_explorer(snapshot: Snapshot, *, subscriptions: Sequence[str] = (),
                        standards: Sequence[str] = ()) -> FilterPanel:
    """Compliance panel: every view follows scope and standard. The standards of the selection, its roll-up and
    its failing controls are the measures' own (computed once for the headlines and the views); the unhealthy
    resources behind failing controls are grouped once per snapshot."""
    tables = snapshot.tables
    panel = FilterPanel(scopes=scope_options(tables), standards=present(tables.compliance_standards["standard"]),
                        defaults=Filters(scopes=tuple(subscriptions), standards=tuple(standards)))
    names = score_detail.scope_names(tables)

    def selected(f: Filters) -> pd.DataFrame:
        return panel.once("standards", lambda f: compliance_measures.standards(snapshot, f.measures()))

    def failing(f: Filters) -> pd.DataFrame:
        return panel.once("failing", lambda f: compliance_measures.failing(snapshot, f.measures()))

    panel.view(lambda f: measures_of(snapshot, HEADLINES, f.measures()), "headlines")
    panel.view(lambda f: figures.compliance_states(registry.value("compliance.by_standard", snapshot, f.measures())),
               "compliance_controls")
    panel.view(lambda f: figures.pass_rate_heatmap(*compliance_detail.pass_rate_matrix(selected(f), names)),
               "compliance_controls")
    panel.view(lambda f: failing(f).head(25), "failing_controls", caption="Failing controls (first 25)")
    return panel
