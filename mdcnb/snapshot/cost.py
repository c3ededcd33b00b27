"""The cost page's inputs and results, loaded once for `notebooks/50_cost.ipynb` and `mdcnb cost`.

`cost_view(tables, prices, ...)` runs the pure analysis (`mdcnb.analysis.cost`) on the dataset's tables and, when the
dataset holds CloudTrail logs, scans them (`mdcnb.tables.cloudtrail.volume`) for the SIEM side. `document(view)` is the
`mdcnb cost --json` document and the page's headline numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from mdcnb.analysis import cost, cost_units
from mdcnb.sources import cost_management
from mdcnb.sources.aws_dataset import read_inventories
from mdcnb.sources.cost_management import last_full_month
from mdcnb.sources.prices import (
    DEFAULT_SIEM,
    PriceTable,
    SiemPrice,
    apply_overrides,
    latest_price_table,
    load_price_table,
    siem_price,
)
from mdcnb.tables import Tables
from mdcnb.tables.aws_inventory import aws_inventory
from mdcnb.tables.cloudtrail.result import VolumeResult


def load_prices(prices: str | Path | None = None, currency: str = "USD",
                overrides: Sequence[str | Path] = ()) -> PriceTable:
    """A price table file (default: the latest dated table in `currency`) with negotiated-price overrides."""
    table = load_price_table(Path(prices)) if prices else latest_price_table(currency=currency)
    for override in overrides:
        table = apply_overrides(table, Path(override))
    return table


@dataclass
class CostView:
    """Everything the cost page shows, computed from one dataset and one price table."""

    tables: Tables
    prices: PriceTable
    units: pd.DataFrame
    settings: pd.DataFrame
    scenarios: cost.Scenarios
    names: dict[str, str]
    siem_price: SiemPrice
    siem_totals: dict[str, Any] | None
    siem_accounts: pd.DataFrame
    siem_note: str

    def by_scope(self) -> pd.DataFrame:
        """Monthly cost per scope as configured and with every plan on, with display names."""
        configured = self.scenarios.configured.by_scope()[["scope_id", "environment", "monthly_cost"]]
        everything = self.scenarios.enable_all.by_scope()[["scope_id", "environment", "monthly_cost"]]
        table = everything.merge(configured, on=["scope_id", "environment"], how="left",
                                 suffixes=("_enable_all", "")).fillna({"monthly_cost": 0.0})
        table.insert(1, "name", table["scope_id"].map(self.names).fillna(table["scope_id"]))
        table = table.rename(columns={"monthly_cost": "as_configured", "monthly_cost_enable_all": "enable_all"})
        table["delta"] = (table["enable_all"] - table["as_configured"]).round(2)
        return table[["scope_id", "name", "environment", "as_configured", "enable_all", "delta"]].sort_values(
            ["as_configured", "enable_all"], ascending=False, ignore_index=True)


def estate_units(tables: Tables, inventories: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The whole estate's billable units (from the tables and the AWS inventories) and plan settings, before any
    scope is selected (`cost_units.select_scopes`)."""
    return cost_units.billable_units(tables, aws_inventory(inventories)), cost_units.plan_settings(tables)


def cost_view(tables: Tables, prices: PriceTable, *, environments: Sequence[str] = (),
              subscriptions: Sequence[str] = (), accounts: Sequence[str] = (), exclude_tag: str | None = None,
              exclude_value: str | None = None, siem: str = DEFAULT_SIEM, price_per_gb: float | None = None,
              price_per_million_events: float | None = None, cloudtrail: VolumeResult | None = None,
              inventories: dict[str, Any] | None = None,
              estate: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> CostView:
    """Units, settings, scenarios and the SIEM side for the scopes the filters keep.

    The exclusion what-if leaves out resources tagged `exclude_tag` (with `exclude_value` when given; the command
    line passes both as one `tag=value`). `cloudtrail` is the snapshot's one scan of the dataset's logs (None: no
    logs, no SIEM side). `estate`: `estate_units` already counted (a snapshot counts them once for every
    selection)."""
    if estate is None:
        if inventories is None:
            inventories = read_inventories(tables.dataset)[0] if tables.dataset else {}
        estate = estate_units(tables, inventories)
    units, settings = cost_units.select_scopes(*estate, environments, subscriptions, accounts)
    tag, _, value = (exclude_tag or "").partition("=") if exclude_value is None else (exclude_tag, "", exclude_value)
    scenarios = cost.scenarios_from(units, settings, prices, tag or None, value or None)
    price = siem_price(siem, prices, price_per_gb=price_per_gb, price_per_million_events=price_per_million_events)
    totals, accounts_table, note = _siem_side(cloudtrail, price, accounts)
    return CostView(tables, prices, units, settings, scenarios, cost_units.scope_names(tables), price, totals,
                    accounts_table, note)


def _siem_side(result: VolumeResult | None, price: SiemPrice,
               accounts: Sequence[str]) -> tuple[dict[str, Any] | None, pd.DataFrame, str]:
    if result is None or not result.source:
        return None, pd.DataFrame(columns=cost.SIEM_ACCOUNT_COLUMNS), (
            "no CloudTrail logs in the dataset (cloudtrail/): the SIEM cost of CspmMonitorAws reads is not estimated; "
            "run `mdcnb cloudtrail volume` on your trail")
    scanned = result.volume
    if accounts:
        scanned = scanned[scanned["account_id"].isin([str(a) for a in accounts])]
    totals, by_account = cost.siem_by_account(scanned, price, result.since, result.until)
    return totals, by_account, f"{result.files_read} CloudTrail log files read from the dataset's cloudtrail/ folder"


def document(view: CostView) -> dict[str, Any]:
    """The `mdcnb cost --json` document."""
    siem = None
    if view.siem_totals is not None:
        siem = {key: view.siem_totals[key] for key in ("window_days", "filtered_events", "monthly_cost",
                                                       "monthly_cost_after_filter", "monthly_saving")}
        siem.update(price=view.siem_price.unit, price_source=view.siem_price.source, as_of=view.siem_price.as_of)
    siem_monthly = view.siem_totals["monthly_saving"] if view.siem_totals is not None else None
    return cost.cost_document(view.scenarios, siem_monthly, siem or {"note": view.siem_note})


ACTUAL_NOT_ASKED = ("Actual spend was not read: set the parameter `actual_spend = True` (or run `mdcnb cost --actual`) "
                    "with Azure credentials holding Cost Management Reader to show last month's Defender charges "
                    "beside the estimate.")


def actual_spend(tables: Tables, query: bool, *, credential: Any = None, today: date | None = None,
                 **options: Any) -> tuple[pd.DataFrame, str]:
    """Last full month's actual Defender spend per subscription (Cost Management Query API) and a sentence on it.

    Nothing is queried unless `query` is true; the credential defaults to azure-identity's DefaultAzureCredential.
    """
    if not query:
        return pd.DataFrame(columns=["scope", "actual", "currency", "status", "detail"]), ACTUAL_NOT_ASKED
    if credential is None:
        from azure.identity import DefaultAzureCredential  # imported only when asked: it is slow to import

        credential = DefaultAzureCredential()
    start, end = last_full_month(today or datetime.now(UTC).date())
    scopes = [f"subscriptions/{s}" for s in sorted(tables.subscriptions["subscription_id"].dropna())]
    spend = cost_management.actual_spend(scopes, start, end, credential, **options)
    readable = int((spend["status"] == "ok").sum())
    return spend, (f"Actual Defender charges from {start.isoformat()} to {end.isoformat()} (Cost Management, meter "
                   f"categories {', '.join(cost_management.DEFENDER_METER_CATEGORIES)}): {readable} of "
                   f"{len(spend)} subscriptions readable.")
