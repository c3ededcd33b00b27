"""The secure score page's panel: headline numbers, controls ranked, severities behind them, recommendations."""

from __future__ import annotations

from collections.abc import Sequence

from mdcnb import figures
from mdcnb.analysis import score, score_detail
from mdcnb.snapshot import Snapshot
from mdcnb.widgets.panel import FilterPanel, Filters, measures_of, present, scope_options

HEADLINES = ("score.overall", "score.scopes", "score.unhealthy", "score.top_control")


def score_explorer(snapshot: Snapshot, *, environments: Sequence[str] = (), subscriptions: Sequence[str] = (),
                   accounts: Sequence[str] = ()) -> FilterPanel:
    """Secure score panel: every view follows environment, scope and severity (severity narrows the
    recommendations, their severities and the unhealthy count; the score and its controls count every severity,
    as MDC's do: their titles say so)."""
    tables = snapshot.tables
    severities = [s for s in score_detail.SEVERITIES if s in set(tables.assessments["severity"].dropna())]
    panel = FilterPanel(environments=present(tables.secure_scores["environment"]), scopes=scope_options(tables),
                        severities=severities, defaults=Filters(environments=tuple(environments),
                                                                scopes=tuple(subscriptions), accounts=tuple(accounts)))

    def scope_table(f: Filters):
        return score.scopes(tables, environments=f.environments, subscriptions=f.scopes, accounts=f.accounts)

    def recommendations(f: Filters):
        return score_detail.control_recommendations(tables, scope_table(f), severities=f.severities)

    panel.view(lambda f: measures_of(snapshot, HEADLINES, f.measures()), "headlines")
    panel.view(lambda f: figures.controls_ranked(score.controls(tables, scope_table(f))), "score_controls")
    panel.view(lambda f: figures.control_severity(score_detail.severity_by_control(recommendations(f))),
               "recommendations")
    panel.view(lambda f: recommendations(f).sort_values("unhealthy", ascending=False).head(25), "recommendations")
    return panel
