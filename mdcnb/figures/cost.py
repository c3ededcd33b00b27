"""Cost page charts: plan cost as configured against "Enable all", cost per scope, what-if totals, SIEM side.

Every chart's title names the price table and date the figures come from (`PriceTable.label`), so a chart copied out
of the report still says which prices it used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from mdcnb.figures import style
from mdcnb.measures.registry import formatted

CONFIGURED_COLOR = "#5d4037"
ENABLE_ALL_COLOR = "#bcaaa4"
SAVING_COLOR = "#2e7d32"
SIEM_COLOR = style.ACTOR_COLORS["cspm"]  # CspmMonitorAws's reads: the colour they have on the CloudTrail page
OTHER_COLOR = style.ACTOR_COLORS["other"]


def _layout(fig: go.Figure, title: str, price_label: str, rows: int | None = None) -> go.Figure:
    """The shared layout, with the price table named under the title."""
    style.layout(fig, f"{title}<br><sup>{style.plain(price_label)}</sup>",
                 height=style.rows_height(rows) if rows else None)
    fig.update_layout(margin={"t": 75}, legend={"orientation": "h", "y": -0.15})
    return fig


def _bars(y: pd.Series, bars: Sequence[tuple[str, pd.Series, str]], currency: str, barmode: str,
          **layout: Any) -> go.Figure:
    """Horizontal bars over `y`, one trace per (name, monthly values, colour), the x axis in `currency` per month."""
    fig = go.Figure([go.Bar(name=name, y=style.plain(y), x=x, orientation="h", marker_color=color)
                     for name, x, color in bars])
    fig.update_layout(barmode=barmode, xaxis_title=f"{style.plain(currency)} per month", **layout)
    return fig


def plan_costs(compare: pd.DataFrame, price_label: str, currency: str) -> go.Figure:
    """Monthly cost per plan as configured and with every plan on (`mdcnb.analysis.cost.compare` output)."""
    data = compare.sort_values("enable all", kind="stable")
    fig = _bars(data["display"], [("as configured", data["as configured"], CONFIGURED_COLOR),
                                  ("enable all", data["enable all"], ENABLE_ALL_COLOR)], currency, barmode="group")
    return _layout(fig, "Defender plans: monthly cost as configured and with every plan on", price_label,
                   rows=2 * len(data))


def scope_costs(by_scope: pd.DataFrame, price_label: str, currency: str, limit: int = 30) -> go.Figure:
    """Monthly cost per subscription / connector as configured, and what "Enable all" would add on top."""
    data, suffix = style.top(by_scope, limit, "enable_all")
    data = data.iloc[::-1]
    fig = _bars(data["name"], [("as configured", data["as_configured"], CONFIGURED_COLOR),
                               ("added by Enable all", data["delta"], ENABLE_ALL_COLOR)], currency, barmode="stack")
    return _layout(fig, f"Monthly cost per scope{suffix}", price_label, rows=len(data))


def scenario_totals(scenarios: pd.DataFrame, price_label: str, currency: str) -> go.Figure:
    """Monthly total of each scenario (`scenario`, `monthly_total` columns), the configured one first."""
    colors = [CONFIGURED_COLOR if i == 0 else (ENABLE_ALL_COLOR if total > scenarios["monthly_total"].iloc[0]
                                               else SAVING_COLOR)
              for i, total in enumerate(scenarios["monthly_total"])]
    fig = go.Figure(go.Bar(x=style.plain(scenarios["scenario"]), y=scenarios["monthly_total"], marker_color=colors,
                           text=[formatted(v, "money", "{:,.2f}", style.plain(currency))
                                 for v in scenarios["monthly_total"]], textposition="outside",
                           cliponaxis=False))
    fig.update_layout(yaxis_title=f"{style.plain(currency)} per month", showlegend=False)
    return _layout(fig, "What-if: monthly total per scenario", price_label)


def siem_accounts(accounts: pd.DataFrame, price_label: str, currency: str) -> go.Figure:
    """Monthly SIEM cost per AWS account: CspmMonitorAws's share (what the filter saves) and everything else."""
    data = accounts.sort_values("monthly_cost", kind="stable")
    fig = _bars(data["account_id"], [
        ("CspmMonitorAws reads (saved by the filter)", data["monthly_cspm_cost"], SIEM_COLOR),
        ("other events", data["monthly_cost"] - data["monthly_cspm_cost"], OTHER_COLOR),
    ], currency, barmode="stack", yaxis_type="category")
    return _layout(fig, "SIEM ingestion of the CloudTrail export, per AWS account", price_label, rows=len(data))
