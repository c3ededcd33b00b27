"""Secure score charts: the overall gauge, environments, scopes, controls ranked, severities, recommendations."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from mdcnb.analysis.score import SCORE_PLOTLY_FORMAT
from mdcnb.analysis.score_detail import scope_label
from mdcnb.figures.style import (
    ENVIRONMENT_COLORS,
    SCORE_COLOR,
    SEVERITY_COLORS,
    layout,
    plain,
    rows_height,
    top,
)
from mdcnb.measures import registry
from mdcnb.measures.registry import column_format, formatted

GAIN = column_format("potential_increase")  # `+17.57 pts`, as the tables and the headline write it


def score_gauge(percentage: float, title: str = "Secure score") -> go.Figure:
    """MDC's overall percentage (0-100) as a gauge."""
    fig = go.Figure(go.Indicator(mode="gauge+number", value=percentage,
                                 number={"suffix": " %", "valueformat": SCORE_PLOTLY_FORMAT},
                                 gauge={"axis": {"range": [0, 100]}, "bar": {"color": SCORE_COLOR}}))
    return layout(fig, title, height=280)


def score_by_environment(environments: pd.DataFrame) -> go.Figure:
    """Percentage per environment (columns environment, percentage, current, max, scopes)."""
    fig = go.Figure(go.Bar(
        x=plain(environments["environment"]), y=environments["percentage"],
        marker_color=[ENVIRONMENT_COLORS.get(e, ENVIRONMENT_COLORS["Unknown"]) for e in environments["environment"]],
        text=[registry.text("score.overall", p) for p in environments["percentage"]], textposition="outside",
        cliponaxis=False,
        customdata=environments[["current", "max", "scopes"]].to_numpy(),
        hovertemplate="%{x}: %{y:.2f} %<br>%{customdata[0]} of %{customdata[1]} points"
                      "<br>%{customdata[2]} scopes<extra></extra>"))
    fig.update_yaxes(range=[0, 100], title="secure score %")
    return layout(fig, "Secure score by environment", height=340)


def score_by_scope(scopes: pd.DataFrame, limit: int = 40) -> go.Figure:
    """Scopes from the lowest percentage up (a scope table of `score.scopes`), coloured by environment."""
    shown, suffix = top(scopes, limit, "percentage", ascending=True)
    names = pd.Series(shown["name"].to_numpy(), index=shown["scope_id"])
    labels = plain(scope_label(shown["scope_id"], names)).tolist()
    fig = go.Figure()
    for env in sorted(shown["environment"].fillna("Unknown").unique()):
        mask = (shown["environment"].fillna("Unknown") == env).to_numpy()
        part = shown[mask]
        fig.add_bar(y=[label for label, m in zip(labels, mask, strict=True) if m], x=part["percentage"],
                    name=plain(env), orientation="h",
                    marker_color=ENVIRONMENT_COLORS.get(env, ENVIRONMENT_COLORS["Unknown"]),
                    customdata=part[["current", "max"]].to_numpy(),
                    hovertemplate="%{y}: %{x:.2f} %<br>%{customdata[0]} of %{customdata[1]} points<extra></extra>")
    fig.update_yaxes(categoryorder="array", categoryarray=labels, autorange="reversed")
    fig.update_xaxes(range=[0, 100], title="secure score %")
    return layout(fig, f"Secure score by scope, lowest first{suffix}", height=rows_height(len(shown)))


def controls_ranked(controls: pd.DataFrame, limit: int = 20) -> go.Figure:
    """Controls by potential increase of the score (a table of `score.controls`)."""
    shown, suffix = top(controls, limit, "potential_increase")
    fig = go.Figure(go.Bar(
        y=plain(shown["control_name"]), x=shown["potential_increase"], orientation="h", marker_color=SCORE_COLOR,
        text=[formatted(v, *GAIN) for v in shown["potential_increase"]], textposition="outside", cliponaxis=False,
        customdata=shown[["current", "max", "unhealthy"]].to_numpy(),
        hovertemplate="%{y}<br>+%{x:.2f} pts if fixed<br>%{customdata[0]} of %{customdata[1]} points"
                      "<br>%{customdata[2]} unhealthy resources<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title="potential increase of the secure score (percentage points)")
    return layout(fig, f"Controls ranked by potential increase{suffix}", height=rows_height(len(shown)))


def control_severity(severities: pd.DataFrame, order: list[str] | None = None) -> go.Figure:
    """Unhealthy resources per control, stacked by severity (long table: control_name, severity, unhealthy)."""
    controls = order or sorted(severities["control_name"].unique())
    controls = [c for c in controls if c in set(severities["control_name"])]
    fig = go.Figure()
    for severity, color in SEVERITY_COLORS.items():
        part = severities[severities["severity"] == severity]
        if len(part):
            label = plain(severity)
            fig.add_bar(y=plain(part["control_name"]), x=part["unhealthy"], orientation="h", name=label,
                        marker_color=color, hovertemplate="%{y}<br>" + label + ": %{x} unhealthy<extra></extra>")
    fig.update_layout(barmode="stack")
    fig.update_yaxes(categoryorder="array", categoryarray=plain(controls), autorange="reversed")
    fig.update_xaxes(title="unhealthy resources (per recommendation)")
    return layout(fig, "Unhealthy resources behind each control, by severity", height=rows_height(len(controls)))


def recommendations_ranked(recommendations: pd.DataFrame, limit: int = 25, label_chars: int = 60) -> go.Figure:
    """The recommendations with the most unhealthy resources, one bar each, coloured by severity, the control in
    the hover (a table of `score_detail.control_recommendations`); the bar to fix first is on top."""
    rows = recommendations[recommendations["unhealthy"] > 0].drop_duplicates("assessment_key")
    shown, suffix = top(rows, limit, "unhealthy")
    labels = plain(_unique(_cut(str(r), label_chars) for r in shown["recommendation"]))
    fig = go.Figure()
    for severity, color in SEVERITY_COLORS.items():
        mask = (shown["severity"] == severity).to_numpy()
        if mask.any():
            part = shown[mask]
            fig.add_bar(y=[label for label, m in zip(labels, mask, strict=True) if m], x=part["unhealthy"],
                        orientation="h", name=severity, marker_color=color, text=part["unhealthy"],
                        textposition="outside", cliponaxis=False,
                        customdata=list(zip(plain(part["recommendation"]), plain(part["control_name"]),
                                            part["potential_increase"], strict=True)),
                        hovertemplate="%{customdata[0]}<br>control: %{customdata[1]} (+%{customdata[2]:.2f} "
                                      "pts if fixed)<br>%{x} unhealthy resources<extra></extra>")
    fig.update_yaxes(categoryorder="array", categoryarray=labels, autorange="reversed")
    fig.update_xaxes(title="unhealthy resources")
    return layout(fig, f"Recommendations with the most unhealthy resources, by severity{suffix}",
                  height=rows_height(len(shown)))


def _cut(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[:chars - 1].rstrip() + "…"


def _unique(labels) -> list[str]:
    """Axis labels made unique (two recommendations cut to the same text would share one bar)."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return out
