"""The secure score page's panel: headline numbers, controls ranked, severities behind them, recommendations."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from mdcnb import figures
from mdcnb.analysis import score_detail
from mdcnb.measures import registry
from mdcnb.measures import score as score_measures
from mdcnb.snapshot import Snapshot
from mdcnb.widgets.panel import FilterPanel, Filters, measures_of, present, scope_options

HEADLINES = ("score.overall", "score.scopes", "score.unhealthy", "score.top_control")


def score_explorer(snapshot: Snapshot, *, environments: Sequence[str] = (), subscriptions: Sequence[str] = (),
                   accounts: Sequence[str] = ()) -> FilterPanel:
    """Secure score panel: every view follows environment and scope; severity narrows the recommendations, their
    severities and the unhealthy count, while the score and its controls count every severity, as MDC's do (their
    titles say so). The join of controls to assessments is made once; a change masks and sums its rows."""
    tables = snapshot.tables
    found = present(tables.assessments["severity"].unique())  # its distinct values, not a million cells
    severities = [s for s in score_detail.SEVERITIES if s in found]
    panel = FilterPanel(environments=present(tables.secure_scores["environment"]), scopes=scope_options(tables),
                        severities=severities, defaults=Filters(environments=tuple(environments),
                                                                scopes=tuple(subscriptions), accounts=tuple(accounts)))

    def measure(id: str, f: Filters) -> pd.DataFrame:
        return panel.once(id, lambda f: registry.value(id, snapshot, f.measures()))

    def recommendations(f: Filters) -> pd.DataFrame:
        return panel.once("recommendations", lambda f: score_measures.recommendations(snapshot, f.measures()))

    panel.view(lambda f: measures_of(snapshot, HEADLINES, f.measures()), "headlines")
    panel.view(lambda f: figures.controls_ranked(measure("score.controls", f)), "score_controls",
               ignores=("severities",))
    panel.view(lambda f: figures.control_severity(score_detail.severity_by_control(recommendations(f))),
               "recommendations")
    panel.view(lambda f: recommendations(f).sort_values("unhealthy", ascending=False).head(25), "recommendations",
               caption="Recommendations with the most unhealthy resources")
    return panel
