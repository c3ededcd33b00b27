"""Normalisers for the estate: subscriptions, multicloud connectors (with their offerings and IAM roles),
Defender plans (pricings, with extensions) and the ARG `resources` inventory.

Each function takes one raw record (an ARM list item or a Resource Graph row) and returns the rows it
yields, keyed by table name. A record that cannot be read raises `RecordError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

from mdcnb.core import schema
from mdcnb.normalize.common import (
    RecordError,
    canonical,
    duration_days,
    environment,
    field,
    first_field,
    fold,
    last_segment,
    lower,
    require,
    resource_group_of,
    split_provider_suffix,
    string_list,
    subscription_of,
    text,
    to_bool,
    to_int,
)
from mdcnb.sources.dataset import Skip

Rows = dict[str, list[dict[str, Any]]]

SUBSCRIPTION_STATES = ("Enabled", "Warned", "PastDue", "Disabled", "Deleted")
PRICING_TIERS = ("Free", "Standard")
COVERAGE_STATUSES = ("FullyCovered", "PartiallyCovered", "NotCovered")
MEMBERSHIPS = ("Organization", "Member")
OPERATION_CODES = ("Succeeded", "Failed")


def subscription(record: dict[str, Any]) -> Rows:
    """ARM `GET /subscriptions` item or ARG `resourcecontainers` row -> one `subscriptions` row."""
    sub_id = lower(first_field(record, "subscriptionId", ("properties", "subscriptionId"))) or \
        subscription_of(field(record, "id"))
    require(sub_id, "subscriptionId")
    # ARG rows put the display name in `name`; ARM items in `displayName` (`name` is absent there).
    display = first_field(record, "displayName", ("properties", "displayName"))
    if display is None and lower(field(record, "type")) == "microsoft.resources/subscriptions":
        display = field(record, "name")
    chain = field(record, "properties", "managementGroupAncestorsChain", default=[])
    chain = [g for g in chain if isinstance(g, dict)] if isinstance(chain, list) else []
    parent = chain[0] if chain else {}
    return {"subscriptions": [{
        "subscription_id": sub_id,
        "display_name": text(display),
        "tenant_id": lower(first_field(record, "tenantId", ("properties", "tenantId"))),
        "state": canonical(first_field(record, "state", ("properties", "state")), SUBSCRIPTION_STATES),
        "management_group": text(field(parent, "name")),
        "management_group_display": text(field(parent, "displayName")),
        "management_group_path": [text(field(g, "name")) for g in reversed(chain) if text(field(g, "name"))],
    }]}


# ---------------------------------------------------------------- connectors

def connector(record: dict[str, Any]) -> Rows:
    """Native `securityConnectors` or classic `connectors` item -> one `connectors` row and its `offerings`."""
    connector_id = lower(require(field(record, "id"), "id"))
    if "/providers/microsoft.security/securityconnectors/" in connector_id:
        return _native_connector(record, connector_id)
    if "/providers/microsoft.security/connectors/" in connector_id:
        return _classic_connector(record, connector_id)
    raise RecordError(f"not a security connector id: {field(record, 'id')}")


def _native_connector(record: dict[str, Any], connector_id: str) -> Rows:
    props = field(record, "properties", default={})
    env_data = field(props, "environmentData", default={})
    org = field(env_data, "organizationalData", default={})
    env = environment(require(field(props, "environmentName"), "properties.environmentName"))
    hierarchy_id = text(field(props, "hierarchyIdentifier"))
    offerings = [o for o in field(props, "offerings", default=[]) if isinstance(o, dict)]  # verbatim, see fold
    offering_rows = [row for o in offerings for row in _offering_rows(o, connector_id, env, hierarchy_id)]
    cspm_role = next((r["role_arn"] for r in offering_rows
                      if r["offering_type"] == "CspmMonitorAws" and r["role_arn"]), None)
    row = {
        "connector_id": connector_id,
        "name": text(field(record, "name")) or last_segment(connector_id),
        "subscription_id": subscription_of(connector_id),
        "resource_group": resource_group_of(connector_id),
        "location": text(field(record, "location")),
        "kind": "native",
        "environment": env,
        "hierarchy_id": hierarchy_id,
        "account_name": text(first_field(env_data, "accountName", ("projectDetails", "projectId"))),
        "membership": canonical(field(org, "organizationMembershipType"), MEMBERSHIPS),
        "parent_hierarchy_id": text(first_field(org, "parentHierarchyId", "managementProjectNumber")),
        "stackset_name": text(first_field(org, "stacksetName")),
        "excluded_ids": string_list(first_field(org, "excludedAccountIds", "excludedProjectNumbers")),
        "regions": string_list(field(env_data, "regions")),
        "scan_interval_hours": to_int(field(env_data, "scanInterval")),
        "cspm_role_arn": cspm_role,
        "offering_types": list(dict.fromkeys(r["offering_type"] for r in offering_rows if r["offering_type"])),
        "created_at": text(field(record, "systemData", "createdAt")),
    }
    return {"connectors": [row], "offerings": offering_rows}


_ROLE_KEYS = ("cloudrolearn", "serviceaccountemailaddress")


def _offering_rows(offering: dict[str, Any], connector_id: str, env: str | None,
                   hierarchy_id: str | None) -> list[dict[str, Any]]:
    """One row per IAM role / service account the offering uses (found anywhere in its body).

    `offering` is as the service sent it (not case-folded), so feature paths keep their spelling.
    """
    folded = fold(offering)
    base = {"connector_id": connector_id, "environment": env, "hierarchy_id": hierarchy_id,
            "offering_type": text(field(folded, "offeringType")), "sub_plan": text(field(folded, "subPlan", "type"))}
    rows = []
    for path, holder, enabled in _role_holders(offering, (), None):
        role_arn = text(holder.get("cloudrolearn"))
        rows.append({**base, "feature": ".".join(path) or None,
                     "enabled": True if enabled is None else enabled,
                     "role_arn": role_arn,
                     "role_name": role_arn.rsplit("/", 1)[-1] if role_arn else None,
                     "service_account": text(holder.get("serviceaccountemailaddress"))})
    return rows or [{**base, "feature": None, "enabled": True}]


def _role_holders(node: dict[str, Any], path: tuple[str, ...], enabled: bool | None):
    """Yield (key path, folded object, inherited enabled flag) for every object holding a role key."""
    folded = {k.lower(): v for k, v in node.items() if isinstance(k, str)}
    own = to_bool(folded.get("enabled"))
    enabled = own if own is not None else enabled
    if any(folded.get(key) for key in _ROLE_KEYS):
        yield path, folded, enabled
    for key, value in node.items():
        if isinstance(value, dict):
            yield from _role_holders(value, (*path, key), enabled)


def _classic_connector(record: dict[str, Any], connector_id: str) -> Rows:
    """Classic AWS/GCP connector (`Microsoft.Security/connectors`, api 2020-01-01-preview)."""
    auth = field(record, "properties", "authenticationDetails", default={})
    auth_type = (text(field(auth, "authenticationType")) or "").casefold()
    role_arn = text(field(auth, "awsAssumeRoleArn"))
    if auth_type.startswith("aws"):
        env, account = "AWS", _account_of_arn(role_arn)
        account_name = None
    elif auth_type.startswith("gcp"):
        env, account = "GCP", None
        account_name = text(field(auth, "projectId"))
    else:
        raise RecordError(f"classic connector with unknown authenticationType {field(auth, 'authenticationType')!r}")
    row = {
        "connector_id": connector_id,
        "name": text(field(record, "name")) or last_segment(connector_id),
        "subscription_id": subscription_of(connector_id),
        "resource_group": None,
        "location": text(field(record, "location")),
        "kind": "classic",
        "environment": env,
        "hierarchy_id": account,
        "account_name": account_name,
        "cspm_role_arn": role_arn,
        "created_at": text(field(record, "systemData", "createdAt")),
    }
    return {"connectors": [row], "offerings": []}


def _account_of_arn(arn: str | None) -> str | None:
    """The account id field of an ARN (`arn:aws:iam::123456789012:role/x` -> `123456789012`)."""
    parts = (arn or "").split(":")
    return parts[4] or None if len(parts) > 5 else None


# ---------------------------------------------------------------- pricings

def pricing(record: dict[str, Any]) -> Rows:
    """`pricings` item (subscription or resource level) -> one `plans` row and its `plan_extensions`."""
    pricing_id, scope_id = pricing_scope(field(record, "id"))
    props = field(record, "properties", default={})
    plan = text(field(record, "name")) or last_segment(pricing_id)
    settings, extensions = pricing_settings(props)
    sub_id = subscription_of(scope_id) or lower(field(record, "subscriptionId"))
    row = {"scope_id": scope_id, "subscription_id": sub_id, "level": pricing_level(scope_id), "plan": plan,
           "enablement_time": text(field(props, "enablementTime")), **settings}
    return {"plans": [row], "plan_extensions": [{"scope_id": scope_id, "subscription_id": sub_id, "plan": plan, **e}
                                                for e in extensions]}


def pricing_scope(value: Any) -> tuple[str, str]:
    """(the pricing's id, its scope id in lower case) of a `pricings` item's id; a RecordError for another id."""
    pricing_id = require(text(value), "id")
    split = split_provider_suffix(pricing_id, "Microsoft.Security/pricings")
    if split is None:
        raise RecordError(f"not a pricing id: {pricing_id}")
    return pricing_id, split[0].lower()


def pricing_level(scope_id: str) -> str:
    """`subscription` for a pricing set on a subscription, `resource` for one set on a resource."""
    return "subscription" if scope_id.strip("/").count("/") == 1 else "resource"


# The property of a `pricings` item read per record (it differs between items); `pricing_settings` reads the others.
ENABLEMENT_TIME = "enablementTime"


def pricing_settings(props: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The `plans` columns a (folded) pricing's `properties` give, but its enablement time, and its extensions'
    `plan_extensions` columns but scope, subscription and plan: a columnar reader reads them once per distinct
    `properties` (`pricing_columns`). A RecordError for a missing or unknown tier."""
    tier = canonical(require(field(props, "pricingTier"), "properties.pricingTier"), PRICING_TIERS)
    if tier not in PRICING_TIERS:
        raise RecordError(f"unknown pricingTier {tier!r}")
    trial = field(props, "freeTrialRemainingTime")
    extensions = [{
        "extension": text(field(e, "name")),
        "enabled": to_bool(field(e, "isEnabled")),
        "operation_status": canonical(field(e, "operationStatus", "code"), OPERATION_CODES),
        "properties": field(e, "additionalExtensionProperties"),
    } for e in field(props, "extensions", default=[]) if isinstance(e, dict)]
    return {
        "tier": tier,
        "enabled": tier == "Standard",
        "sub_plan": text(field(props, "subPlan")),
        "free_trial_remaining_days": duration_days(trial) if trial is not None else 0.0,
        "enforce": to_bool(field(props, "enforce")),
        "inherited": to_bool(field(props, "inherited")),
        "inherited_from": lower(field(props, "inheritedFrom")),
        "coverage_status": canonical(field(props, "resourcesCoverageStatus"), COVERAGE_STATUSES),
        "deprecated": to_bool(field(props, "deprecated")) or False,
        "replaced_by": string_list(field(props, "replacedBy")),
        "extensions_enabled": [e["extension"] for e in extensions if e["enabled"] and e["extension"]],
    }, extensions


# ---------------------------------------------------------------- resources

_VM_SIZE_VCPUS = re.compile(r"^(?:standard|basic)_[a-z]+?(\d+)(?:-(\d+))?", re.IGNORECASE)


def vm_size_vcpus(size: Any) -> int | None:
    """vCPUs of an Azure VM size from its name (`Standard_D4s_v5` -> 4; constrained `Standard_E8-2ds_v5` -> 2)."""
    found = _VM_SIZE_VCPUS.match(text(size) or "")
    if not found:
        return None
    return int(found.group(2) or found.group(1))


def _pool_vcores(pools: Any) -> int | None:
    """AKS vCores: node count x vCPUs of the pool's VM size, summed; None when a pool's size is not readable."""
    if not isinstance(pools, list) or not pools:
        return None
    total = 0
    for pool in pools:
        cpus = vm_size_vcpus(field(pool, "vmSize")) if isinstance(pool, dict) else None
        if cpus is None:
            return None
        total += (to_int(field(pool, "count")) or 0) * cpus
    return total


def resource(record: dict[str, Any]) -> Rows:
    """ARG `resources` row -> one `resources` row (billing-relevant sizing where the type reports it)."""
    resource_id = lower(require(field(record, "id"), "id"))
    return {"resources": [{
        "resource_id": resource_id,
        "name": text(field(record, "name")) or last_segment(resource_id),
        "type": lower(field(record, "type")),
        "kind": text(field(record, "kind")),
        "subscription_id": lower(field(record, "subscriptionId")) or subscription_of(resource_id),
        "resource_group": lower(field(record, "resourceGroup")) or resource_group_of(resource_id),
        "location": text(field(record, "location")),
        **resource_sizing(record),
        "tags": field(record, "tags") if isinstance(field(record, "tags"), dict) else None,
    }]}


# The keys of a resource's `properties` that `resource_sizing` reads (each as written, or in lower case).
SIZING_PROPERTIES = ("agentPoolProfiles", "extended", "powerState", "vCores", "detectedProperties", "hardwareProfile")


def resource_sizing(record: dict[str, Any]) -> dict[str, Any]:
    """The `sku`, `capacity`, `vcores` and `power_state` of a (folded) resource record: they read only its `sku` and
    the `SIZING_PROPERTIES` of its `properties`, so the columnar reader calls this once per distinct such part."""
    props = field(record, "properties", default={})
    pools = field(props, "agentPoolProfiles", default=[])
    node_count = sum(to_int(field(p, "count")) or 0 for p in pools if isinstance(p, dict)) \
        if isinstance(pools, list) and pools else None
    power = text(first_field(props, ("extended", "instanceView", "powerState", "code"), ("powerState", "code"),
                             "powerState"))
    reported_vcores = first_field(props, "vCores", ("detectedProperties", "logicalCoreCount"))
    return {
        "sku": text(first_field(record, ("sku", "name"), ("properties", "hardwareProfile", "vmSize"))),
        "capacity": node_count if node_count is not None else to_int(field(record, "sku", "capacity")),
        "vcores": to_int(reported_vcores) if reported_vcores is not None else _pool_vcores(pools),
        "power_state": power.rsplit("/", 1)[-1].lower() if power else None,
    }


ARC_TYPE = "microsoft.hybridcompute/machines"


def arc_machines(resource_records: Iterable[tuple[int, dict[str, Any]]], source: str = "",
                 skips: list[Skip] | None = None) -> pd.DataFrame:
    """The `arc_machines` table from (line, raw ARG `resources` record) pairs (other resource types are ignored).

    A machine record that cannot be read (nested too deep) is appended to `skips` with `source` and its line.
    """
    rows = []
    for line, raw in resource_records:
        if lower(field(raw, "type")) != ARC_TYPE:
            continue
        try:
            record = fold(raw)
        except RecordError as exc:
            if skips is not None:
                skips.append(Skip(source, f"line {line}", "resources", str(exc)))
            continue
        resource_id = lower(field(record, "id"))
        tags = field(record, "tags")
        rows.append({
            "resource_id": resource_id,
            "name": text(field(record, "name")) or last_segment(resource_id),
            "subscription_id": lower(field(record, "subscriptionId")) or subscription_of(resource_id),
            "status": text(field(record, "properties", "status")),
            "last_status_change": text(field(record, "properties", "lastStatusChange")),
            "tags": tags if isinstance(tags, dict) else {},
        })
    return schema.ARC_MACHINES.frame(rows)
