"""AWS onboarding readiness: every prerequisite and pitfall of MDC's AWS connection guide, checked from the data.

`audit(...)` takes the Azure side as tables (connectors, offerings, Azure Arc machines) and the AWS side as raw
boto3 responses per account (`sources.aws_dataset.AccountInventory`) and returns one row per (account, check) in the
`aws_audit` contract of `mdcnb.core.schema`: status `pass`, `fail`, `not applicable` or `could not check`, the evidence
behind it, and the check's remediation. Titles, guide sections, remediation texts, role audiences and thresholds
are data in `aws_audit_checks.json` beside this module. No I/O here: the live collection is
`mdcnb.sources.aws_inventory`, the dataset reading `mdcnb.sources.aws_dataset`.
"""

from __future__ import annotations

import contextlib
import json
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import pandas as pd

from mdcnb.core import schema
from mdcnb.core.package_data import read_json
from mdcnb.sources.aws_dataset import AccountInventory, Call

PASS, FAIL, NOT_APPLICABLE, COULD_NOT_CHECK = "pass", "fail", "not applicable", "could not check"
STATUSES = (PASS, FAIL, NOT_APPLICABLE, COULD_NOT_CHECK)
_EXISTING_STATES = {"pending", "running", "stopping", "stopped"}


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
    inventory: AccountInventory | None
    arc: pd.DataFrame  # Azure Arc machines tagged with this account
    as_of: datetime
    org_connector: pd.Series | None = None  # the management-account connector this account belongs to
    org_inventory: AccountInventory | None = None
    all_native_ids: frozenset[str] = field(default_factory=frozenset)

    @property
    def offering_types(self) -> set[str]:
        return set(self.native["offering_types"]) if self.native is not None else set()

    @property
    def is_org_connector(self) -> bool:
        return self.native is not None and _is(self.native["membership"], "Organization")


def _is(value: Any, expected: str) -> bool:
    """`value == expected` for a nullable table cell (null is never equal)."""
    return bool(pd.notna(value) and value == expected)


# ------------------------------------------------------------------ reading recorded calls

def _calls(inv: AccountInventory | None, key: str) -> list[Call]:
    if inv is None:
        raise CouldNotCheck("no AWS inventory for this account (collect it with `mdcnb aws audit --profile ...`)")
    if key not in inv.calls:
        raise CouldNotCheck(f"{key} was not collected")
    return inv.calls[key]


def _one(inv: AccountInventory | None, key: str, **params: Any) -> dict[str, Any]:
    """The response of a global call (the one whose params include `params`), or CouldNotCheck with its error."""
    for call in _calls(inv, key):
        if all(call.params.get(k) == v for k, v in params.items()):
            if call.error is not None:
                raise CouldNotCheck(f"{key}: {call.error.get('code')}: {call.error.get('message')}")
            return call.response or {}
    raise CouldNotCheck(f"{key} {params} was not collected")


def _regional(inv: AccountInventory | None, key: str) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """(region, response) for every successful regional call, and `region: error` for the failed ones."""
    ok, failed = [], []
    for call in _calls(inv, key):
        if call.error is not None:
            failed.append(f"{call.region}: {call.error.get('code')}")
        else:
            ok.append((call.region or "", call.response or {}))
    return ok, failed


def _partial(failed: list[str], what: str) -> None:
    if failed:
        raise CouldNotCheck(f"{what} could not be read in {', '.join(failed)}")


@dataclass(frozen=True)
class Instance:
    instance_id: str
    region: str
    state: str
    launched: datetime | None
    profile_arn: str | None
    image_id: str | None
    platform_details: str | None


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _instances(inv: AccountInventory | None) -> tuple[list[Instance], list[str]]:
    pages, failed = _regional(inv, "ec2_DescribeInstances")
    out = []
    for region, page in pages:
        for reservation in page.get("Reservations") or []:
            for item in reservation.get("Instances") or []:
                out.append(Instance(
                    instance_id=str(item.get("InstanceId")),
                    region=region or str((item.get("Placement") or {}).get("AvailabilityZone", ""))[:-1],
                    state=str((item.get("State") or {}).get("Name", "")).lower(),
                    launched=_parse_time(item.get("LaunchTime")),
                    profile_arn=(item.get("IamInstanceProfile") or {}).get("Arn"),
                    image_id=item.get("ImageId"),
                    platform_details=item.get("PlatformDetails"),
                ))
    return out, failed


def _running(inv: AccountInventory | None) -> list[Instance]:
    instances, failed = _instances(inv)
    _partial(failed, "EC2 instances")
    return [i for i in instances if i.state == "running"]


def _ids(items: Iterable[Instance], limit: int = 8) -> str:
    ids = sorted(i.instance_id for i in items)
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return ", ".join(ids[:limit]) + more


def _names(values: Iterable[str], limit: int = 8) -> str:
    values = sorted(set(values))
    more = f" and {len(values) - limit} more" if len(values) > limit else ""
    return ", ".join(values[:limit]) + more


# ------------------------------------------------------------------ helpers on the Azure side

def _role_rules(offering: str, feature: str | None) -> dict[str, Any] | None:
    head = (feature or "").split(".", 1)[0]
    return next((r for r in rules()["roles"] if r["offering"] == offering and r["feature"] == head), None)


def _azure_roles(acc: Account) -> list[dict[str, Any]]:
    """Enabled role ARNs of the native connector with their rule (audience, default name)."""
    out = []
    for row in acc.roles.itertuples(index=False):
        if row.enabled is False or pd.isna(row.role_arn):
            continue
        out.append({"offering": row.offering_type, "feature": row.feature, "arn": row.role_arn,
                    "name": row.role_name, "rule": _role_rules(row.offering_type, row.feature)})
    return out


def _require_native(acc: Account) -> pd.Series:
    if acc.native is None:
        raise NotApplicable("a classic connector only (no native connector)" if acc.classic else "no connector")
    return acc.native


def _require_plan(acc: Account, offering: str) -> None:
    if offering not in acc.offering_types:
        raise NotApplicable(f"{offering} is not enabled on the connector")


def _provider_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:oidc-provider/{rules()['oidc']['provider_path']}"


def _aws_roles(acc: Account) -> dict[str, dict[str, Any]]:
    """IAM roles of the account by lower-case name."""
    roles = _one(acc.inventory, "iam_ListRoles").get("Roles") or []
    return {str(r.get("RoleName", "")).lower(): r for r in roles}


# ------------------------------------------------------------------ identity

def check_oidc_provider(acc: Account) -> tuple[str, str]:
    _require_native(acc)
    expected = _provider_arn(acc.account_id)
    listed = [p.get("Arn") for p in _one(acc.inventory, "iam_ListOpenIDConnectProviders")
              .get("OpenIDConnectProviderList") or []]
    if expected not in listed:
        found = _names(a for a in listed if a) or "none"
        return FAIL, f"no OIDC provider {rules()['oidc']['provider_path']} in the account (providers: {found})"
    provider = _one(acc.inventory, "iam_GetOpenIDConnectProvider", OpenIDConnectProviderArn=expected)
    audiences = set(provider.get("ClientIDList") or [])
    needed = {r["rule"]["audience"]: r["offering"] for r in _azure_roles(acc) if r["rule"] and r["rule"]["audience"]}
    missing = sorted(a for a in needed if a not in audiences)
    if missing:
        return FAIL, f"provider {expected} lacks audiences " + ", ".join(f"{a} ({needed[a]})" for a in missing)
    return PASS, f"provider {expected} lists the {len(needed)} audience(s) the enabled offerings use"


def _named_roles(acc: Account) -> list[dict[str, Any]]:
    """The native connector's enabled roles (`_azure_roles`); not applicable when it names none."""
    _require_native(acc)
    roles = _azure_roles(acc)
    if not roles:
        raise NotApplicable("the connector names no AWS role")
    return roles


def check_roles_exist(acc: Account) -> tuple[str, str]:
    wanted = _named_roles(acc)
    aws = _aws_roles(acc)
    missing = [r for r in wanted if str(r["name"]).lower() not in aws]
    if missing:
        return FAIL, "missing roles: " + "; ".join(f"{r['name']} ({r['offering']}.{r['feature']})" for r in missing)
    return PASS, f"all {len({r['name'] for r in wanted})} role(s) exist: {_names(r['name'] for r in wanted)}"


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _object(value: Any) -> dict[str, Any]:
    """A policy document's object, or {} for anything else (a policy is JSON written by people: any shape occurs)."""
    return value if isinstance(value, dict) else {}


def _trust_document(role: dict[str, Any]) -> dict[str, Any]:
    doc = role.get("AssumeRolePolicyDocument")
    if isinstance(doc, str):
        try:
            doc = json.loads(urllib.parse.unquote(doc))
        except json.JSONDecodeError:
            return {}
    return doc if isinstance(doc, dict) else {}


def trust_problem(document: dict[str, Any], provider_arn: str, audience: str) -> str | None:
    """Why a trust policy does not let MDC assume the role through `provider_arn` with `audience` (None if it does)."""
    aud_key = f"{rules()['oidc']['provider_path']}:aud".lower()
    federates = False
    for statement in _as_list(document.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        actions = [str(a).lower() for a in _as_list(statement.get("Action"))]
        principal = statement.get("Principal") if isinstance(statement.get("Principal"), dict) else {}
        if "sts:assumerolewithwebidentity" not in actions or provider_arn not in _as_list(principal.get("Federated")):
            continue
        federates = True
        for operator, conditions in _object(statement.get("Condition")).items():
            if not str(operator).startswith("StringEquals") or not isinstance(conditions, dict):
                continue
            for key, value in conditions.items():
                if key.lower() == aud_key and audience in _as_list(value):
                    return None
    if not federates:
        return "does not allow sts:AssumeRoleWithWebIdentity for the MDC OIDC provider"
    return f"has no StringEquals condition {rules()['oidc']['provider_path']}:aud = {audience}"


def check_trust_policy(acc: Account) -> tuple[str, str]:
    _require_native(acc)
    wanted = [r for r in _azure_roles(acc) if r["rule"] and r["rule"]["audience"]]
    if not wanted:
        raise NotApplicable("no enabled role that MDC assumes through the OIDC provider")
    aws = _aws_roles(acc)
    provider = _provider_arn(acc.account_id)
    problems, checked, absent = [], set(), set()
    for r in wanted:
        role = aws.get(str(r["name"]).lower())
        if role is None:
            absent.add(r["name"])
            continue
        checked.add(r["name"])
        problem = trust_problem(_trust_document(role), provider, r["rule"]["audience"])
        if problem:
            problems.append(f"{r['name']} {problem}")
    note = f" ({len(absent)} missing role(s) reported by identity.roles_exist)" if absent else ""
    if problems:
        return FAIL, "; ".join(sorted(set(problems))) + note
    if not checked:
        raise CouldNotCheck("none of the roles exists" + note)
    return PASS, f"{len(checked)} role(s) trust {provider} with the right audience{note}"


def check_role_names_agree(acc: Account) -> tuple[str, str]:
    wanted = _named_roles(acc)
    problems = [f"{r['arn']} names account {r['arn'].split(':')[4]}" for r in wanted
                if len(r["arn"].split(":")) > 5 and r["arn"].split(":")[4] != acc.account_id]
    try:
        aws = _aws_roles(acc)
    except CouldNotCheck:
        if problems:
            return FAIL, "; ".join(problems)
        raise
    custom = []
    for r in wanted:
        exact = {role.get("RoleName") for role in aws.values()}
        match = aws.get(str(r["name"]).lower())
        default = (r["rule"] or {}).get("default_role")
        if match is not None and match.get("RoleName") != r["name"]:
            problems.append(f"Azure names {r['name']}, IAM spells it {match.get('RoleName')}")
        elif match is None and default and default in exact:
            problems.append(f"Azure names {r['name']} for {r['offering']}, the account has the default {default}")
        elif match is not None and default and r["name"] != default:
            custom.append(f"{r['offering']} uses {r['name']}")
    if problems:
        return FAIL, "; ".join(sorted(set(problems)))
    note = f"; custom names: {'; '.join(sorted(set(custom)))} (filter CloudTrail by these ARNs)" if custom else ""
    return PASS, f"role ARNs name account {acc.account_id} and match IAM{note}"


# ------------------------------------------------------------------ connector type and organisation

def check_classic_and_native(acc: Account) -> tuple[str, str]:
    if acc.native is None and not acc.classic:
        raise NotApplicable("no connector for this account")
    if acc.native is not None and acc.classic:
        names = ", ".join(str(c["name"]) for c in acc.classic)
        return FAIL, f"native connector {acc.native['name']} and classic connector(s) {names}: " \
            "duplicate recommendations"
    if acc.classic:
        return PASS, f"classic connector only ({acc.classic[0]['name']}); the native connector replaces it"
    return PASS, f"native connector {acc.native['name']} only"


def _org_members(inv: AccountInventory | None) -> dict[str, dict[str, Any]]:
    accounts = _one(inv, "organizations_ListAccounts").get("Accounts") or []
    return {str(a.get("Id")): a for a in accounts if str(a.get("Status", "ACTIVE")).upper() == "ACTIVE"}


def check_member_connectors(acc: Account) -> tuple[str, str]:
    org = acc.org_connector
    if acc.is_org_connector:
        raise NotApplicable("management account: reported on each member account")
    if org is None:
        raise NotApplicable("not a member of an organisation onboarded with a management-account connector")
    members = _org_members(acc.org_inventory)
    mgmt = org["hierarchy_id"]
    if acc.account_id not in members:
        if acc.native is not None:
            return FAIL, f"member connector {acc.native['name']} but the account is not an active member of " \
                f"{mgmt}'s organisation"
        raise NotApplicable(f"not an active member of {mgmt}'s organisation")
    if acc.account_id in set(org["excluded_ids"]):
        raise NotApplicable(f"excluded by the organisation connector {org['name']}")
    if acc.native is not None:
        return PASS, f"member connector {acc.native['name']}"
    joined = _parse_time(members[acc.account_id].get("JoinedTimestamp"))
    started = max(t for t in (_parse_time(org["created_at"]), joined) if t is not None) \
        if (joined or pd.notna(org["created_at"])) else None
    allowance = timedelta(hours=rules()["member_connector_allowance_hours"])
    if started is not None and acc.as_of - started < allowance:
        hours = (acc.as_of - started).total_seconds() / 3600
        raise NotApplicable(f"no member connector yet, {hours:.0f} h after onboarding (allowed: 24 h)")
    since = f" since {started:%Y-%m-%d %H:%M} UTC" if started else ""
    return FAIL, f"active member of {mgmt}'s organisation without a member connector{since}"


def check_excluded_accounts(acc: Account) -> tuple[str, str]:
    if not acc.is_org_connector:
        raise NotApplicable("not a management-account connector")
    excluded = list(acc.native["excluded_ids"])
    if not excluded:
        return PASS, "no accounts excluded"
    members = _org_members(acc.inventory)
    problems = [f"{x} is not an active member" for x in excluded if x not in members]
    problems += [f"{x} is excluded but has a member connector" for x in excluded if x in acc.all_native_ids]
    if problems:
        return FAIL, "; ".join(problems)
    return PASS, f"excluded: {_names(excluded)} (current members without connectors)"


def check_stacksets_trusted_access(acc: Account) -> tuple[str, str]:
    if not acc.is_org_connector:
        raise NotApplicable("not a management-account connector")
    principal = rules()["stacksets_service_principal"]
    access = _one(acc.inventory, "organizations_ListAWSServiceAccessForOrganization")
    enabled = [p.get("ServicePrincipal") for p in access.get("EnabledServicePrincipals") or []]
    if principal in enabled:
        return PASS, f"{principal} is enabled"
    return FAIL, f"{principal} is not among the {len(enabled)} enabled service principals"


# ------------------------------------------------------------------ servers and databases

def _servers_scope(acc: Account) -> list[Instance]:
    _require_native(acc)
    _require_plan(acc, "DefenderForServersAws")
    running = _running(acc.inventory)
    if not running:
        raise NotApplicable("no running EC2 instances")
    return running


def _ssm_problems(acc: Account, instances: list[Instance]) -> dict[str, str]:
    pages, failed = _regional(acc.inventory, "ssm_DescribeInstanceInformation")
    regions = {i.region for i in instances}
    _partial([f for f in failed if f.split(":")[0] in regions], "SSM instance information")
    online = {}
    for _, page in pages:
        for info in page.get("InstanceInformationList") or []:
            online[str(info.get("InstanceId"))] = str(info.get("PingStatus", ""))
    return {i.instance_id: f"SSM ping {online[i.instance_id]}" if i.instance_id in online else "not managed by SSM"
            for i in instances if online.get(i.instance_id) != "Online"}


def _listed(problems: dict[str, str]) -> str:
    """The first eight problems, ordered by instance id, for a finding's text."""
    return "; ".join(f"{k} {v}" for k, v in sorted(problems.items())[:8])


def _servers_check(acc: Account, find_problems: Callable[[Account, list[Instance]], dict[str, str]],
                   failing: str, passing: str) -> tuple[str, str]:
    """`find_problems` over the running instances in scope: FAIL listing them, else PASS saying all are `passing`."""
    running = _servers_scope(acc)
    problems = find_problems(acc, running)
    if problems:
        return FAIL, f"{len(problems)} of {len(running)} running instance(s){failing}: " + _listed(problems)
    return PASS, f"all {len(running)} running instance(s) {passing}"


def check_ssm_managed(acc: Account) -> tuple[str, str]:
    return _servers_check(acc, _ssm_problems, " not reporting to SSM", "report to SSM (Online)")


def _policy_problems(acc: Account, instances: list[Instance]) -> dict[str, str]:
    profiles = {p.get("Arn"): p for p in _one(acc.inventory, "iam_ListInstanceProfiles").get("InstanceProfiles") or []}
    policy = rules()["ssm_policy_arn"]
    problems = {}
    for inst in instances:
        if not inst.profile_arn:
            problems[inst.instance_id] = "no instance profile"
            continue
        profile = profiles.get(inst.profile_arn)
        if profile is None:
            problems[inst.instance_id] = f"instance profile {inst.profile_arn} not found"
            continue
        roles = [r.get("RoleName") for r in profile.get("Roles") or []]
        attached = set()
        for role in roles:
            attached |= {p.get("PolicyArn") for p in _one(acc.inventory, "iam_ListAttachedRolePolicies", RoleName=role)
                         .get("AttachedPolicies") or []}
        if policy not in attached:
            problems[inst.instance_id] = f"role {', '.join(roles) or '(none)'} lacks AmazonSSMManagedInstanceCore"
    return problems


def check_ssm_policy(acc: Account) -> tuple[str, str]:
    return _servers_check(acc, _policy_problems, "", "have AmazonSSMManagedInstanceCore through their profile")


def _tag(tags: Any, name: str) -> str | None:
    if not isinstance(tags, dict):
        return None
    return next((str(v) for k, v in tags.items() if str(k).lower() == name.lower()), None)


def _arc_problems(acc: Account, instances: list[Instance]) -> dict[str, str]:
    by_instance: dict[str, Any] = {}
    for row in acc.arc.itertuples(index=False):
        key = _tag(row.tags, "InstanceId") or row.name
        by_instance[str(key)] = row
    problems = {}
    for inst in instances:
        row = by_instance.get(inst.instance_id)
        if row is None:
            problems[inst.instance_id] = "no Azure Arc machine"
            continue
        missing = [t for t in rules()["arc_tags"] if not _tag(row.tags, t)]
        if missing:
            problems[inst.instance_id] = f"Arc machine {row.name} lacks tag(s) {', '.join(missing)}"
    return problems


def check_arc_machine(acc: Account) -> tuple[str, str]:
    return _servers_check(acc, _arc_problems, "", "have a tagged Azure Arc machine")


def check_stale_arc(acc: Account) -> tuple[str, str]:
    _require_native(acc)
    _require_plan(acc, "DefenderForServersAws")
    instances, failed = _instances(acc.inventory)
    _partial(failed, "EC2 instances")
    existing = {i.instance_id for i in instances if i.state in _EXISTING_STATES}
    limit = timedelta(days=rules()["arc_cleanup_days"])
    overdue, pending, unknown = [], [], []
    for row in acc.arc.itertuples(index=False):
        instance_id = _tag(row.tags, "InstanceId") or str(row.name)
        if instance_id in existing:
            continue
        changed = row.last_status_change
        if pd.isna(changed):
            unknown.append(f"{row.name} (instance {instance_id} gone, status {row.status})")
        elif acc.as_of - changed > limit:
            overdue.append(f"{row.name} ({row.status} since {changed:%Y-%m-%d}, instance {instance_id} gone)")
        else:
            pending.append(row.name)
    note = f"; {len(pending)} within the 7-day removal window" if pending else ""
    if overdue:
        return FAIL, f"{len(overdue)} Arc machine(s) kept more than 7 days after their instance: " + \
            "; ".join(overdue[:8]) + note
    if unknown:
        raise CouldNotCheck("Arc machine(s) of deleted instances, age unknown: " + "; ".join(unknown[:8]))
    return PASS, f"{len(acc.arc)} Arc machine(s), none outliving its instance by more than 7 days{note}"


def check_new_instances(acc: Account) -> tuple[str, str]:
    running = _servers_scope(acc)
    onboarded = _parse_time(acc.native["created_at"]) if pd.notna(acc.native["created_at"]) else None
    if onboarded is None:
        raise CouldNotCheck("the connector's creation time (systemData.createdAt) is not reported")
    new = [i for i in running if i.launched and i.launched > onboarded]
    if not new:
        return PASS, f"no running instance launched after onboarding ({onboarded:%Y-%m-%d})"
    problems = _policy_problems(acc, new)
    if problems:
        return FAIL, f"{len(problems)} of {len(new)} instance(s) launched after onboarding ({onboarded:%Y-%m-%d}) " \
            "lack what the 30-day automation would have given them: " + _listed(problems)
    return PASS, f"{len(new)} instance(s) launched after onboarding already meet the prerequisites"


def _is_sql_server(inst: Instance, images: dict[str, dict[str, Any]]) -> bool:
    if inst.platform_details and "sql server" in inst.platform_details.lower():
        return True
    image = images.get(inst.image_id or "", {})
    text = f"{image.get('Name', '')} {image.get('Description', '')} {image.get('PlatformDetails', '')}".lower()
    return "sql_" in text or "sql server" in text


def check_sql_servers(acc: Account) -> tuple[str, str]:
    _require_native(acc)
    _require_plan(acc, "DefenderForDatabasesAws")
    running = _running(acc.inventory)
    image_pages, _ = _regional(acc.inventory, "ec2_DescribeImages")
    images = {img.get("ImageId"): img for _, page in image_pages for img in page.get("Images") or []}
    sql = [i for i in running if _is_sql_server(i, images)]
    rds_pages, failed = _regional(acc.inventory, "rds_DescribeDBInstances")
    _partial(failed, "RDS instances")
    custom = [db.get("DBInstanceIdentifier") for _, page in rds_pages for db in page.get("DBInstances") or []
              if str(db.get("Engine", "")).startswith("custom-sqlserver")]
    if not sql and not custom:
        return FAIL, "the Databases plan is on but no EC2 instance runs SQL Server and no RDS Custom for SQL " \
            "Server exists"
    problems = {}
    if sql:
        problems.update(_ssm_problems(acc, sql))
        for more in (_policy_problems(acc, sql), _arc_problems(acc, sql)):
            for k, v in more.items():
                problems[k] = f"{problems[k]}, {v}" if k in problems else v
    found = f"{len(sql)} SQL Server instance(s) on EC2, {len(custom)} RDS Custom for SQL Server"
    if problems:
        return FAIL, f"{found}; missing prerequisites: " + _listed(problems)
    return PASS, f"{found}; the EC2 ones meet the Servers prerequisites"


# ------------------------------------------------------------------ containers, regions, template bucket

def _connector_regions(acc: Account) -> set[str]:
    return {str(r).lower() for r in acc.native["regions"]}


def _eks(acc: Account) -> dict[str, list[str]]:
    pages, failed = _regional(acc.inventory, "eks_ListClusters")
    _partial(failed, "EKS clusters")
    out: dict[str, list[str]] = {}
    for region, page in pages:
        if page.get("clusters"):
            out.setdefault(region, []).extend(page["clusters"])
    return out


def check_eks_in_regions(acc: Account) -> tuple[str, str]:
    _require_native(acc)
    _require_plan(acc, "DefenderForContainersAws")
    clusters = _eks(acc)
    scanned = _connector_regions(acc)
    inside = {r: c for r, c in clusters.items() if not scanned or r in scanned}
    outside = {r: c for r, c in clusters.items() if r not in inside}
    if not inside:
        where = f" (clusters only outside them: {', '.join(sorted(outside))})" if outside else ""
        return FAIL, f"the Containers plan is on but no EKS cluster is in the connector's regions{where}"
    note = f"; also outside: {', '.join(sorted(outside))}" if outside else ""
    count = sum(len(c) for c in inside.values())
    return PASS, f"{count} EKS cluster(s) in {', '.join(sorted(inside))}{note}"


def check_resources_outside(acc: Account) -> tuple[str, str]:
    native = _require_native(acc)
    scanned = _connector_regions(acc)
    counts: dict[str, int] = {}
    instances, failed = _instances(acc.inventory)
    for inst in instances:
        if inst.state in _EXISTING_STATES:
            counts[inst.region] = counts.get(inst.region, 0) + 1
    for region, names in _eks(acc).items():
        counts[region] = counts.get(region, 0) + len(names)
    rds_pages, rds_failed = _regional(acc.inventory, "rds_DescribeDBInstances")
    for region, page in rds_pages:
        counts[region] = counts.get(region, 0) + len(page.get("DBInstances") or [])
    outside = {r: n for r, n in counts.items() if n and scanned and r.lower() not in scanned}
    if outside:
        return FAIL, "resources in regions the connector leaves out: " + \
            ", ".join(f"{r} ({n})" for r, n in sorted(outside.items()))
    _partial(failed + rds_failed, "resources")
    if not scanned:
        return PASS, f"the connector {native['name']} scans all regions"
    return PASS, f"every region with resources ({', '.join(sorted(r for r, n in counts.items() if n)) or 'none'}) " \
        "is in the connector's list"


def secure_transport_denied(policy: dict[str, Any], bucket: str) -> bool:
    """True when the policy denies non-TLS requests on the bucket and its objects (the guide's policy)."""
    needed = {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}
    covered: set[str] = set()
    for statement in _as_list(policy.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
            continue
        principal = statement.get("Principal")
        everyone = principal == "*" or (isinstance(principal, dict) and "*" in _as_list(principal.get("AWS")))
        all_actions = bool({str(a).lower() for a in _as_list(statement.get("Action"))} & {"s3:*", "*"})
        condition = _object(_object(statement.get("Condition")).get("Bool"))
        secure = [str(x).lower() for k, v in condition.items() if k.lower() == "aws:securetransport"
                  for x in _as_list(v)]
        if not (everyone and all_actions and secure == ["false"]):
            continue
        resources = {str(r) for r in _as_list(statement.get("Resource"))}
        covered |= needed if resources & {"*", "arn:aws:s3:::*"} else resources & needed
    return covered == needed


def check_bucket_tls(acc: Account) -> tuple[str, str]:
    if acc.native is None and not acc.classic:
        raise NotApplicable("no connector for this account")
    prefix = rules()["template_bucket_prefix"]
    buckets = [b.get("Name") for b in _one(acc.inventory, "s3_ListBuckets").get("Buckets") or []
               if str(b.get("Name", "")).startswith(prefix)]
    if not buckets:
        raise NotApplicable(f"no {prefix}* bucket (the template was not uploaded through the CloudFormation console)")
    insecure, unknown = [], []
    for name in buckets:
        try:
            response = _one(acc.inventory, "s3_GetBucketPolicy", Bucket=name)
        except CouldNotCheck as exc:
            if "NoSuchBucketPolicy" in str(exc):
                insecure.append(f"{name} (no bucket policy)")
            else:
                unknown.append(f"{name}: {exc}")
            continue
        try:
            policy = json.loads(response.get("Policy") or "{}")
        except json.JSONDecodeError:
            policy = None
        if not isinstance(policy, dict):
            unknown.append(f"{name}: policy is not a JSON object")
            continue
        if not secure_transport_denied(policy, name):
            insecure.append(f"{name} (policy does not deny aws:SecureTransport=false on the bucket and its objects)")
    if insecure:
        return FAIL, "; ".join(insecure)
    if unknown:
        raise CouldNotCheck("; ".join(unknown))
    return PASS, f"{', '.join(buckets)} deny non-TLS requests"


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


def _account_ids(aws: pd.DataFrame, inventories: dict[str, AccountInventory]) -> list[str]:
    ids = set(aws["hierarchy_id"].dropna()) | set(inventories)
    for org in aws[(aws["membership"] == "Organization").fillna(False)].itertuples(index=False):
        with contextlib.suppress(CouldNotCheck):
            ids |= set(_org_members(inventories.get(org.hierarchy_id)))
    return sorted(str(i) for i in ids)


def _as_of(inventories: dict[str, AccountInventory], as_of: datetime | None) -> datetime:
    if as_of is not None:
        return as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    times = [i.collected_at for i in inventories.values() if i.collected_at]
    return max(times) if times else datetime.now(UTC)


def build_accounts(connectors: pd.DataFrame, offerings: pd.DataFrame, arc_machines: pd.DataFrame,
                   inventories: dict[str, AccountInventory], as_of: datetime | None = None) -> list[Account]:
    """Join both sides per AWS account: connectors (native, classic, organisation), roles, inventory, Arc machines."""
    aws = connectors[(connectors["environment"] == "AWS").fillna(False)]
    native = aws[(aws["kind"] == "native").fillna(False)]
    classic = aws[(aws["kind"] == "classic").fillna(False)]
    orgs = native[(native["membership"] == "Organization").fillna(False)]
    when = _as_of(inventories, as_of)
    accounts = []
    for account_id in _account_ids(aws, inventories):
        own = native[native["hierarchy_id"] == account_id]
        row = own.iloc[0] if len(own) else None
        org = None
        if row is not None and _is(row["membership"], "Member"):
            parent = orgs[orgs["hierarchy_id"] == row["parent_hierarchy_id"]]
            org = parent.iloc[0] if len(parent) else None
        elif row is None or not _is(row["membership"], "Organization"):
            for candidate in orgs.itertuples(index=False):
                try:
                    members = _org_members(inventories.get(candidate.hierarchy_id))
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
          inventories: dict[str, AccountInventory], as_of: datetime | None = None,
          accounts: Iterable[str] | None = None) -> pd.DataFrame:
    """Every check for every AWS account known to either side, as the `aws_audit` table."""
    wanted = {str(a) for a in accounts} if accounts else None
    definitions = rules()["checks"]
    rows = []
    for account in build_accounts(connectors, offerings, arc_machines, inventories, as_of):
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
            return _org_members(account.org_inventory).get(account.account_id, {}).get("Name")
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
