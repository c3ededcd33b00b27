"""Figures of the estate and coverage page: connectors per environment, the AWS readiness matrix, check outcomes
and the onboarding pitfalls. Each builder takes a table the analysis already rolled up (`mdcnb.analysis.coverage`,
`mdcnb.analysis.readiness`) and returns a plotly figure; names from the cloud are data, rendered as text.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from mdcnb.figures.style import layout

STATUS_COLORS = {"pass": "#2e7d32", "fail": "#c62828", "not applicable": "#e0e0e0", "could not check": "#f9a825"}


def connectors_by_environment(counts: pd.DataFrame) -> go.Figure:
    """Bars of connectors per environment, split native / classic (`coverage.connectors_by_environment`)."""
    fig = go.Figure()
    for kind, group in counts.groupby("kind", sort=True):
        fig.add_bar(x=group["environment"], y=group["connectors"], name=kind,
                    marker_pattern_shape="/" if kind == "classic" else "")
    fig.update_layout(barmode="stack", yaxis_title="connectors")
    return layout(fig, "Connectors by environment", height=320)


def readiness_matrix(results: pd.DataFrame) -> go.Figure:
    """Accounts x checks heat map coloured by status, evidence on hover (`aws_audit` table)."""
    checks = list(dict.fromkeys(results["check_id"]))
    accounts = list(dict.fromkeys(results["account_id"]))
    labels = {a: f"{a} {n}" if isinstance(n, str) else a
              for a, n in results.drop_duplicates("account_id")[["account_id", "account_name"]].itertuples(index=False)}
    codes = {status: i for i, status in enumerate(STATUS_COLORS)}
    cells = {(r.account_id, r.check_id): (r.status, r.evidence) for r in results.itertuples(index=False)}
    z = [[codes.get(cells.get((a, c), ("", ""))[0]) for c in checks] for a in accounts]  # None: no row, blank
    text = [["<br>".join(map(str, cells.get((a, c), ("no result", "")))) for c in checks] for a in accounts]
    n = len(STATUS_COLORS)
    scale = [[edge, color] for i, color in enumerate(STATUS_COLORS.values()) for edge in (i / n, (i + 1) / n)]
    fig = go.Figure(go.Heatmap(z=z, x=checks, y=[labels[a] for a in accounts], text=text, zmin=-0.5,
                               zmax=n - 0.5, colorscale=scale, xgap=2, ygap=2, hovertemplate="%{y}<br>%{x}: "
                               "%{text}<extra></extra>",
                               colorbar={"tickvals": list(range(n)), "ticktext": list(STATUS_COLORS),
                                         "title": "status"}))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(tickangle=-40)
    return layout(fig, "AWS onboarding readiness: accounts x checks", height=220 + 34 * len(accounts))


def check_outcomes(counts: pd.DataFrame) -> go.Figure:
    """Stacked bars per check: accounts passing, failing, not applicable, not checkable (`status_counts`)."""
    fig = go.Figure()
    for status, color in STATUS_COLORS.items():
        if status in counts.columns:
            fig.add_bar(y=counts.index, x=counts[status], name=status, orientation="h", marker_color=color)
    fig.update_layout(barmode="stack", xaxis_title="accounts")
    fig.update_yaxes(autorange="reversed")
    return layout(fig, "Readiness checks: accounts by outcome", height=140 + 24 * len(counts))


def pitfall_counts(counts: pd.DataFrame) -> go.Figure:
    """Horizontal bars: accounts affected by each onboarding pitfall (`coverage.pitfall_counts`)."""
    fig = go.Figure(go.Bar(y=counts["pitfall"], x=counts["accounts"], orientation="h", marker_color="#c62828",
                           text=counts["accounts"], textposition="auto"))
    fig.update_layout(xaxis_title="AWS accounts affected")
    fig.update_yaxes(autorange="reversed")
    return layout(fig, "Onboarding pitfalls found in the data", height=140 + 40 * len(counts))


def readiness_over_time(weekly: pd.DataFrame) -> go.Figure:
    """Stacked bars per ISO week: (account, check) results by status (`mdcnb.snapshot.readiness.audit_over_time`)."""
    fig = go.Figure()
    for status, color in STATUS_COLORS.items():
        rows = weekly[weekly["status"] == status]
        fig.add_bar(x=rows["week"], y=rows["results"], name=status, marker_color=color)
    fig.update_layout(barmode="stack", yaxis_title="account x check results", xaxis_type="category")
    return layout(fig, "Readiness checks over the weeks", height=360)
