"""Regulatory compliance charts: control states per standard, pass rate per scope and standard."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from mdcnb.figures.style import PASS_RATE_SCALE, STATE_COLORS, layout, plain, rows_height
from mdcnb.measures.registry import formatted

STATE_COLUMNS = {"Passed": "passed_controls", "Failed": "failed_controls", "Skipped": "skipped_controls",
                 "Unsupported": "unsupported_controls"}


def compliance_states(rollup: pd.DataFrame) -> go.Figure:
    """Controls per standard by state, stacked (a table of `compliance.rollup`), pass rate in the label."""
    labels = [f"{s} ({formatted(r, 'ratio')})"
              for s, r in zip(plain(rollup["standard"]), rollup["pass_rate"], strict=True)]
    fig = go.Figure()
    for state, column in STATE_COLUMNS.items():
        fig.add_bar(y=labels, x=rollup[column], orientation="h", name=state, marker_color=STATE_COLORS[state],
                    hovertemplate="%{y}<br>" + state + ": %{x} controls<extra></extra>")
    fig.update_layout(barmode="stack")
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title="controls (summed over scopes)")
    return layout(fig, "Controls per standard by state (pass rate = passed / (passed + failed))",
                  height=rows_height(len(labels)))


def pass_rate_heatmap(matrix: pd.DataFrame, title_suffix: str = "") -> go.Figure:
    """Pass rate per scope (rows) and standard (columns), 0..1; blank where nothing was assessed."""
    percent = matrix.astype(float) * 100
    text = [["" if pd.isna(v) else formatted(v, "%", "{:.1f}") for v in row] for row in percent.to_numpy()]
    fig = go.Figure(go.Heatmap(z=percent.to_numpy(), x=plain(list(matrix.columns)), y=plain(list(matrix.index)),
                               zmin=0, zmax=100,
                               colorscale=PASS_RATE_SCALE, text=text, texttemplate="%{text}",
                               colorbar={"title": {"text": "pass rate %"}}, hoverongaps=False,
                               hovertemplate="%{y}<br>%{x}: %{z:.1f} %<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    return layout(fig, f"Pass rate by scope and standard{title_suffix}", height=rows_height(len(matrix)) + 80)
