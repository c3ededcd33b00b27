"""The compliance page's panel: headline numbers, control states per standard, the heat map, failing controls."""

from __future__ import annotations

from collections.abc import Sequence

from mdcnb import figures
from mdcnb.analysis import compliance, compliance_detail, score_detail
from mdcnb.snapshot import Snapshot
from mdcnb.widgets.panel import FilterPanel, Filters, measures_of, present, scope_options

HEADLINES = ("compliance.pass_rate", "compliance.passed", "compliance.failed", "compliance.failed_assessments")


def compliance_explorer(snapshot: Snapshot, *, subscriptions: Sequence[str] = (),
                        standards: Sequence[str] = ()) -> FilterPanel:
    """Compliance panel: every view follows scope and standard."""
    tables = snapshot.tables
    panel = FilterPanel(scopes=scope_options(tables), standards=present(tables.compliance_standards["standard"]),
                        defaults=Filters(scopes=tuple(subscriptions), standards=tuple(standards)))
    names = score_detail.scope_names(tables)

    def selected(f: Filters):
        return compliance.standards(tables, subscriptions=f.scopes, standards=f.standards)

    panel.view(lambda f: measures_of(snapshot, HEADLINES, f.measures()), "headlines")
    panel.view(lambda f: figures.compliance_states(compliance.rollup(selected(f))), "compliance_controls")
    panel.view(lambda f: figures.pass_rate_heatmap(*compliance_detail.pass_rate_matrix(selected(f), names)),
               "compliance_controls")
    panel.view(lambda f: compliance.failing_controls(tables, subscriptions=f.scopes, standards=f.standards).head(25),
               "failing_controls")
    return panel
