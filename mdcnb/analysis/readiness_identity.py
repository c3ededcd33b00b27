"""AWS readiness checks of identity and organisation: OIDC provider, roles and their trust policies, connector
kinds, organisation members, exclusions, StackSets trusted access."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd

from mdcnb.analysis.readiness_base import (
    FAIL,
    PASS,
    Account,
    CouldNotCheck,
    NotApplicable,
    as_list,
    as_object,
    aws_roles,
    azure_roles,
    listed_names,
    parse_time,
    provider_arn,
    records,
    require_call,
    require_native,
    rules,
)
from mdcnb.tables.aws_inventory import AwsInventory

# ------------------------------------------------------------------ identity

def check_oidc_provider(acc: Account) -> tuple[str, str]:
    require_native(acc)
    expected = provider_arn(acc.account_id)
    providers = records(require_call(acc.inventory, "iam_ListOpenIDConnectProviders").aws_oidc_providers)
    listed = [p["arn"] for p in providers]
    if expected not in listed:
        found = listed_names(a for a in listed if a) or "none"
        return FAIL, f"no OIDC provider {rules()['oidc']['provider_path']} in the account (providers: {found})"
    require_call(acc.inventory, "iam_GetOpenIDConnectProvider", OpenIDConnectProviderArn=expected)
    audiences = set(next(p["audiences"] for p in providers if p["arn"] == expected))
    needed = {r["rule"]["audience"]: r["offering"] for r in azure_roles(acc) if r["rule"] and r["rule"]["audience"]}
    missing = sorted(a for a in needed if a not in audiences)
    if missing:
        return FAIL, f"provider {expected} lacks audiences " + ", ".join(f"{a} ({needed[a]})" for a in missing)
    return PASS, f"provider {expected} lists the {len(needed)} audience(s) the enabled offerings use"


def _named_roles(acc: Account) -> list[dict[str, Any]]:
    """The native connector's enabled roles (`azure_roles`); not applicable when it names none."""
    require_native(acc)
    roles = azure_roles(acc)
    if not roles:
        raise NotApplicable("the connector names no AWS role")
    return roles


def check_roles_exist(acc: Account) -> tuple[str, str]:
    wanted = _named_roles(acc)
    aws = aws_roles(acc)
    missing = [r for r in wanted if str(r["name"]).lower() not in aws]
    if missing:
        return FAIL, "missing roles: " + "; ".join(f"{r['name']} ({r['offering']}.{r['feature']})" for r in missing)
    return PASS, f"all {len({r['name'] for r in wanted})} role(s) exist: {listed_names(r['name'] for r in wanted)}"



def trust_problem(document: dict[str, Any], provider_arn: str, audience: str) -> str | None:
    """Why a trust policy does not let MDC assume the role through `provider_arn` with `audience` (None if it does)."""
    aud_key = f"{rules()['oidc']['provider_path']}:aud".lower()
    federates = False
    for statement in as_list(document.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        actions = [str(a).lower() for a in as_list(statement.get("Action"))]
        principal = statement.get("Principal") if isinstance(statement.get("Principal"), dict) else {}
        if "sts:assumerolewithwebidentity" not in actions or provider_arn not in as_list(principal.get("Federated")):
            continue
        federates = True
        for operator, conditions in as_object(statement.get("Condition")).items():
            if not str(operator).startswith("StringEquals") or not isinstance(conditions, dict):
                continue
            for key, value in conditions.items():
                if key.lower() == aud_key and audience in as_list(value):
                    return None
    if not federates:
        return "does not allow sts:AssumeRoleWithWebIdentity for the MDC OIDC provider"
    return f"has no StringEquals condition {rules()['oidc']['provider_path']}:aud = {audience}"


def check_trust_policy(acc: Account) -> tuple[str, str]:
    require_native(acc)
    wanted = [r for r in azure_roles(acc) if r["rule"] and r["rule"]["audience"]]
    if not wanted:
        raise NotApplicable("no enabled role that MDC assumes through the OIDC provider")
    aws = aws_roles(acc)
    provider = provider_arn(acc.account_id)
    problems, checked, absent = [], set(), set()
    for r in wanted:
        role = aws.get(str(r["name"]).lower())
        if role is None:
            absent.add(r["name"])
            continue
        checked.add(r["name"])
        problem = trust_problem(role["trust_policy"] or {}, provider, r["rule"]["audience"])
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
        aws = aws_roles(acc)
    except CouldNotCheck:
        if problems:
            return FAIL, "; ".join(problems)
        raise
    custom = []
    for r in wanted:
        exact = {role["role_name"] for role in aws.values()}
        match = aws.get(str(r["name"]).lower())
        default = (r["rule"] or {}).get("default_role")
        if match is not None and match["role_name"] != r["name"]:
            problems.append(f"Azure names {r['name']}, IAM spells it {match['role_name']}")
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


def org_members(inv: AwsInventory | None) -> dict[str, dict[str, Any]]:
    """The active accounts of the organisation its management account lists (`aws_org_accounts` rows) by id."""
    accounts = records(require_call(inv, "organizations_ListAccounts").aws_org_accounts)
    return {str(a["member_id"]): a for a in accounts if str(a["status"]).upper() == "ACTIVE"}


def check_member_connectors(acc: Account) -> tuple[str, str]:
    org = acc.org_connector
    if acc.is_org_connector:
        raise NotApplicable("management account: reported on each member account")
    if org is None:
        raise NotApplicable("not a member of an organisation onboarded with a management-account connector")
    members = org_members(acc.org_inventory)
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
    joined = parse_time(members[acc.account_id]["joined_at"])
    started = max(t for t in (parse_time(org["created_at"]), joined) if t is not None) \
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
    members = org_members(acc.inventory)
    problems = [f"{x} is not an active member" for x in excluded if x not in members]
    problems += [f"{x} is excluded but has a member connector" for x in excluded if x in acc.all_native_ids]
    if problems:
        return FAIL, "; ".join(problems)
    return PASS, f"excluded: {listed_names(excluded)} (current members without connectors)"


def check_stacksets_trusted_access(acc: Account) -> tuple[str, str]:
    if not acc.is_org_connector:
        raise NotApplicable("not a management-account connector")
    principal = rules()["stacksets_service_principal"]
    access = require_call(acc.inventory, "organizations_ListAWSServiceAccessForOrganization").aws_service_access
    enabled = [p["service_principal"] for p in records(access)]
    if principal in enabled:
        return PASS, f"{principal} is enabled"
    return FAIL, f"{principal} is not among the {len(enabled)} enabled service principals"
