"""What every AWS readiness check works with: the outcomes, the check definitions (`readiness_checks.json`),
what the audit knows of one account (`Account`), and the helpers that read its inventory tables
(`tables.aws_inventory.AwsInventory`) and roles: a check reads a table only after `require_call` or
`failed_regions` found the calls behind it, so missing or failed calls become `could not check`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

import pandas as pd

from mdcnb.core.package_data import read_json
from mdcnb.tables.aws_inventory import AwsInventory

PASS, FAIL, NOT_APPLICABLE, COULD_NOT_CHECK = "pass", "fail", "not applicable", "could not check"
STATUSES = (PASS, FAIL, NOT_APPLICABLE, COULD_NOT_CHECK)
EXISTING_STATES = {"pending", "running", "stopping", "stopped"}


@cache
def rules() -> dict[str, Any]:
    """The check definitions and the facts they rely on (`aws_audit_checks.json`)."""
    return read_json(__package__, "readiness_checks.json")


def check_definitions() -> pd.DataFrame:
    """One row per check: id, area, plan, title, guide section, remediation (in report order)."""
    return pd.DataFrame(rules()["checks"]).astype("string")


class NotApplicable(Exception):
    """The check does not apply to this account (the reason is the evidence)."""


class CouldNotCheck(Exception):
    """The data needed is missing or the AWS call failed (the reason is the evidence)."""


@dataclass
class Account:
    """What the audit knows about one AWS account from both sides."""

    account_id: str
    native: pd.Series | None
    classic: list[pd.Series]
    roles: pd.DataFrame  # offerings rows of the native connector that carry an AWS role ARN
    inventory: AwsInventory | None  # this account's inventory tables; None when it was not collected
    arc: pd.DataFrame  # Azure Arc machines tagged with this account
    as_of: datetime
    org_connector: pd.Series | None = None  # the management-account connector this account belongs to
    org_inventory: AwsInventory | None = None
    all_native_ids: frozenset[str] = field(default_factory=frozenset)

    @property
    def offering_types(self) -> set[str]:
        return set(self.native["offering_types"]) if self.native is not None else set()

    @property
    def is_org_connector(self) -> bool:
        return self.native is not None and is_value(self.native["membership"], "Organization")


def is_value(value: Any, expected: str) -> bool:
    """`value == expected` for a nullable table cell (null is never equal)."""
    return bool(pd.notna(value) and value == expected)


# ------------------------------------------------------------------ reading the inventory tables

def _text(value: Any) -> str:
    """A cell in a finding's text (a null cell reads None, as the raw response's missing value did)."""
    return str(None if pd.isna(value) else value)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of a table as dicts, null cells as None."""
    return [{k: None if v is None or (not isinstance(v, (list, dict)) and pd.isna(v)) else v for k, v in row.items()}
            for row in frame.to_dict("records")]


def calls_of(inv: AwsInventory | None, operation: str) -> pd.DataFrame:
    """The `aws_calls` rows of one operation; CouldNotCheck when the account or the operation was not collected."""
    if inv is None:
        raise CouldNotCheck("no AWS inventory for this account (collect it with `mdcnb aws audit --profile ...`)")
    calls = inv.aws_calls[inv.aws_calls["operation"] == operation]
    if calls.empty:
        raise CouldNotCheck(f"{operation} was not collected")
    return calls


def require_call(inv: AwsInventory | None, operation: str, **params: str) -> AwsInventory:
    """The account's tables once the global call of `operation` (asked about `params`' one value, if given)
    succeeded; CouldNotCheck with its error, or when it was not collected."""
    calls = calls_of(inv, operation)
    if params:
        calls = calls[calls["target"].eq(next(iter(params.values()))).fillna(False).astype(bool)]
        if calls.empty:
            raise CouldNotCheck(f"{operation} {params} was not collected")
    first = calls.iloc[0]
    if not first["ok"]:
        raise CouldNotCheck(f"{operation}: {_text(first['error_code'])}: {_text(first['error_message'])}")
    return inv


def failed_regions(inv: AwsInventory | None, operation: str) -> list[str]:
    """`region: error code` for every failed regional call of `operation` (its successful calls gave the rows)."""
    calls = calls_of(inv, operation)
    return [f"{_text(c.region)}: {_text(c.error_code)}" for c in calls[~calls["ok"].astype(bool)].itertuples()]


def require_all_regions(failed: list[str], what: str) -> None:
    if failed:
        raise CouldNotCheck(f"{what} could not be read in {', '.join(failed)}")


@dataclass(frozen=True)
class Instance:
    instance_id: str
    region: str
    state: str | None
    launched: datetime | None
    profile_arn: str | None
    image_id: str | None
    platform_details: str | None


def parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def instances_of(inv: AwsInventory | None) -> tuple[list[Instance], list[str]]:
    failed = failed_regions(inv, "ec2_DescribeInstances")
    return [Instance(instance_id=row["instance_id"], region=row["region"] or "", state=row["state"],
                     launched=row["launched_at"], profile_arn=row["profile_arn"], image_id=row["image_id"],
                     platform_details=row["platform_details"])
            for row in records(inv.aws_instances)], failed


def running_instances(inv: AwsInventory | None) -> list[Instance]:
    instances, failed = instances_of(inv)
    require_all_regions(failed, "EC2 instances")
    return [i for i in instances if i.state == "running"]


def listed_ids(items: Iterable[Instance], limit: int = 8) -> str:
    ids = sorted(i.instance_id for i in items)
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return ", ".join(ids[:limit]) + more


def listed_names(values: Iterable[str], limit: int = 8) -> str:
    values = sorted(set(values))
    more = f" and {len(values) - limit} more" if len(values) > limit else ""
    return ", ".join(values[:limit]) + more


# ------------------------------------------------------------------ helpers on the Azure side

def role_rules(offering: str, feature: str | None) -> dict[str, Any] | None:
    head = (feature or "").split(".", 1)[0]
    return next((r for r in rules()["roles"] if r["offering"] == offering and r["feature"] == head), None)


def azure_roles(acc: Account) -> list[dict[str, Any]]:
    """Enabled role ARNs of the native connector with their rule (audience, default name)."""
    out = []
    for row in acc.roles.itertuples(index=False):
        if row.enabled is False or pd.isna(row.role_arn):
            continue
        out.append({"offering": row.offering_type, "feature": row.feature, "arn": row.role_arn,
                    "name": row.role_name, "rule": role_rules(row.offering_type, row.feature)})
    return out


def require_native(acc: Account) -> pd.Series:
    if acc.native is None:
        raise NotApplicable("a classic connector only (no native connector)" if acc.classic else "no connector")
    return acc.native


def require_plan(acc: Account, offering: str) -> None:
    if offering not in acc.offering_types:
        raise NotApplicable(f"{offering} is not enabled on the connector")


def provider_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:oidc-provider/{rules()['oidc']['provider_path']}"


def aws_roles(acc: Account) -> dict[str, dict[str, Any]]:
    """IAM roles of the account (`aws_roles` rows) by lower-case name."""
    roles = records(require_call(acc.inventory, "iam_ListRoles").aws_roles)
    return {str(r["role_name"] or "").lower(): r for r in roles}

def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]

def as_object(value: Any) -> dict[str, Any]:
    """A policy document's object, or {} for anything else (a policy is JSON written by people: any shape occurs)."""
    return value if isinstance(value, dict) else {}
