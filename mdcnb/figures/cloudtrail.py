"""CloudTrail charts: daily and hourly series, top calls, share of reads, other MDC roles, SIEM cost.

Each builder takes a frame already aggregated by `mdcnb.analysis.cloudtrail` and returns a plotly Figure.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mdcnb.analysis.cloudtrail import ACTOR_LABELS
from mdcnb.figures.style import ACTOR_COLORS, account_color, layout, plain, rows_height, window
from mdcnb.measures.registry import formatted

CHART_HEIGHT_PX = 380
MULTIPLE_HEIGHT_PX = 110  # one account's panel in the hourly small multiples
REGION_DASHES = ["solid", "dot", "dash", "longdash", "dashdot"]


def daily_reads(daily: pd.DataFrame) -> go.Figure:
    """Stacked read events per day by actor (`daily_by_actor`)."""
    bars = [{"type": "bar", "x": part["date"], "y": part["read_only_events"], "name": ACTOR_LABELS[actor],
             "marker": {"color": ACTOR_COLORS[actor]}}
            for actor in ACTOR_LABELS if len(part := daily[daily["actor"] == actor])]
    fig = go.Figure(data=bars, layout={"barmode": "stack", "yaxis": {"title": {"text": "read-only events"}}})
    return layout(fig, f"Read-only CloudTrail events per day, by who made them, {window(daily['date'])}",
                  height=CHART_HEIGHT_PX)


def cspm_by_account_region(daily: pd.DataFrame) -> go.Figure:
    """CSPM read events per day, one line per account / region (`cspm_daily`): the account's colour, one dash per
    region."""
    regions = {r: REGION_DASHES[i % len(REGION_DASHES)] for i, r in enumerate(sorted(daily["region"].unique()))}
    lines = [{"type": "scatter", "x": part["date"], "y": part["read_only_events"], "mode": "lines+markers",
              "name": plain(f"{account} / {region}"), "line": {"color": account_color(account),
                                                               "dash": regions[region]}}
             for (account, region), part in daily.groupby(["account_id", "region"], sort=True)]
    fig = go.Figure(data=lines, layout={"yaxis": {"title": {"text": "CspmMonitorAws read events"},
                                                  "rangemode": "tozero"}})
    return layout(fig, f"CspmMonitorAws read events per day, by account and region, {window(daily['date'])}",
                  height=420)


def cspm_hourly(hourly: pd.DataFrame) -> go.Figure:
    """CSPM read events per hour, one small panel per account (`cspm_hourly`, zero-filled): the scan bursts, each
    account on its own scale so a small account's rhythm shows too. The figure is built whole, in one validation:
    the grid's layout is `make_subplots`' for that many rows (made once per row count), each row's trace on its axes."""
    accounts = list(dict.fromkeys(hourly["account_id"]))
    grid, traces = copy.deepcopy(_grid(max(1, len(accounts)))), []
    for row, (account, part) in enumerate(hourly.groupby("account_id", sort=False), start=1):
        label, axis = plain(str(account)), "" if row == 1 else str(row)
        traces.append({"type": "scatter", "x": part["hour"], "y": part["read_only_events"], "mode": "lines",
                       "name": label, "line": {"width": 1, "color": account_color(account)}, "fill": "tozeroy",
                       "hovertemplate": "%{x|%Y-%m-%d %H:00} UTC: %{y:,} read events<extra>" + label + "</extra>",
                       "xaxis": f"x{axis}", "yaxis": f"y{axis}"})
        grid[f"yaxis{axis}"].update(title={"text": label, "font": {"size": 10}}, rangemode="tozero", nticks=3)
    fig = go.Figure(data=traces, layout={**grid, "showlegend": False})
    title = f"CspmMonitorAws read events per hour (UTC), by account, {window(hourly['hour'])}: bursts = scans"
    return layout(fig, title, height=100 + MULTIPLE_HEIGHT_PX * max(1, len(accounts)))


@functools.lru_cache(maxsize=64)
def _grid(rows: int) -> dict[str, Any]:
    """The layout `make_subplots` gives `rows` rows of one column sharing their x axis (without its template, which
    `style.layout` sets): its axes' domains, anchors and matches."""
    grid = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.02).layout.to_plotly_json()
    grid.pop("template", None)
    return grid


def top_calls(calls: pd.DataFrame, title: str = "CspmMonitorAws: API calls with the most read events") -> go.Figure:
    """Horizontal bars of `top_calls` (largest on top)."""
    shown = calls.iloc[::-1]
    labels = plain(shown["event_source"].str.replace(".amazonaws.com", "", regex=False) + " " + shown["event_name"])
    fig = go.Figure(go.Bar(x=shown["read_only_events"], y=labels, orientation="h", marker_color=ACTOR_COLORS["cspm"],
                           customdata=shown[["share"]].to_numpy(),
                           hovertemplate="%{y}: %{x:,} events (%{customdata[0]:.1%})<extra></extra>"),
                    layout={"xaxis": {"title": {"text": "read events"}}})
    return layout(fig, title, height=rows_height(len(shown)))


def read_share(share: pd.DataFrame) -> go.Figure:
    """Per account: CSPM's reads vs everyone else's (`read_share`; CSPM's sign-ins count as other reads here)."""
    accounts = plain(share["account_id"].astype(str))
    fig = go.Figure()
    fig.add_bar(y=accounts, x=share["cspm_read_events"], orientation="h", name="CspmMonitorAws read events",
                marker_color=ACTOR_COLORS["cspm"])
    fig.add_bar(y=accounts, x=share["read_events"] - share["cspm_read_events"], orientation="h",
                name="all other reads", marker_color=ACTOR_COLORS["other"])
    fig.update_layout(barmode="stack", yaxis={"autorange": "reversed", "type": "category"})
    fig.update_xaxes(title="read-only events")
    return layout(fig, "Share of each account's read events caused by CspmMonitorAws", height=rows_height(len(share)))


def other_roles(roles: pd.DataFrame) -> go.Figure:
    """Events of the other MDC roles per role, read vs write (`other_mdc_roles`)."""
    per_role = roles.groupby("role_name", as_index=False)[["read_only_events", "write_events"]].sum()
    names = plain(per_role["role_name"])
    fig = go.Figure(data=[{"type": "bar", "x": names, "y": per_role["read_only_events"], "name": "read",
                           "marker": {"color": "#8764b8"}},
                          {"type": "bar", "x": names, "y": per_role["write_events"], "name": "write",
                           "marker": {"color": "#3b2d5c"}}],
                    layout={"barmode": "stack", "yaxis": {"title": {"text": "events"}}})
    return layout(fig, "Other MDC roles (same session name, not CSPM)", height=CHART_HEIGHT_PX)


def siem_cost(cost: dict) -> go.Figure:
    """Monthly SIEM cost before and after the filter (a `mdcnb.analysis.cloudtrail_cost.siem_cost` result)."""
    cur = plain(cost["price"]["currency"])
    values = [cost["monthly_cost"], cost["monthly_cost_after_filter"]]
    fig = go.Figure(go.Bar(x=["all events", "after dropping CSPM reads"], y=values,
                           marker_color=[ACTOR_COLORS["other"], "#107c10"],
                           text=[formatted(v, "money", "{:,.2f}", cur) for v in values], textposition="outside"))
    fig.update_yaxes(title=f"{cur} per month", rangemode="tozero")
    fig.update_traces(cliponaxis=False)
    saving = formatted(cost["monthly_saving"], "money/month", "{:,.2f}", cur)
    title = (f"SIEM ingestion per month (saving {saving}), projected from "
             f"{cost['window_days']} days of logs")
    return layout(fig, title, height=360)
