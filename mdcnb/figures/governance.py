"""Plotly figures of the governance page: overdue work per owner by week, risk level x severity, and the secure
score each expiring exemption holds up (data from `mdcnb.analysis.governance`, already rolled up)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from mdcnb.figures.history import _lines
from mdcnb.figures.style import SCORE_COLOR, layout, rows_height, top

RISK_SCALE = [[0.0, "#ffffff"], [0.01, "#fff3e0"], [1.0, "#c62828"]]


def overdue_trend(trend: pd.DataFrame, owners: int = 8) -> go.Figure:
    """Overdue assignments per owner by week: the owners most overdue in the last week (at most `owners` lines)."""
    last = trend[trend["week"] == trend["week"].max()] if len(trend) else trend
    shown, suffix = top(last, owners, "overdue")
    frame = trend[trend["owner"].isin(shown["owner"])]
    return _lines(frame, "owner", "overdue", f"Overdue assignments per owner by week{suffix}", "overdue",
                  percent=False)


def risk_severity(matrix: pd.DataFrame) -> go.Figure:
    """Unhealthy assessments by risk level (rows) and severity (columns), counts in the cells."""
    values = matrix.to_numpy()
    fig = go.Figure(go.Heatmap(z=values, x=list(matrix.columns), y=list(matrix.index), colorscale=RISK_SCALE,
                               text=values, texttemplate="%{text}", colorbar={"title": {"text": "unhealthy"}},
                               hovertemplate="risk %{y}, severity %{x}: %{z}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title="risk level")
    fig.update_xaxes(title="severity")
    return layout(fig, "Unhealthy assessments: risk level x severity", height=rows_height(len(matrix)) + 80)


def score_held_up(held: pd.DataFrame) -> go.Figure:
    """Percentage points of the secure score each exemption holds up (the score without it is in the hover)."""
    labels = held["name"] + " (" + held["days_left"].astype("string").fillna("no expiry") + " days)"
    fig = go.Figure(go.Bar(x=held["held_up"], y=labels, orientation="h", marker_color=SCORE_COLOR,
                           customdata=held[["score_without", "assessments"]].to_numpy(),
                           hovertemplate="%{y}: %{x:.2f} pts<br>score without it %{customdata[0]:.2f} %"
                                         "<br>%{customdata[1]} exempted assessment(s)<extra></extra>"))
    fig.update_xaxes(title="secure score points held up", rangemode="tozero")
    fig.update_yaxes(autorange="reversed")
    return layout(fig, "Secure score held up by each exemption expiring soon", height=rows_height(len(held)))
