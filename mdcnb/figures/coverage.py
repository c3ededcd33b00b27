"""Figures of the estate and coverage page: connectors per environment, the AWS readiness matrix, check outcomes
and the onboarding pitfalls. Each builder takes a table the analysis already rolled up (`mdcnb.analysis.coverage`,
`mdcnb.analysis.readiness`) and returns a plotly figure; names from the cloud are escaped (`style.plain`).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from mdcnb.figures.style import layout, plain, window

STATUS_COLORS = {"pass": "#2e7d32", "fail": "#c62828", "not applicable": "#e0e0e0", "could not check": "#f9a825"}


def connectors_by_environment(counts: pd.DataFrame) -> go.Figure:
    """Bars of connectors per environment, split native / classic (`coverage.connectors_by_environment`)."""
    fig = go.Figure()
    for kind, group in counts.groupby("kind", sort=True):
        fig.add_bar(x=plain(group["environment"]), y=group["connectors"], name=plain(kind),
                    marker_pattern_shape="/" if kind == "classic" else "")
    fig.update_layout(barmode="stack", yaxis_title="connectors")
    return layout(fig, "Connectors by environment", height=320)


def readiness_matrix(results: pd.DataFrame) -> go.Figure:
    """Accounts x checks heat map coloured by status, evidence on hover (`aws_audit` table)."""
    checks = list(dict.fromkeys(results["check_id"]))
    accounts = list(dict.fromkeys(results["account_id"]))
    labels = {a: plain(f"{a} {n}" if isinstance(n, str) else a)
              for a, n in results.drop_duplicates("account_id")[["account_id", "account_name"]].itertuples(index=False)}
    codes = {status: i for i, status in enumerate(STATUS_COLORS)}
    cells = {(r.account_id, r.check_id): (r.status, r.evidence) for r in results.itertuples(index=False)}
    z = [[codes.get(cells.get((a, c), ("", ""))[0]) for c in checks] for a in accounts]  # None: no row, blank
    text = [["<br>".join(plain([str(v) for v in cells.get((a, c), ("no result", ""))])) for c in checks]
            for a in accounts]
    n = len(STATUS_COLORS)
    scale = [[edge, color] for i, color in enumerate(STATUS_COLORS.values()) for edge in (i / n, (i + 1) / n)]
    fig = go.Figure(go.Heatmap(z=z, x=plain(checks), y=[labels[a] for a in accounts], text=text, zmin=-0.5,
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
            fig.add_bar(y=plain(counts.index), x=counts[status], name=status, orientation="h", marker_color=color)
    fig.update_layout(barmode="stack", xaxis_title="accounts")
    fig.update_yaxes(autorange="reversed")
    return layout(fig, "Readiness checks: accounts by outcome", height=140 + 24 * len(counts))


def pitfall_counts(counts: pd.DataFrame) -> go.Figure:
    """Horizontal bars: accounts affected by each onboarding pitfall (`coverage.pitfall_counts`)."""
    fig = go.Figure(go.Bar(y=plain(counts["pitfall"]), x=counts["accounts"], orientation="h", marker_color="#c62828",
                           text=counts["accounts"], textposition="auto"))
    fig.update_layout(xaxis_title="AWS accounts affected")
    fig.update_yaxes(autorange="reversed")
    return layout(fig, "Onboarding pitfalls found in the data", height=140 + 40 * len(counts))


def readiness_over_time(weekly: pd.DataFrame) -> go.Figure:
    """Stacked bars per ISO week: (account, check) results by status (`mdcnb.analysis.readiness.outcomes_by_week`)."""
    fig = go.Figure()
    for status, color in STATUS_COLORS.items():
        rows = weekly[weekly["status"] == status]
        fig.add_bar(x=rows["week"], y=rows["results"], name=status, marker_color=color)
    fig.update_layout(barmode="stack", yaxis_title="account x check results", xaxis_type="category")
    return layout(fig, f"Readiness checks by ISO week, {window(weekly['week'])}", height=360)


PLAN_STATES = {"no setting": "#ffffff", "Free": "#eceff1", "deprecated": "#bdbdbd", "trial": "#a5d6a7",
               "Standard": "#2e7d32"}


def _plan_state(label: str) -> str:
    """The colour key of a plan matrix cell (`coverage.plan_matrix` label such as `Standard P2 (trial 12 d)`)."""
    if not label:
        return "no setting"
    if "[deprecated]" in label:
        return "deprecated"
    if label.startswith("Standard"):
        return "trial" if "(trial" in label else "Standard"
    return "Free"


def _plan_short(label: str) -> str:
    """What fits in a cell: the sub-plan when it is short (`P1`, `P2`), `trial`, else nothing (hover has it all)."""
    if "(trial" in label:
        return "trial"
    words = label.replace("[deprecated]", "").split()
    return words[1] if len(words) > 1 and len(words[1]) <= 3 else ""


def plan_matrix(matrix: pd.DataFrame) -> go.Figure:
    """Scopes x Defender plans coloured by state: on (Standard), trial, Free, deprecated, no setting; the sub-plan
    in the cell and the full setting on hover (`coverage.plan_matrix`: columns level, scope, then one per plan)."""
    plans = [c for c in matrix.columns if c not in ("level", "scope")]
    labels = plain([s if level == "subscription" else f"{s} ({level})"
                    for level, s in zip(matrix["level"], matrix["scope"], strict=True)])
    cells = matrix[plans].fillna("").astype(str)
    codes = {state: i for i, state in enumerate(PLAN_STATES)}
    z = [[codes[_plan_state(v)] for v in row] for row in cells.to_numpy()]
    n = len(PLAN_STATES)
    scale = [[edge, color] for i, color in enumerate(PLAN_STATES.values()) for edge in (i / n, (i + 1) / n)]
    fig = go.Figure(go.Heatmap(
        z=z, x=plain(plans), y=labels, zmin=-0.5, zmax=n - 0.5, colorscale=scale, xgap=2, ygap=2,
        text=[[_plan_short(v) for v in row] for row in cells.to_numpy()], texttemplate="%{text}",
        customdata=[plain([v or "no setting" for v in row]) for row in cells.to_numpy()],
        hovertemplate="%{y}<br>%{x}: %{customdata}<extra></extra>",
        colorbar={"tickvals": list(range(n)), "ticktext": list(PLAN_STATES), "title": "plan"}))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(tickangle=-40, side="top")
    return layout(fig, f"Defender plans per scope ({len(labels)} scopes x {len(plans)} plans)",
                  height=200 + 24 * len(labels))
