"""Defender plan cost, priced: the monthly cost as configured, the what-ifs, and the SIEM cost per account.

Pure functions (no I/O). `estimate(units, settings, prices) -> CostEstimate` gives a monthly cost line per units row
(`mdcnb.analysis.cost_units`), with totals by plan and scope; the what-ifs transform the settings: `enable_all`
(the MDC guide's "Enable all": every plan on every scope), `servers_p2_to_p1`, `exclude_tagged`. Units the data
cannot count are left out of the totals and listed (`CostEstimate.uncounted`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mdcnb.analysis.cloudtrail_cost import siem_cost
from mdcnb.analysis.cost_units import (
    CATALOGUE,
    PLANS,
    SETTING_COLUMNS,
    billable_units,
    default_sub_plan,
    plan_display,
    plan_settings,
)
from mdcnb.sources.prices import PriceTable, SiemPrice

SIEM_ACCOUNT_COLUMNS = ["account_id", "cspm_events_filtered", "events", "monthly_cost", "monthly_cspm_cost",
                        "cspm_share_of_bytes"]


# --------------------------------------------------------------------------------------------- the estimate

@dataclass(frozen=True)
class CostEstimate:
    """Monthly cost lines of one scenario and the price table they used."""

    scenario: str
    lines: pd.DataFrame
    prices: PriceTable

    @property
    def monthly_total(self) -> float:
        return round(float(self.lines["monthly_cost"].sum()), 2)

    @property
    def next_30_days_total(self) -> float:
        """What the next 30 days cost, free trial days left taken off."""
        return round(float(self.lines["next_30_days_cost"].sum()), 2)

    def by_plan(self) -> pd.DataFrame:
        return _totals(self.lines, ["plan"]).assign(display=lambda d: d["plan"].map(plan_display))

    def by_scope(self) -> pd.DataFrame:
        return _totals(self.lines, ["scope_id", "environment"])

    def by_scope_plan(self) -> pd.DataFrame:
        return _totals(self.lines, ["scope_id", "environment", "plan"])

    def uncounted(self) -> pd.DataFrame:
        """Enabled plans whose cost the data cannot give (units unknown or usage-priced): left out of totals."""
        missing = self.lines[self.lines["enabled"] & self.lines["monthly_cost"].isna()]
        return (missing.groupby(["scope_id", "plan", "note"], as_index=False, sort=True)
                .agg(resources=("resource_id", "nunique")))


def _totals(lines: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    enabled = lines[lines["enabled"]]
    out = (enabled.groupby(keys, as_index=False, sort=True)
           .agg(units=("billed_units", lambda s: s.sum(min_count=1)),
                monthly_cost=("monthly_cost", "sum"), next_30_days_cost=("next_30_days_cost", "sum"),
                uncounted=("monthly_cost", lambda s: int(s.isna().sum()))))
    out["monthly_cost"] = out["monthly_cost"].round(2)
    out["next_30_days_cost"] = out["next_30_days_cost"].round(2)
    return out


def _as_dict(frame: pd.DataFrame, key: str) -> dict[str, float]:
    return {str(k): float(v) for k, v in zip(frame[key], frame["monthly_cost"], strict=True)}


def _effective_settings(units: pd.DataFrame, settings: pd.DataFrame) -> pd.DataFrame:
    """Attach to each units row the setting that applies: a resource-level override, else its scope's."""
    cols = ["plan", "enabled", "sub_plan", "trial_days", "deprecated"]
    resource = (settings[settings["level"] == "resource"][["scope_id", *cols]]
                .rename(columns={"scope_id": "resource_id"}))
    scope = settings[settings["level"] != "resource"][["scope_id", *cols]]
    keyed = units.assign(resource_id=units["resource_id"].astype(str).str.lower())
    merged = keyed.merge(resource.drop_duplicates(["resource_id", "plan"]), on=["resource_id", "plan"], how="left")
    merged = merged.merge(scope.drop_duplicates(["scope_id", "plan"]), on=["scope_id", "plan"], how="left",
                          suffixes=("_resource", "_scope"))
    has_override = merged["enabled_resource"].notna()
    for col in cols[1:]:
        merged[col] = merged[f"{col}_resource"].where(has_override, merged[f"{col}_scope"])
    merged["override"] = has_override
    merged["enabled"] = merged["enabled"].fillna(False).astype(bool)
    merged["sub_plan"] = merged["sub_plan"].fillna("").astype(str)
    merged["trial_days"] = pd.to_numeric(merged["trial_days"], errors="coerce").fillna(0.0)
    merged["deprecated"] = merged["deprecated"].fillna(False).astype(bool)
    merged["resource_id"] = units["resource_id"].to_numpy()
    return merged.drop(columns=[c for c in merged.columns if c.endswith(("_resource", "_scope"))])


def estimate(units: pd.DataFrame, settings: pd.DataFrame, prices: PriceTable, scenario: str = "as configured"
             ) -> CostEstimate:
    """Monthly cost per units row: units x the monthly price of the plan and sub-plan in effect.

    Disabled plans cost 0. Enabled plans whose units are unknown, or that the table prices by usage only, get NaN
    and a note. AKS node pools (VM scale sets in `MC_*` resource groups) are not counted for Servers where
    Containers is enabled on the same scope, as Microsoft's asset-discovery script does.
    """
    lines = _effective_settings(units, settings)
    defaults = {plan: spec["default_sub_plan"] for plan, spec in PLANS.items()}
    lines["sub_plan"] = lines["sub_plan"].where(lines["sub_plan"] != "", lines["plan"].map(defaults).fillna(""))
    containers_on = set(lines.loc[(lines["plan"] == "Containers") & lines["enabled"], "scope_id"])
    aks_excluded = lines["aks_node"] & (lines["plan"] == "VirtualMachines") & lines["scope_id"].isin(containers_on)
    lines["billed_units"] = lines["units"].where(~aks_excluded, 0.0)
    lines.loc[aks_excluded, "note"] = "AKS node pool: billed under Defender for Containers"
    key = lines["plan"].astype(str) + "|" + lines["sub_plan"].astype(str)
    price_of = {k: prices.monthly_price(*k.split("|", 1)) for k in key.unique()}
    lines["monthly_price"] = pd.to_numeric(key.map(price_of), errors="coerce").astype("float64")
    no_price = lines["enabled"] & lines["monthly_price"].isna() & ~(lines["billed_units"] == 0)
    lines.loc[no_price, "note"] = [
        f"{prices.name} has no monthly price for {p} {sp}".rstrip() + " (usage-priced or unknown): not estimated"
        for p, sp in zip(lines.loc[no_price, "plan"], lines.loc[no_price, "sub_plan"], strict=True)]
    cost = lines["billed_units"] * lines["monthly_price"]
    cost[lines["billed_units"] == 0] = 0.0
    lines["monthly_cost"] = cost.where(lines["enabled"], 0.0)
    trial_left = (1 - lines["trial_days"].clip(lower=0, upper=30) / 30)
    lines["next_30_days_cost"] = lines["monthly_cost"] * trial_left
    deprecated = lines["deprecated"] & lines["enabled"] & (lines["note"] == "")
    lines.loc[deprecated, "note"] = "deprecated plan, still billed while enabled"
    return CostEstimate(scenario, lines, prices)


# --------------------------------------------------------------------------------------------- what-ifs

def enable_all(settings: pd.DataFrame, units: pd.DataFrame) -> pd.DataFrame:
    """Every current plan switched on at every subscription and connector (resource-level exclusions kept).

    Azure subscriptions get every plan the catalogue marks `enable_all` (deprecated plans stay as they are);
    connectors get the multicloud plans. A plan already on keeps its sub-plan; a new one gets the default
    (Servers P2, as the portal's Enable all does).
    """
    scopes = pd.concat([units[["scope_id", "scope_type", "environment", "subscription_id"]],
                        settings.loc[settings["level"] != "resource",
                                     ["scope_id", "scope_type", "environment", "subscription_id"]]])
    scopes = scopes.drop_duplicates("scope_id")
    plans = pd.concat([
        pd.DataFrame({"plan": [p for p, spec in PLANS.items() if spec["enable_all"]], "scope_type": "subscription"}),
        pd.DataFrame({"plan": CATALOGUE["multicloud_enable_all"], "scope_type": "connector"})])
    current = (settings[settings["level"] != "resource"].drop_duplicates(["scope_id", "plan"])
               [["scope_id", "plan", "enabled", "sub_plan", "trial_days"]])
    pairs = scopes.merge(plans, on="scope_type").merge(current, on=["scope_id", "plan"], how="left")
    keep = pairs["enabled"].fillna(False).astype(bool) & pairs["sub_plan"].fillna("").ne("")
    pairs["sub_plan"] = pairs["sub_plan"].where(keep, pairs["plan"].map(default_sub_plan))
    pairs["trial_days"] = pairs["trial_days"].fillna(0.0).astype("float64")
    pairs["level"] = np.where(pairs["scope_type"] == "subscription", "subscription", "connector")
    pairs["enabled"] = True
    pairs["deprecated"] = False
    switched = pairs[SETTING_COLUMNS]
    replaced = settings.set_index(["scope_id", "plan"]).index.isin(switched.set_index(["scope_id", "plan"]).index)
    untouched = settings[~replaced | (settings["level"] == "resource")]
    return pd.concat([untouched, switched], ignore_index=True)[SETTING_COLUMNS]


def servers_p2_to_p1(settings: pd.DataFrame) -> pd.DataFrame:
    """Defender for Servers Plan 2 switched to Plan 1 wherever it is on (subscription, resource and connector)."""
    out = settings.copy()
    servers = (out["plan"] == "VirtualMachines") & out["sub_plan"].isin(["P2", ""])
    out.loc[servers, "sub_plan"] = "P1"
    return out


def exclude_tagged(settings: pd.DataFrame, units: pd.DataFrame, tag: str, value: str | None = None) -> pd.DataFrame:
    """Resources carrying `tag` (and `value`, if given) switched off through resource-level overrides.

    Only plans that accept resource-level settings (`resource_level` in the catalogue) can exclude a resource.
    """
    def tagged(tags: Any) -> bool:
        if not isinstance(tags, dict):
            return False
        found = {str(k).lower(): v for k, v in tags.items()}.get(tag.lower())
        return found is not None and (value is None or str(found) == value)

    resource_plans = [p for p, spec in PLANS.items() if spec["resource_level"]]
    hit = units[units["plan"].isin(resource_plans) & units["tags"].map(tagged)]
    overrides = pd.DataFrame({
        "scope_id": hit["resource_id"].str.lower(), "scope_type": "resource", "level": "resource",
        "environment": hit["environment"], "subscription_id": hit["subscription_id"], "plan": hit["plan"],
        "enabled": False, "sub_plan": "", "trial_days": 0.0, "deprecated": False,
    }, columns=SETTING_COLUMNS)
    keep = settings[~(settings["level"].eq("resource")
                      & settings.set_index(["scope_id", "plan"]).index.isin(
                          overrides.set_index(["scope_id", "plan"]).index))]
    return pd.concat([keep, overrides], ignore_index=True)[SETTING_COLUMNS]


def compare(base: CostEstimate, other: CostEstimate) -> pd.DataFrame:
    """Monthly cost by plan in two scenarios and the difference (other - base)."""
    left = base.by_plan()[["plan", "monthly_cost"]].rename(columns={"monthly_cost": base.scenario})
    right = other.by_plan()[["plan", "monthly_cost"]].rename(columns={"monthly_cost": other.scenario})
    table = left.merge(right, on="plan", how="outer").fillna(0.0)
    table["delta"] = (table[other.scenario] - table[base.scenario]).round(2)
    table.insert(1, "display", table["plan"].map(plan_display))
    return table.sort_values("delta", ascending=False, ignore_index=True)


@dataclass(frozen=True)
class Scenarios:
    """The estimate as configured and the what-ifs the cost page shows."""

    configured: CostEstimate
    enable_all: CostEstimate
    servers_p1: CostEstimate
    tag_excluded: CostEstimate | None

    @property
    def enable_all_delta(self) -> float:
        return round(self.enable_all.monthly_total - self.configured.monthly_total, 2)

    @property
    def servers_p1_saving(self) -> float:
        return round(self.configured.monthly_total - self.servers_p1.monthly_total, 2)

    @property
    def tag_saving(self) -> float | None:
        if self.tag_excluded is None:
            return None
        return round(self.configured.monthly_total - self.tag_excluded.monthly_total, 2)


def scenario_table(result: Scenarios) -> pd.DataFrame:
    """One row per scenario: monthly total and difference from the plans as configured."""
    estimates = [result.configured, result.enable_all, result.servers_p1]
    estimates += [result.tag_excluded] if result.tag_excluded is not None else []
    base = result.configured.monthly_total
    return pd.DataFrame({"scenario": [e.scenario for e in estimates],
                         "monthly_total": [e.monthly_total for e in estimates],
                         "difference": [round(e.monthly_total - base, 2) for e in estimates]})


def scenarios(tables: Any, prices: PriceTable, exclude_tag: str | None = None, exclude_value: str | None = None
              ) -> Scenarios:
    units = billable_units(tables)
    settings = plan_settings(tables)
    return scenarios_from(units, settings, prices, exclude_tag, exclude_value)


def scenarios_from(units: pd.DataFrame, settings: pd.DataFrame, prices: PriceTable, exclude_tag: str | None = None,
                   exclude_value: str | None = None) -> Scenarios:
    tagged = None
    if exclude_tag:
        label = f"excluding tag {exclude_tag}" + (f"={exclude_value}" if exclude_value else "")
        tagged = estimate(units, exclude_tagged(settings, units, exclude_tag, exclude_value), prices, label)
    return Scenarios(
        configured=estimate(units, settings, prices),
        enable_all=estimate(units, enable_all(settings, units), prices, "enable all"),
        servers_p1=estimate(units, servers_p2_to_p1(settings), prices, "Servers P2 to P1"),
        tag_excluded=tagged,
    )


def cost_document(result: Scenarios, siem_monthly: float | None = None,
                  siem: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `mdcnb cost --json` document: price table, totals by plan and scope, what-ifs, what is not counted."""
    configured = result.configured
    return {
        "price_table": configured.prices.info(),
        "monthly_total": configured.monthly_total,
        "next_30_days_total": configured.next_30_days_total,
        "by_plan": _as_dict(configured.by_plan(), "plan"),
        "by_scope": _as_dict(configured.by_scope(), "scope_id"),
        "enable_all_monthly_total": result.enable_all.monthly_total,
        "enable_all_delta": result.enable_all_delta,
        "enable_all_by_plan": _as_dict(result.enable_all.by_plan(), "plan"),
        "servers_p2_to_p1_saving": result.servers_p1_saving,
        "tag_exclusion": None if result.tag_excluded is None else {
            "scenario": result.tag_excluded.scenario, "saving": result.tag_saving},
        "uncounted": [{"scope": r.scope_id, "plan": r.plan, "resources": int(r.resources), "why": r.note}
                      for r in configured.uncounted().itertuples(index=False)],
        "siem_monthly": siem_monthly,
        "siem": siem,
    }


# --------------------------------------------------------------------------------------------- SIEM side

def siem_by_account(volume: pd.DataFrame, price: SiemPrice, since: str | None = None, until: str | None = None
                    ) -> tuple[dict[str, Any], pd.DataFrame]:
    """SIEM cost of exporting the CloudTrail `volume` (schema.CLOUDTRAIL_VOLUME) and of CspmMonitorAws's share.

    The arithmetic is `cloudtrail_cost.siem_cost` (bytes x price per GB + events x price per million, over the
    window, projected to a month); this adds the split per AWS account over the same window. `monthly_saving` is
    what a filter on the CspmMonitorAws role (its reads and its AssumeRoleWithWebIdentity) takes off the bill.
    """
    if volume.empty:
        return siem_cost(volume, price, since, until), pd.DataFrame(columns=SIEM_ACCOUNT_COLUMNS)
    since = since or str(volume["date"].min())
    until = until or str(volume["date"].max())
    rows = []
    for account, part in volume.groupby("account_id", sort=True):
        result = siem_cost(part, price, since, until)
        rows.append({"account_id": account, "cspm_events_filtered": result["filtered_events"],
                     "events": result["events"], "monthly_cost": result["monthly_cost"],
                     "monthly_cspm_cost": result["monthly_saving"],
                     "cspm_share_of_bytes": result["filtered_share_of_bytes"]})
    return siem_cost(volume, price, since, until), pd.DataFrame(rows, columns=SIEM_ACCOUNT_COLUMNS)
