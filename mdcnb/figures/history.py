"""Plotly figures of the weekly summary page: trends over the stored weeks (data from `mdcnb.analysis.history`).

Each builder takes the long table a trend function returns (already reduced to what should be drawn: a handful of
lines, never one per resource) and returns a `plotly.graph_objects.Figure`. Weeks are categories on the x axis,
so a missing week shows as a gap in the labels rather than as an invented value.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from mdcnb.figures.style import ACTOR_COLORS, plain, white, window

LAYOUT = {"height": 420, "margin": {"l": 60, "r": 20, "t": 60, "b": 50},
          "legend": {"orientation": "h", "y": -0.2}}


def _lines(frame: pd.DataFrame, series: str, value: str, title: str, y_title: str, bold: str | None = None,
           percent: bool = True, label: str | None = None) -> go.Figure:
    """One line per `series` value, named by its `label` column (default: the series value itself); `title` ends
    with what the chart covers when the page filters on something it ignores (`registry.scope_note`)."""
    lines = []
    for key, rows in frame.groupby(series, sort=False, dropna=False):
        name = str(rows[label].iloc[0]) if label else str(key)
        lines.append({"type": "scatter", "x": rows["week"], "y": rows[value], "name": plain(name),
                      "mode": "lines+markers", "line": {"width": 4 if name == bold else 1.5}, "connectgaps": False})
    axis = {"title": y_title, "rangemode": "tozero"}
    if percent:
        axis.update(range=[0, 100], ticksuffix=" %")
    fig = go.Figure(data=lines, layout={"title": f"{title}, {window(frame['week'])}",
                                        "xaxis": {"title": "ISO week", "type": "category", "automargin": True},
                                        "yaxis": {**axis, "automargin": True}, **LAYOUT})
    return white(fig)


def score_trend(trend: pd.DataFrame, note: str = "") -> go.Figure:
    """Secure score by week: the overall score in bold, and the scopes given (label: `name`)."""
    named = trend.assign(label=trend["name"].fillna(trend["scope_id"]))
    return _lines(named, "scope_id", "percentage", f"Secure score by week{note}", "secure score", bold="Overall",
                  label="label")


def pass_rate_trend(trend: pd.DataFrame, note: str = "") -> go.Figure:
    """Regulatory compliance pass rate by week, one line per standard."""
    return _lines(trend, "standard", "pass_rate", f"Compliance pass rate by week (passed / (passed + failed)){note}",
                  "pass rate")


def coverage_trend(trend: pd.DataFrame, note: str = "") -> go.Figure:
    """Defender plan coverage by week: share of subscriptions with the plan on, one line per plan."""
    return _lines(trend, "plan", "coverage", f"Defender plan coverage by week (subscriptions with the plan on){note}",
                  "coverage")


def cloudtrail_trend(trend: pd.DataFrame, note: str = "") -> go.Figure:
    """CloudTrail events by week (each week's own days only): CspmMonitorAws read events and all other events,
    stacked, in the CloudTrail page's actor colours."""
    fig = go.Figure([
        go.Bar(x=trend["week"], y=trend["cspm_read_events"], name="CspmMonitorAws read events",
               marker_color=ACTOR_COLORS["cspm"]),
        go.Bar(x=trend["week"], y=trend["events"] - trend["cspm_read_events"], name="other events",
               marker_color=ACTOR_COLORS["other"]),
    ])
    if trend.empty:
        fig.add_annotation(text="No CloudTrail logs in the stored weeks yet", showarrow=False,
                           xref="paper", yref="paper", x=0.5, y=0.5)
    white(fig)
    fig.update_layout(title=f"CloudTrail events by ISO week{note}, {window(trend['week'])}", barmode="stack",
                      xaxis={"title": "ISO week", "type": "category"}, yaxis={"title": "events"}, **LAYOUT)
    return fig
