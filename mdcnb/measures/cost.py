"""Cost measures: Defender plans per month as configured, the what-if scenarios, and the SIEM cost of CSPM's reads.

Prices, the SIEM row and the tag exclusion come from the snapshot's `Options`, so every surface prices alike.
"""

from __future__ import annotations

import pandas as pd

from mdcnb.measures.registry import Filters, define
from mdcnb.snapshot import Snapshot, computed_once
from mdcnb.snapshot.cost import CostView, cost_view, estate_units

FILTERS = ("environments", "subscriptions", "accounts")
MONEY, MONEY_CHANGE = ("money", "{:,.2f}"), ("money", "{:+,.2f}")
# The cost tables (per plan, per scope): monthly money in the price table's currency.
COST_COLUMNS = {"as configured": MONEY, "as_configured": MONEY, "enable all": MONEY, "enable_all": MONEY,
                "delta": MONEY_CHANGE}


def estate(snap: Snapshot) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The whole estate's billable units and plan settings, counted once per snapshot for every selection."""
    return computed_once(snap, "cost.estate", None, lambda: estate_units(snap.tables, snap.inventories))


def view(snap: Snapshot, f: Filters) -> CostView:
    """The cost page's view of the scopes the filters keep, at the snapshot's prices and options."""
    o, f = snap.options, f.only(FILTERS)
    return computed_once(snap, "cost.view", f, lambda: cost_view(
        snap.tables, snap.prices, environments=f.environments, subscriptions=f.subscriptions, accounts=f.accounts,
        exclude_tag=o.exclude_tag, exclude_value=o.exclude_value, siem=o.siem, price_per_gb=o.price_per_gb,
        price_per_million_events=o.price_per_million_events, cloudtrail=snap.cloudtrail,
        estate=estate(snap)))


@define("cost.plans_monthly", "Defender plans per month, as configured", "money/month", "{:,.2f}", filters=FILTERS,
        decimals=2, columns=COST_COLUMNS)
def plans_monthly(snap: Snapshot, f: Filters) -> float:
    return float(view(snap, f).scenarios.configured.monthly_total)


@define("cost.next_30_days", "Defender plans, next 30 days (free trials taken off)", "money", "{:,.2f}",
        filters=FILTERS, decimals=2)
def next_30_days(snap: Snapshot, f: Filters) -> float:
    return float(view(snap, f).scenarios.configured.next_30_days_total)


@define("cost.enable_all_monthly", "Defender plans per month with every plan on", "money/month", "{:,.2f}",
        filters=FILTERS, decimals=2)
def enable_all_monthly(snap: Snapshot, f: Filters) -> float:
    return float(view(snap, f).scenarios.enable_all.monthly_total)


@define("cost.enable_all_delta", "Enable every plan: change per month", "money/month", "{:+,.2f}", filters=FILTERS,
        decimals=2)
def enable_all_delta(snap: Snapshot, f: Filters) -> float:
    return float(view(snap, f).scenarios.enable_all_delta)


@define("cost.servers_p1_saving", "Servers Plan 2 to Plan 1 saves per month", "money/month", "{:,.2f}",
        filters=FILTERS, decimals=2)
def servers_p1_saving(snap: Snapshot, f: Filters) -> float:
    return float(view(snap, f).scenarios.servers_p1_saving)


@define("cost.tag_saving", "Excluding the tagged resources saves per month", "money/month", "{:,.2f}",
        filters=FILTERS, decimals=2)
def tag_saving(snap: Snapshot, f: Filters) -> float | None:
    saving = view(snap, f).scenarios.tag_saving
    return None if saving is None else float(saving)
