"""Cost measures: Defender plans per month as configured and with every plan on (the enable-all delta)."""

from __future__ import annotations

from mdcnb.measures.registry import Filters, define
from mdcnb.snapshot import Snapshot
from mdcnb.snapshot.cost import CostView, cost_view

FILTERS = ("environments", "subscriptions", "accounts")


def view(snap: Snapshot, f: Filters) -> CostView:
    """The cost page's view of the scopes the filters keep, at the snapshot's prices."""
    return cost_view(snap.tables, snap.prices, environments=f.environments, subscriptions=f.subscriptions,
                     accounts=f.accounts, cloudtrail=snap.cloudtrail, inventories=snap.inventories)


@define("cost.plans_monthly", "Defender plans per month, as configured", "money/month", "{:,.2f}", filters=FILTERS,
        decimals=2)
def plans_monthly(snap: Snapshot, f: Filters) -> float:
    return float(view(snap, f).scenarios.configured.monthly_total)


@define("cost.enable_all_delta", "Enable every plan: change per month", "money/month", "{:+,.2f}", filters=FILTERS,
        decimals=2)
def enable_all_delta(snap: Snapshot, f: Filters) -> float:
    return float(view(snap, f).scenarios.enable_all_delta)
