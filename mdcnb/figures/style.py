"""Shared look of the report's charts: one colour per meaning, layout defaults, capping long category lists, and
cloud text made literal (`plain`).

A colour means one thing across the whole report: severities, compliance states, environments and CloudTrail
actors have fixed palettes, and an account (or subscription) gets the same colour on every chart from a hash of
its id (`account_color`), week after week.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import html
import re
from collections.abc import Iterable
from typing import Any, TypeVar

import pandas as pd
import plotly.graph_objects as go

SEVERITY_COLORS = {"Critical": "#7b1fa2", "High": "#c62828", "Medium": "#ef6c00", "Low": "#f9a825"}
STATE_COLORS = {"Passed": "#2e7d32", "Failed": "#c62828", "Skipped": "#9e9e9e", "Unsupported": "#cfd8dc"}
ENVIRONMENT_COLORS = {"Azure": "#0078d4", "AWS": "#ff9900", "GCP": "#34a853", "Unknown": "#9e9e9e"}
ACTOR_COLORS = {"cspm": "#d83b01", "cspm_assume_role": "#ff8c00", "mdc_other": "#8764b8", "other": "#a0aeb2"}
SCORE_COLOR = "#37474f"
PASS_RATE_SCALE = [[0.0, "#c62828"], [0.5, "#f9a825"], [1.0, "#2e7d32"]]
# Accounts: a qualitative palette (Tableau 10 without its red and orange, which mean severity and CSPM here).
ACCOUNT_PALETTE = ["#4e79a7", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#ff9da7", "#bab0ac",
                   "#1b5e20", "#283593", "#00838f", "#6d4c41"]
OTHER_ACCOUNTS_COLOR = "#9e9e9e"
BAR_HEIGHT_PX = 22
T = TypeVar("T")
MIN_HEIGHT_PX = 260
TEMPLATE = "plotly_white"


def account_color(account: str) -> str:
    """The colour of an account or subscription id on every chart: picked by a hash of the id, so it does not
    depend on which other accounts a chart shows. Series that are not one account (`other accounts (3)`) are grey."""
    if str(account).startswith("other"):
        return OTHER_ACCOUNTS_COLOR
    digest = hashlib.sha256(str(account).encode("utf-8")).digest()
    return ACCOUNT_PALETTE[int.from_bytes(digest[:4], "big") % len(ACCOUNT_PALETTE)]


def layout(fig: go.Figure, title: str, *, height: int | None = None) -> go.Figure:
    """Title, white background, compact margins that grow to fit tick labels (no clipped label) on every x and y
    axis (a grid has many); `height` for charts whose size follows their rows. These are constants plotly accepts as
    they are, so they are merged into the layout unvalidated (`_unvalidated`): validating them again took most of
    what a small chart costs to build."""
    axes = [name for prefix in ("xaxis", "yaxis") for name in _axes(fig, prefix)]
    settings: dict[str, Any] = {"title": {"text": title, "x": 0, "xanchor": "left"},
                                "template": copy.deepcopy(_validated_template()),
                                "margin": {"l": 10, "r": 30, "t": 60, "b": 40}, "legend": {"traceorder": "normal"},
                                **{name: {"automargin": True} for name in axes}}
    if height:
        settings["height"] = max(MIN_HEIGHT_PX, height)
    return _unvalidated(fig, settings)


def _axes(fig: go.Figure, prefix: str) -> list[str]:
    """The layout's axes named `prefix`, `prefix`2, ...: the ones `update_xaxes` and `update_yaxes` update."""
    return [name for name in fig.layout if re.fullmatch(rf"{prefix}\d*", name) and fig.layout[name] is not None]


def white(fig: go.Figure) -> go.Figure:
    """Give `fig` the report's template. Set by name, plotly copies and validates the whole registered template again
    (about 50 ms, most of what a small chart costs); here it is validated once per process and each figure gets a
    copy of the result, set unvalidated the way plotly sets its own default template
    (`BaseFigure._initialize_layout_template`). The figure's other properties stay validated."""
    return _unvalidated(fig, {"template": copy.deepcopy(_validated_template())})


def _unvalidated(fig: go.Figure, settings: dict[str, Any]) -> go.Figure:
    """Merge `settings` (layout properties already valid, as plotly would store them) into `fig`'s layout as
    `update_layout` would (a mapping into what the property holds, the template replaced), without validation."""
    layout = fig.layout
    validate, layout._validate = layout._validate, False
    try:
        for name, value in settings.items():
            held = layout._props.get(name) if layout._props else None
            merge = isinstance(value, dict) and isinstance(held, dict) and name != "template"
            layout[name] = {**held, **value} if merge else value
    finally:
        layout._validate = validate
    return fig


@functools.cache
def _validated_template() -> dict[str, Any]:
    """The template as a figure given it by name holds it (validated: plotly orders its properties)."""
    return go.Layout(template=TEMPLATE).template.to_plotly_json()


def window(values: Iterable) -> str:
    """`2026-11-06 to 2026-11-26`: the first and last of the dates (or ISO weeks) a chart covers, for its title.
    A datetime column is read by its least and greatest values (an hourly series holds thousands)."""
    if isinstance(values, (pd.Series, pd.Index)) and pd.api.types.is_datetime64_any_dtype(values.dtype):
        present = values.dropna()
        texts = [str(present.min())[:10], str(present.max())[:10]] if len(present) else []
    else:
        texts = sorted({str(v)[:10] for v in values if pd.notna(v)})
    if not texts:
        return "no data"
    return texts[0] if texts[0] == texts[-1] else f"{texts[0]} to {texts[-1]}"


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
