"""Estate and coverage: what is connected, which plans are on where, and the onboarding pitfalls found in the data.

Pure functions on the tables (and on the `aws_audit` table for the pitfalls that need the AWS side). The plan
and resource-type knowledge is the cost model's (`mdcnb.analysis.cost`): a plan "protects" the resource types it
bills.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from mdcnb.analysis import cost_units
from mdcnb.analysis import readiness as aws_audit

AWS = "AWS"  # the environment the readiness audit covers
PITFALL_CHECKS = {  # pitfall shown on the coverage page -> the audit check that finds it
    "AWS account on both the classic and the native connector": "connector.classic_and_native",
    "Organisation member account without a connector": "org.member_connectors",
    "Connector region list leaves out regions with resources": "regions.resources_outside",
    "EC2 instance without Azure Arc": "servers.arc_machine",
}


def subscriptions_by_group(subscriptions: pd.DataFrame) -> pd.DataFrame:
    """Subscriptions per management group and state."""
    frame = subscriptions.assign(management_group=subscriptions["management_group_display"]
                                 .fillna(subscriptions["management_group"]).fillna("(unknown)"))
    return (frame.groupby(["management_group", "state"], dropna=False).size().rename("subscriptions")
            .reset_index().sort_values(["management_group", "state"], kind="stable").reset_index(drop=True))


def connectors_overview(connectors: pd.DataFrame) -> pd.DataFrame:
    """One row per connector: environment, kind, account, membership, offerings, regions, scan interval."""
    out = connectors.sort_values(["environment", "kind", "hierarchy_id"], kind="stable").copy()
    out["offerings"] = out["offering_types"].map(lambda v: ", ".join(sorted(v)))
    out["regions"] = out["regions"].map(lambda v: ", ".join(v) if len(v) else "all regions")
    columns = ["environment", "name", "kind", "hierarchy_id", "account_name", "membership", "offerings", "regions",
               "scan_interval_hours"]
    return out[columns].reset_index(drop=True)


def connectors_by_environment(connectors: pd.DataFrame) -> pd.DataFrame:
    """Connector counts per environment and kind (native / classic)."""
    return connectors.groupby(["environment", "kind"]).size().rename("connectors").reset_index()


def _plan_label(row: pd.Series) -> str:
    label = f"Standard {row['sub_plan']}".strip() if row["enabled"] else "Free"
    if row["trial_days"] and row["trial_days"] > 0:
        label += f" (trial {row['trial_days']:.0f} d)"
    if row["deprecated"]:
        label += " [deprecated]"
    return label


_LABELLED = ["enabled", "sub_plan", "trial_days", "deprecated"]  # what `_plan_label` reads of a row


def _setting_labels(settings: pd.DataFrame) -> pd.Series:
    """`_plan_label` of every row, made once per distinct setting (64,000 rows at 2,000 subscriptions repeat a
    few dozen)."""
    grouped = settings[_LABELLED].groupby(_LABELLED, dropna=False, sort=False)
    labels = grouped.head(1).apply(_plan_label, axis=1)  # in the groups' order
    return labels.iloc[grouped.ngroup().to_numpy()].set_axis(settings.index)


def plan_matrix(settings: pd.DataFrame, names: dict[str, str] | None = None) -> pd.DataFrame:
    """Scope x plan: tier, sub-plan, trial, deprecated; resource-level overrides and connectors are scopes too.

    `settings` is `cost_units.plan_settings(tables)`; `names` maps scope ids to display names
    (`cost_units.scope_names`).
    """
    return pivot_plans(plan_labels(settings, names))


def plan_labels(settings: pd.DataFrame, names: dict[str, str] | None = None) -> pd.DataFrame:
    """`settings` with each row's cell of the plan matrix (`setting`) and the name of its row (`scope`): a panel
    labels every setting once, then selects rows and pivots them (`pivot_plans`) at each change."""
    names = names or {}
    return settings.assign(setting=_setting_labels(settings) if len(settings) else pd.Series(dtype=str),
                           scope=settings["scope_id"].map(lambda s: names.get(s, s.rsplit("/", 1)[-1])),
                           level=settings["level"])


def pivot_plans(labelled: pd.DataFrame) -> pd.DataFrame:
    """The plan matrix of settings labelled by `plan_labels`: subscriptions first, then resources, then
    connectors, each by name."""
    matrix = labelled.pivot_table(index=["level", "scope"], columns="plan", values="setting", aggfunc="first")
    matrix = matrix.reset_index()
    rank = matrix["level"].map({"subscription": 0, "resource": 1, "connector": 2}).fillna(9)
    matrix = matrix.assign(_rank=rank).sort_values(["_rank", "scope"], kind="stable").drop(columns="_rank")
    matrix.columns.name = None
    return matrix.fillna("").reset_index(drop=True)


def plans_off_with_resources(settings: pd.DataFrame, units: pd.DataFrame, names: dict[str, str] | None = None
                             ) -> pd.DataFrame:
    """Subscription plans left on Free where resources the plan protects exist (`units`: `billable_units`).

    Deprecated plans (replaced by another) and per-subscription plans (Arm, Dns: no resource to point at) are left
    out; resources the plan would not bill (deallocated VMs, Basic-tier databases) do not count.
    """
    names = names or {}
    off = settings[(settings["level"] == "subscription") & ~settings["enabled"] & ~settings["deprecated"]]
    off = off[["scope_id", "plan"]]
    resources = units[(units["scope_type"] == "subscription") & (units["resource_type"] != "subscription")
                      & (units["units"].isna() | (units["units"] > 0))]
    present = (resources.groupby(["scope_id", "plan"])
               .agg(resources=("resource_id", "nunique"), resource_types=("resource_type",
                                                                           lambda s: ", ".join(sorted(set(s)))))
               .reset_index())
    found = off.merge(present, on=["scope_id", "plan"], how="inner")
    found.insert(0, "subscription", found["scope_id"].map(lambda s: names.get(s, s.rsplit("/", 1)[-1])))
    found["plan_display"] = found["plan"].map(cost_units.plan_display)
    return found.sort_values(["subscription", "plan"], kind="stable").reset_index(drop=True)


def pitfalls(audit_results: pd.DataFrame) -> pd.DataFrame:
    """The onboarding pitfalls MDC's guidance warns about, each with the accounts where the audit found it."""
    rows = []
    for pitfall, check in PITFALL_CHECKS.items():
        failing = audit_results[(audit_results["check_id"] == check) & (audit_results["status"] == aws_audit.FAIL)]
        rows.extend({"pitfall": pitfall, "account_id": r.account_id, "account_name": r.account_name,
                     "evidence": r.evidence} for r in failing.itertuples(index=False))
    return pd.DataFrame(rows, columns=["pitfall", "account_id", "account_name", "evidence"])


def pitfall_counts(audit_results: pd.DataFrame) -> pd.DataFrame:
    """How many accounts each pitfall affects (zero rows kept, so a clean estate shows zeros)."""
    found = pitfalls(audit_results)
    counts = found.groupby("pitfall").size()
    return pd.DataFrame({"pitfall": list(PITFALL_CHECKS),
                         "accounts": [int(counts.get(p, 0)) for p in PITFALL_CHECKS]})


def only(frame: pd.DataFrame, column: str, values: Sequence[str]) -> pd.DataFrame:
    """Rows whose `column` is one of `values` (compared case-insensitively); all rows when `values` is empty."""
    if not values:
        return frame
    wanted = {str(v).lower() for v in values}
    return frame[frame[column].astype("string").str.lower().isin(wanted).fillna(False)].reset_index(drop=True)


def select(frame: pd.DataFrame, *, environments: Sequence[str] = (), subscriptions: Sequence[str] = (),
           accounts: Sequence[str] = (), account_column: str | None = None) -> pd.DataFrame:
    """Rows that pass every filter given (empty = all): `environments` on `environment`, `subscriptions` on
    `subscription_id` (a connector's is the subscription holding it), `accounts` on `account_column`."""
    out = only(frame, "environment", environments)
    out = only(out, "subscription_id", subscriptions)
    return only(out, account_column, accounts) if account_column else out


def audit_selection(audit_results: pd.DataFrame, *, environments: Sequence[str] = (),
                    accounts: Sequence[str] = ()) -> pd.DataFrame:
    """The readiness audit's rows of the given AWS accounts; none when `environments` leaves out AWS (the audit,
    and so every pitfall it finds, is about AWS accounts). Subscriptions do not apply: an organisation member
    without a connector belongs to none."""
    if environments and AWS.casefold() not in {e.casefold() for e in environments}:
        return audit_results.iloc[0:0]
    return only(audit_results, "account_id", accounts)


def skipped_inventory(skips: list) -> pd.DataFrame:
    """The `Skip`s of an audit (unreadable inventory files) as a `skips`-shaped table."""
    return pd.DataFrame([s.as_row() for s in skips], columns=["source", "location", "record_type", "reason"])
