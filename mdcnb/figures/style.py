"""Shared look of the report's charts: colours, layout defaults, capping long category lists, and cloud text made
literal (`plain`)."""

from __future__ import annotations

import html
from typing import Any, TypeVar

import pandas as pd
import plotly.graph_objects as go

SEVERITY_COLORS = {"Critical": "#7b1fa2", "High": "#c62828", "Medium": "#ef6c00", "Low": "#f9a825"}
STATE_COLORS = {"Passed": "#2e7d32", "Failed": "#c62828", "Skipped": "#9e9e9e", "Unsupported": "#cfd8dc"}
ENVIRONMENT_COLORS = {"Azure": "#0078d4", "AWS": "#ff9900", "GCP": "#34a853", "Unknown": "#9e9e9e"}
SCORE_COLOR = "#0078d4"
PASS_RATE_SCALE = [[0.0, "#c62828"], [0.5, "#f9a825"], [1.0, "#2e7d32"]]
BAR_HEIGHT_PX = 22
T = TypeVar("T")
MIN_HEIGHT_PX = 260


def layout(fig: go.Figure, title: str, *, height: int | None = None) -> go.Figure:
    """Title, white background, compact margins; `height` for charts whose size follows their rows."""
    fig.update_layout(title={"text": title, "x": 0, "xanchor": "left"}, template="plotly_white",
                      margin={"l": 10, "r": 10, "t": 60, "b": 40}, legend={"traceorder": "normal"})
    if height:
        fig.update_layout(height=max(MIN_HEIGHT_PX, height))
    return fig


def rows_height(rows: int) -> int:
    return 120 + rows * BAR_HEIGHT_PX


def top(frame: pd.DataFrame, limit: int, by: str, *, ascending: bool = False) -> tuple[pd.DataFrame, str]:
    """The first `limit` rows by `by`, and a title suffix saying how many were left out (empty if none)."""
    ordered = frame.sort_values(by, ascending=ascending, kind="stable")
    if len(ordered) <= limit:
        return ordered, ""
    return ordered.head(limit), f" (top {limit} of {len(ordered):,})"


def plain(value: T) -> T:
    """Cloud-supplied text (a string, or a Series, Index, list or tuple of them) as plotly shows it literally.

    plotly.js reads a subset of HTML in every label, legend entry, hover text and title (`<a href>` becomes a live
    link, `<b>` bold, an unknown tag vanishes) and decodes entities, so escaping `&`, `<` and `>` makes it draw the
    name exactly as given. Every figure builder passes names from the cloud through here (the tables and CSVs keep
    the raw values); anything that is not text (numbers, missing values) is returned unchanged.
    """
    if isinstance(value, (pd.Series, pd.Index)):
        return value.map(_escape)  # type: ignore[return-value]
    if isinstance(value, (list, tuple)):
        return type(value)(map(_escape, value))  # type: ignore[return-value]
    return _escape(value)


def _escape(value: Any) -> Any:
    return html.escape(value, quote=False) if isinstance(value, str) else value
