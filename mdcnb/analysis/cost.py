"""Defender plan cost: billable units per scope and plan, the monthly cost as configured, and what-ifs.

Pure functions on the normalised tables (no I/O). The flow is

    billable_units(tables)  one row per (scope, resource, plan): units counted from the inventory, or why not
    plan_settings(tables)   one row per (scope or resource, plan): tier, sub-plan, free trial left
    estimate(units, settings, prices) -> CostEstimate   monthly cost line per units row, totals by plan and scope

and the what-ifs transform the settings: `enable_all` (the MDC guide's "Enable all": every plan on every scope),
`servers_p2_to_p1`, `exclude_tagged`. What each plan bills and how its units are counted is data, in
`cost_catalogue.json`. A unit that the data cannot count is NaN with the reason, never a guess; totals leave it out
and say so (`CostEstimate.uncounted`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mdcnb.analysis.cloudtrail_cost import siem_cost
from mdcnb.sources.aws_dataset import responses
from mdcnb.sources.prices import PriceTable, SiemPrice

CATALOGUE: dict[str, Any] = json.loads(Path(__file__).with_name("cost_catalogue.json").read_text(encoding="utf-8"))
PLANS: dict[str, dict[str, Any]] = CATALOGUE["plans"]
SIEM_ACCOUNT_COLUMNS = ["account_id", "cspm_events_filtered", "events", "monthly_cost", "monthly_cspm_cost",
                        "cspm_share_of_bytes"]

UNIT_COLUMNS = ["scope_id", "scope_type", "environment", "subscription_id", "account_id", "resource_id",
                "resource_name", "resource_type", "plan", "units", "unit", "aks_node", "tags", "note"]
MULTICLOUD_NOTE = "counted from assessed resources (a resource without any assessment is missed)"
INVENTORY_NOTE = "counted from the AWS inventory of the dataset"
SETTING_COLUMNS = ["scope_id", "scope_type", "level", "environment", "subscription_id", "plan", "enabled", "sub_plan",
                   "trial_days", "deprecated"]


def subscription_scope(subscription_id: str) -> str:
    return f"/subscriptions/{str(subscription_id).lower()}"


def plan_display(plan: str) -> str:
    return PLANS.get(plan, {}).get("display", plan)


def default_sub_plan(plan: str) -> str:
    return PLANS.get(plan, {}).get("default_sub_plan", "")


# --------------------------------------------------------------------------------------------- billable units

def _azure_rule_units(by_type: dict[str, pd.DataFrame], rule: dict[str, Any]) -> pd.DataFrame:
    """Units of one catalogue rule over the Azure inventory: counted, skipped (0, with why) or uncountable (NaN)."""
    rows = by_type.get(rule["type"])
    if rows is None or rows.empty:
        return pd.DataFrame(columns=UNIT_COLUMNS)
    count = rule["count"]
    note = pd.Series("", index=rows.index, dtype="object")
    if count == "one":
        units = pd.Series(1.0, index=rows.index)
    elif count in ("capacity", "vcores"):
        units = pd.to_numeric(rows[count], errors="coerce").astype("float64")
        note[units.isna()] = f"{count} not reported for this resource: not counted"
    else:  # uncountable
        units = pd.Series(np.nan, index=rows.index)
        note[:] = rule["why"]
    power = rows["power_state"].fillna("").str.lower()
    off = power.isin(rule.get("skip_power_states", []))
    units[off] = 0.0
    note[off] = "power state " + power[off] + ": not billed"
    sku = rows["sku"].fillna("").str.lower()
    skipped_sku = sku.isin(rule.get("skip_skus", []))
    for prefix in rule.get("skip_sku_prefixes", []):
        skipped_sku |= sku.str.startswith(prefix)
    units[skipped_sku] = 0.0
    note[skipped_sku] = "sku " + rows.loc[skipped_sku, "sku"].astype(str) + ": not billed"
    kinds = rows["kind"].fillna("").str.lower()
    for kind, why in rule.get("skip_kinds", {}).items():
        units[kinds == kind] = 0.0
        note[kinds == kind] = why
    subs = rows["subscription_id"].astype(str).str.lower()
    aks_prefix = CATALOGUE["aks_node_resource_group_prefix"]
    return pd.DataFrame({
        "scope_id": subs.map(subscription_scope), "scope_type": "subscription", "environment": "Azure",
        "subscription_id": subs, "resource_id": rows["resource_id"].astype(str), "resource_name": rows["name"],
        "resource_type": rule["type"], "plan": rule["plan"], "units": units, "unit": rule["unit"],
        "aks_node": (rule["type"] == "microsoft.compute/virtualmachinescalesets")
        & rows["resource_group"].fillna("").str.lower().str.startswith(aks_prefix),
        "tags": rows["tags"], "note": note,
    })


def _per_scope_units(azure: pd.DataFrame, plan: str, unit: str) -> pd.DataFrame:
    """Plans billed once per subscription that holds at least one such resource (Defender for APIs)."""
    scopes = azure[azure["plan"] == plan].drop_duplicates("scope_id")
    if scopes.empty:
        return azure.iloc[0:0]
    return scopes.assign(resource_id=scopes["scope_id"], resource_name=None, resource_type="subscription",
                         units=1.0, unit=unit, aks_node=False, tags=None,
                         note="billed per subscription holding API Management services")


def _subscription_ids(tables: Any) -> list[str]:
    ids = set(tables.subscriptions["subscription_id"].dropna().str.lower())
    ids |= set(tables.plans["subscription_id"].dropna().str.lower())
    ids |= set(tables.resources["subscription_id"].dropna().str.lower())
    return sorted(ids)


def _per_subscription_units(subscription_ids: list[str]) -> pd.DataFrame:
    frames = []
    for item in CATALOGUE["per_subscription"]:
        uncountable = item.get("count") == "uncountable"
        frames.append(pd.DataFrame({
            "scope_id": [subscription_scope(s) for s in subscription_ids], "scope_type": "subscription",
            "environment": "Azure", "subscription_id": subscription_ids,
            "resource_id": [subscription_scope(s) for s in subscription_ids], "resource_name": None,
            "resource_type": "subscription", "plan": item["plan"], "units": np.nan if uncountable else 1.0,
            "unit": item["unit"], "aks_node": False, "tags": None, "note": item.get("why", ""),
        }))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=UNIT_COLUMNS)


_PATTERNS = [(p["kind"], re.compile(p["native"], re.IGNORECASE), re.compile(p["type"], re.IGNORECASE))
             for p in CATALOGUE["multicloud_patterns"]]


def multicloud_kind(native_id: str | None, resource_type: str | None, environment: str) -> str | None:
    """The billable kind of an AWS/GCP resource (e.g. aws_ec2_instance) from its ARN / full name or its type."""
    prefix = f"{environment.lower()}_"
    for kind, native, _ in _PATTERNS:
        if kind.startswith(prefix) and native_id and native.search(native_id):
            return kind
    compact = re.sub(r"[\s_-]", "", resource_type or "").lower()
    for kind, _, type_pattern in _PATTERNS:
        if kind.startswith(prefix) and compact and type_pattern.search(compact):
            return kind
    return None


def _connector_scopes(tables: Any) -> dict[tuple[str, str], tuple[str, str]]:
    """(environment, hierarchy id) -> (connector id, subscription id) for native connectors."""
    connectors = tables.connectors
    native = connectors[connectors["kind"].fillna("native") == "native"]
    return {(str(r.environment), str(r.hierarchy_id)): (str(r.connector_id), str(r.subscription_id))
            for r in native.itertuples() if pd.notna(r.hierarchy_id)}


def _multicloud_units(tables: Any) -> pd.DataFrame:
    """AWS/GCP units from the resources MDC assessed through the connectors (one per distinct resource)."""
    assessed = tables.assessments[tables.assessments["environment"].isin(["AWS", "GCP"])]
    if assessed.empty:
        return pd.DataFrame(columns=UNIT_COLUMNS)
    scopes = _connector_scopes(tables)
    key = assessed["native_resource_id"].fillna(assessed["resource_id"])
    assessed = assessed.assign(_key=key.str.lower()).drop_duplicates(["environment", "_key"])
    rows = []
    for r in assessed.itertuples():
        kind = multicloud_kind(r.native_resource_id, r.resource_type, r.environment)
        if kind is None:
            continue
        spec = CATALOGUE["multicloud_kinds"][kind]
        connector = r.connector_id if pd.notna(r.connector_id) else None
        sub = r.subscription_id
        if connector is None and (r.environment, str(r.hierarchy_id)) in scopes:
            connector, sub = scopes[(r.environment, str(r.hierarchy_id))]
        scope = connector or f"{r.environment.lower()}:{r.hierarchy_id}"
        for plan in spec["plans"]:
            uncountable = "why" in spec
            rows.append({
                "scope_id": scope, "scope_type": "connector", "environment": r.environment, "subscription_id": sub,
                "account_id": r.hierarchy_id,
                "resource_id": r.native_resource_id if pd.notna(r.native_resource_id) else r.resource_id,
                "resource_name": r.resource_name, "resource_type": kind, "plan": plan,
                "units": np.nan if uncountable else 1.0, "unit": spec["unit"],
                "aks_node": False, "tags": None,
                "note": spec.get("why", MULTICLOUD_NOTE),
            })
    return pd.DataFrame(rows, columns=UNIT_COLUMNS)


def _inventory_resources(inventory: Any) -> list[tuple[str, str, str, str | None]]:
    """(kind, resource id, name, state) of the billable AWS resources in one account's collected API responses."""
    found = []
    for page in responses(inventory.calls.get("ec2_DescribeInstances", [])):
        for reservation in page.get("Reservations") or []:
            for instance in reservation.get("Instances") or []:
                state = (instance.get("State") or {}).get("Name")
                found.append(("aws_ec2_instance", str(instance.get("InstanceId")), str(instance.get("InstanceId")),
                              state))
    for page in responses(inventory.calls.get("s3_ListBuckets", [])):
        found += [("aws_s3_bucket", f"arn:aws:s3:::{b.get('Name')}", str(b.get("Name")), None)
                  for b in page.get("Buckets") or []]
    for page in responses(inventory.calls.get("rds_DescribeDBInstances", [])):
        found += [("aws_rds_instance", str(db.get("DBInstanceArn") or db.get("DBInstanceIdentifier")),
                   str(db.get("DBInstanceIdentifier")), db.get("DBInstanceStatus"))
                  for db in page.get("DBInstances") or []]
    for page in responses(inventory.calls.get("eks_ListClusters", [])):
        found += [("aws_eks_cluster", str(name), str(name), None) for name in page.get("clusters") or []]
    return found


def _aws_inventory_units(tables: Any, inventories: dict[str, Any]) -> pd.DataFrame:
    """AWS units from the AWS-side inventory of the dataset (`sources.aws_dataset`): instances, buckets, databases."""
    scopes = _connector_scopes(tables)
    rows = []
    for account, inventory in sorted(inventories.items()):
        connector, sub = scopes.get(("AWS", account), (f"aws:{account}", None))
        for kind, resource_id, name, state in _inventory_resources(inventory):
            spec = CATALOGUE["multicloud_kinds"][kind]
            stopped = kind == "aws_ec2_instance" and state not in (None, "running", "pending")
            for plan in spec["plans"]:
                rows.append({
                    "scope_id": connector, "scope_type": "connector", "environment": "AWS", "subscription_id": sub,
                    "account_id": account, "resource_id": resource_id, "resource_name": name, "resource_type": kind,
                    "plan": plan, "units": np.nan if "why" in spec else (0.0 if stopped else 1.0),
                    "unit": spec["unit"], "aks_node": False, "tags": None,
                    "note": spec.get("why", f"EC2 {state}: not billed" if stopped else INVENTORY_NOTE),
                })
    return pd.DataFrame(rows, columns=UNIT_COLUMNS)


def billable_units(tables: Any, aws_inventories: dict[str, Any] | None = None) -> pd.DataFrame:
    """One row per (scope, resource, plan) with the units that plan bills, counted from the tables.

    Azure units come from the `resources` inventory (rules in `cost_catalogue.json`); Arm is one per subscription;
    AWS/GCP units from the multicloud assessments' resources, or, for AWS accounts whose inventory the dataset holds
    (`aws_inventories`, from `sources.aws_dataset.read_inventories`), from that inventory, which also lists resources
    without any recommendation. `units` is NaN where the data cannot count them
    (`note` says why) and 0 for resources that are present but not billed (deallocated VMs, Basic-tier databases).
    """
    resources = tables.resources
    by_type = dict(tuple(resources.groupby(resources["type"].str.lower(), sort=False))) if len(resources) else {}
    azure = pd.concat([_azure_rule_units(by_type, rule) for rule in CATALOGUE["azure_units"]
                       if rule["count"] != "per_scope"] or [pd.DataFrame(columns=UNIT_COLUMNS)], ignore_index=True)
    per_scope_rules = [r for r in CATALOGUE["azure_units"] if r["count"] == "per_scope"]
    per_scope = [_per_scope_units(_azure_rule_units(by_type, {**r, "count": "one"}), r["plan"], r["unit"])
                 for r in per_scope_rules]
    multicloud = _multicloud_units(tables)
    if aws_inventories:
        inventoried = _aws_inventory_units(tables, aws_inventories)
        multicloud = multicloud[~((multicloud["environment"] == "AWS")
                                  & multicloud["account_id"].astype(str).isin(set(aws_inventories)))]
        multicloud = pd.concat([multicloud, inventoried], ignore_index=True) if len(multicloud) else inventoried
    frames = [azure, *per_scope, _per_subscription_units(_subscription_ids(tables)), multicloud]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=UNIT_COLUMNS)
    units = pd.concat(frames, ignore_index=True).reindex(columns=UNIT_COLUMNS)
    units["units"] = units["units"].astype("float64")
    units["aks_node"] = units["aks_node"].fillna(False).astype(bool)
    return units


# --------------------------------------------------------------------------------------------- plan settings

def plan_settings(tables: Any) -> pd.DataFrame:
    """Plans as configured: subscription- and resource-level pricings, and the connectors' Defender offerings."""
    plans = tables.plans
    azure = pd.DataFrame({
        "scope_id": plans["scope_id"].str.lower(),
        "scope_type": np.where(plans["level"] == "resource", "resource", "subscription"),
        "level": plans["level"], "environment": "Azure", "subscription_id": plans["subscription_id"].str.lower(),
        "plan": plans["plan"], "enabled": plans["enabled"].fillna(False).astype(bool),
        "sub_plan": plans["sub_plan"].fillna(""), "trial_days": plans["free_trial_remaining_days"].fillna(0.0),
        "deprecated": plans["deprecated"].fillna(False).astype(bool),
    })
    offerings = tables.offerings
    mapped = offerings.assign(plan=offerings["offering_type"].map(CATALOGUE["offering_plans"])).dropna(subset=["plan"])
    connectors = tables.connectors.set_index("connector_id")["subscription_id"].to_dict()
    rows = []
    for (connector, plan), group in mapped.groupby(["connector_id", "plan"], sort=True):
        sub_plans = group["sub_plan"].dropna()
        rows.append({"scope_id": connector, "scope_type": "connector", "level": "connector",
                     "environment": group["environment"].iloc[0], "subscription_id": connectors.get(connector),
                     "plan": plan, "enabled": True,
                     "sub_plan": str(sub_plans.iloc[0]) if len(sub_plans) else default_sub_plan(plan),
                     "trial_days": 0.0, "deprecated": False})
    settings = pd.concat([azure, pd.DataFrame(rows, columns=SETTING_COLUMNS)], ignore_index=True)
    return settings[SETTING_COLUMNS]


def select_scopes(units: pd.DataFrame, settings: pd.DataFrame, environments: list[str] | tuple[str, ...] = (),
                  subscriptions: list[str] | tuple[str, ...] = (), accounts: list[str] | tuple[str, ...] = ()
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Units and settings of the scopes the page's filters keep (empty filter = everything).

    `environments` (Azure, AWS, GCP) and `subscriptions` (a connector belongs to the subscription holding it) apply
    to every scope; `accounts` (AWS account ids / GCP project numbers) only to connector scopes.
    """
    keep = pd.Series(True, index=units.index)
    if environments:
        keep &= units["environment"].str.lower().isin([e.lower() for e in environments])
    if subscriptions:
        keep &= units["subscription_id"].str.lower().isin([s.lower() for s in subscriptions])
    if accounts:
        keep &= (units["scope_type"] != "connector") | units["account_id"].astype(str).isin([str(a) for a in accounts])
    kept = units[keep]
    scopes = set(kept["scope_id"])
    subs = set(kept["subscription_id"].dropna())
    in_scope = settings["scope_id"].isin(scopes) | (
        (settings["level"] == "resource") & settings["subscription_id"].isin(subs))
    return kept.reset_index(drop=True), settings[in_scope].reset_index(drop=True)


def scope_names(tables: Any) -> dict[str, str]:
    """Display names of subscriptions (`/subscriptions/<id>`) and connectors (name, environment and account)."""
    names = {subscription_scope(r.subscription_id): str(r.display_name or r.subscription_id)
             for r in tables.subscriptions.itertuples() if pd.notna(r.subscription_id)}
    for r in tables.connectors.itertuples():
        if pd.notna(r.connector_id):
            names[str(r.connector_id)] = f"{r.name} ({r.environment} {r.hierarchy_id})"
    return names


def choose_plans(settings: pd.DataFrame, units: pd.DataFrame, plans_on: dict[str, bool]) -> pd.DataFrame:
    """Settings with plans switched on everywhere (True: every scope billing units of it) or off (False)."""
    out = settings.copy()
    for plan, on in plans_on.items():
        if not on:
            out.loc[out["plan"] == plan, "enabled"] = False
            continue
        scopes = units.loc[units["plan"] == plan, ["scope_id", "scope_type", "environment", "subscription_id"]]
        scopes = scopes.drop_duplicates("scope_id")
        out = out[~((out["plan"] == plan) & out["scope_id"].isin(scopes["scope_id"]) & (out["level"] != "resource"))]
        current = settings[(settings["plan"] == plan) & settings["enabled"] & (settings["sub_plan"] != "")]
        sub_plan = current["sub_plan"].mode().iloc[0] if len(current) else default_sub_plan(plan)
        added = scopes.assign(level=np.where(scopes["scope_type"] == "subscription", "subscription", "connector"),
                              plan=plan, enabled=True, sub_plan=sub_plan, trial_days=0.0, deprecated=False)
        out = pd.concat([out, added[SETTING_COLUMNS]], ignore_index=True)
    return out[SETTING_COLUMNS]


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
