"""Defender plan cost, the inputs: billable units per scope and plan, and each scope's plan settings.

Pure functions on the normalised tables (no I/O):

    billable_units(tables)  one row per (scope, resource, plan): units counted from the inventory, or why not
    plan_settings(tables)   one row per (scope or resource, plan): tier, sub-plan, free trial left

What each plan bills and how its units are counted is data, in `cost_catalogue.json`. A unit that the data cannot
count is NaN with the reason, never a guess. `mdcnb.analysis.cost` prices them.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from mdcnb.core.package_data import read_json
from mdcnb.tables.aws_inventory import AwsInventory

CATALOGUE: dict[str, Any] = read_json(__package__, "cost_catalogue.json")
PLANS: dict[str, dict[str, Any]] = CATALOGUE["plans"]

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


def _cell(value: Any) -> Any:
    return None if pd.isna(value) else value


def _inventory_resources(inventory: AwsInventory) -> list[tuple[str, str, str, str | None]]:
    """(kind, resource id, name, state) of the billable AWS resources in one account's inventory tables."""
    found = [("aws_ec2_instance", i.instance_id, i.instance_id, _cell(i.state))
             for i in inventory.aws_instances.itertuples(index=False)]
    found += [("aws_s3_bucket", f"arn:aws:s3:::{_cell(b.name)}", str(_cell(b.name)), None)
              for b in inventory.aws_buckets.itertuples(index=False)]
    found += [("aws_rds_instance", str(_cell(db.arn) or _cell(db.db_instance_id)), str(_cell(db.db_instance_id)),
               _cell(db.status)) for db in inventory.aws_db_instances.itertuples(index=False)]
    found += [("aws_eks_cluster", str(name), str(name), None) for name in inventory.aws_eks_clusters["name"]]
    return found


def _aws_inventory_units(tables: Any, inventories: dict[str, AwsInventory]) -> pd.DataFrame:
    """AWS units from the AWS-side inventory tables of each account: instances, buckets, databases, clusters."""
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


def billable_units(tables: Any, aws_inventory: AwsInventory | None = None) -> pd.DataFrame:
    """One row per (scope, resource, plan) with the units that plan bills, counted from the tables.

    Azure units come from the `resources` inventory (rules in `cost_catalogue.json`); Arm is one per subscription;
    AWS/GCP units from the multicloud assessments' resources, or, for AWS accounts whose inventory the dataset holds
    (`aws_inventory`, the `aws_*` tables of `tables.aws_inventory`), from that inventory, which also lists resources
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
    aws_inventories = aws_inventory.by_account() if aws_inventory is not None else {}
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
