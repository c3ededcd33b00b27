"""AWS onboarding readiness: every prerequisite and pitfall of MDC's AWS connection guide, checked from the data.

`audit(...)` takes the Azure side as tables (connectors, offerings, Azure Arc machines) and the AWS side as the
inventory tables of `tables.aws_inventory.AwsInventory` (contracts in `mdcnb.core.schema.aws_inventory`; a call that
failed or was not collected is a row of `aws_calls`, or its absence) and returns one row per (account, check) in the
`aws_audit` contract of `mdcnb.core.schema`: status `pass`, `fail`, `not applicable` or `could not check`, the evidence
behind it, and the check's remediation (the checks: `readiness_identity`, `readiness_resources`; what they
share: `readiness_base`). Titles, guide sections, remediation texts, role audiences and thresholds
are data in `aws_audit_checks.json` beside this module. No I/O here: the live collection is
`mdcnb.sources.aws_inventory`, the dataset reading `mdcnb.sources.aws_dataset`, the normalising into tables
`mdcnb.normalize.aws_inventory`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime

import pandas as pd

from mdcnb.analysis.readiness_base import (
    COULD_NOT_CHECK,
    FAIL,
    NOT_APPLICABLE,
    PASS,
    STATUSES,
    Account,
    CouldNotCheck,
    NotApplicable,
    check_definitions,
    is_value,
    rules,
)
from mdcnb.analysis.readiness_identity import (
    check_classic_and_native,
    check_excluded_accounts,
    check_member_connectors,
    check_oidc_provider,
    check_role_names_agree,
    check_roles_exist,
    check_stacksets_trusted_access,
    check_trust_policy,
    org_members,
    trust_problem,
)
from mdcnb.analysis.readiness_resources import (
    _tag,
    check_arc_machine,
    check_bucket_tls,
    check_eks_in_regions,
    check_new_instances,
    check_resources_outside,
    check_sql_servers,
    check_ssm_managed,
    check_ssm_policy,
    check_stale_arc,
    secure_transport_denied,
)
from mdcnb.core import schema
from mdcnb.tables.aws_inventory import AwsInventory

CHECKS: dict[str, Callable[[Account], tuple[str, str]]] = {
    "identity.oidc_provider": check_oidc_provider,
    "identity.roles_exist": check_roles_exist,
    "identity.trust_policy": check_trust_policy,
    "identity.role_names_agree": check_role_names_agree,
    "connector.classic_and_native": check_classic_and_native,
    "org.member_connectors": check_member_connectors,
    "org.excluded_accounts": check_excluded_accounts,
    "org.stacksets_trusted_access": check_stacksets_trusted_access,
    "servers.ssm_managed": check_ssm_managed,
    "servers.ssm_policy": check_ssm_policy,
    "servers.arc_machine": check_arc_machine,
    "servers.stale_arc": check_stale_arc,
    "servers.new_instances": check_new_instances,
    "databases.sql_servers": check_sql_servers,
    "containers.eks_in_regions": check_eks_in_regions,
    "regions.resources_outside": check_resources_outside,
    "template.bucket_tls": check_bucket_tls,
}


# ------------------------------------------------------------------ the audit

def arc_machines_of(arc_machines: pd.DataFrame, account_id: str) -> pd.DataFrame:
    """Azure Arc machines whose `AccountId` tag is this AWS account."""
    if arc_machines.empty:
        return arc_machines
    mask = arc_machines["tags"].map(lambda t: _tag(t, "AccountId") == account_id)
    return arc_machines[mask.astype(bool)].reset_index(drop=True)


def _account_ids(aws: pd.DataFrame, inventories: dict[str, AwsInventory]) -> list[str]:
    ids = set(aws["hierarchy_id"].dropna()) | set(inventories)
    for org in aws[(aws["membership"] == "Organization").fillna(False)].itertuples(index=False):
        with contextlib.suppress(CouldNotCheck):
            ids |= set(org_members(inventories.get(org.hierarchy_id)))
    return sorted(str(i) for i in ids)


def _as_of(inventory: AwsInventory, as_of: datetime | None) -> datetime:
    if as_of is not None:
        return as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    return inventory.collected_at() or datetime.now(UTC)


def build_accounts(connectors: pd.DataFrame, offerings: pd.DataFrame, arc_machines: pd.DataFrame,
                   inventory: AwsInventory, as_of: datetime | None = None) -> list[Account]:
    """Join both sides per AWS account: connectors (native, classic, organisation), roles, inventory, Arc machines."""
    inventories = inventory.by_account()
    aws = connectors[(connectors["environment"] == "AWS").fillna(False)]
    native = aws[(aws["kind"] == "native").fillna(False)]
    classic = aws[(aws["kind"] == "classic").fillna(False)]
    orgs = native[(native["membership"] == "Organization").fillna(False)]
    when = _as_of(inventory, as_of)
    accounts = []
    for account_id in _account_ids(aws, inventories):
        own = native[native["hierarchy_id"] == account_id]
        row = own.iloc[0] if len(own) else None
        org = None
        if row is not None and is_value(row["membership"], "Member"):
            parent = orgs[orgs["hierarchy_id"] == row["parent_hierarchy_id"]]
            org = parent.iloc[0] if len(parent) else None
        elif row is None or not is_value(row["membership"], "Organization"):
            for candidate in orgs.itertuples(index=False):
                try:
                    members = org_members(inventories.get(candidate.hierarchy_id))
                except CouldNotCheck:
                    continue
                if account_id in members:
                    org = orgs[orgs["connector_id"] == candidate.connector_id].iloc[0]
                    break
        roles = offerings[(offerings["connector_id"] == row["connector_id"]) & offerings["role_arn"].notna()] \
            if row is not None else offerings.iloc[0:0]
        accounts.append(Account(
            account_id=account_id, native=row,
            classic=[c for _, c in classic[classic["hierarchy_id"] == account_id].iterrows()],
            roles=roles.reset_index(drop=True), inventory=inventories.get(account_id),
            arc=arc_machines_of(arc_machines, account_id), as_of=when, org_connector=org,
            org_inventory=inventories.get(org["hierarchy_id"]) if org is not None else None,
            all_native_ids=frozenset(native["hierarchy_id"].dropna()),
        ))
    return accounts


def run_check(check_id: str, account: Account) -> tuple[str, str]:
    """(status, evidence) of one check on one account; the outcome exceptions become statuses."""
    try:
        return CHECKS[check_id](account)
    except NotApplicable as exc:
        return NOT_APPLICABLE, str(exc)
    except CouldNotCheck as exc:
        return COULD_NOT_CHECK, str(exc)


def audit(connectors: pd.DataFrame, offerings: pd.DataFrame, arc_machines: pd.DataFrame,
          inventory: AwsInventory, as_of: datetime | None = None,
          accounts: Iterable[str] | None = None) -> pd.DataFrame:
    """Every check for every AWS account known to either side, as the `aws_audit` table."""
    wanted = {str(a) for a in accounts} if accounts else None
    definitions = rules()["checks"]
    rows = []
    for account in build_accounts(connectors, offerings, arc_machines, inventory, as_of):
        if wanted is not None and account.account_id not in wanted:
            continue
        connector = account.native if account.native is not None else (account.classic[0] if account.classic else None)
        for definition in definitions:
            status, evidence = run_check(definition["id"], account)
            rows.append({
                "account_id": account.account_id,
                "account_name": _account_name(account),
                "connector_id": connector["connector_id"] if connector is not None else None,
                "connector_kind": connector["kind"] if connector is not None else None,
                "membership": account.native["membership"] if account.native is not None else None,
                "check_id": definition["id"], "area": definition["area"], "plan": definition["plan"],
                "title": definition["title"], "status": status, "evidence": evidence,
                "remediation": definition["remediation"] if status == FAIL else None,
                "guide": definition["guide"],
            })
    return schema.AWS_AUDIT.frame(rows)


def _account_name(account: Account) -> str | None:
    for row in [account.native, *account.classic]:
        if row is not None and pd.notna(row["account_name"]):
            return str(row["account_name"])
    if account.org_inventory is not None:
        try:
            return org_members(account.org_inventory).get(account.account_id, {}).get("name")
        except CouldNotCheck:
            return None
    return None


def matrix(results: pd.DataFrame) -> pd.DataFrame:
    """Accounts x checks: the status of each check (columns in the checks' order)."""
    order = [c["id"] for c in rules()["checks"]]
    table = results.pivot_table(index="account_id", columns="check_id", values="status", aggfunc="first")
    return table.reindex(columns=[c for c in order if c in table.columns])


def failures(results: pd.DataFrame) -> pd.DataFrame:
    """The failing checks with evidence and remediation, by account and check order."""
    out = results[results["status"] == FAIL]
    return out[["account_id", "account_name", "check_id", "title", "evidence", "remediation"]].reset_index(drop=True)


def status_counts(results: pd.DataFrame) -> pd.DataFrame:
    """Per check: how many accounts pass, fail, are not applicable or could not be checked."""
    counts = results.pivot_table(index="check_id", columns="status", values="account_id", aggfunc="count", fill_value=0)
    order = [c["id"] for c in rules()["checks"] if c["id"] in counts.index]
    return counts.reindex(index=order, columns=list(STATUSES), fill_value=0).astype("int64")


def outcomes_by_week(audits: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Readiness outcomes per ISO week: one row per (week, status) with the number of (account, check) results and
    of accounts audited. A week without AWS inventory judges its checks `could not check`, so a gap in the data
    never reads as an improvement."""
    rows = [{"week": week, "status": status, "results": int((results["status"] == status).sum()),
             "accounts": int(results["account_id"].nunique())}
            for week, results in audits.items() for status in STATUSES]
    return pd.DataFrame(rows, columns=["week", "status", "results", "accounts"])


# What callers use from the parts: the outcomes, the definitions and the two checks they test alone.
__all__ = [
    "CHECKS",
    "COULD_NOT_CHECK",
    "FAIL",
    "NOT_APPLICABLE",
    "PASS",
    "STATUSES",
    "Account",
    "arc_machines_of",
    "audit",
    "build_accounts",
    "check_definitions",
    "failures",
    "matrix",
    "outcomes_by_week",
    "rules",
    "run_check",
    "secure_transport_denied",
    "status_counts",
    "trust_problem",
]
