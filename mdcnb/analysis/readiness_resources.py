"""AWS readiness checks of the protected resources: SSM and Arc for Defender for Servers, SQL servers, EKS
clusters, resources outside the connector's regions, CloudFormation template buckets without TLS."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pandas as pd

from mdcnb.analysis.readiness_base import (
    EXISTING_STATES,
    FAIL,
    PASS,
    Account,
    CouldNotCheck,
    Instance,
    NotApplicable,
    as_list,
    as_object,
    calls_of,
    failed_regions,
    instances_of,
    parse_time,
    records,
    require_all_regions,
    require_call,
    require_native,
    require_plan,
    rules,
    running_instances,
)

# ------------------------------------------------------------------ servers and databases

def _servers_scope(acc: Account) -> list[Instance]:
    require_native(acc)
    require_plan(acc, "DefenderForServersAws")
    running = running_instances(acc.inventory)
    if not running:
        raise NotApplicable("no running EC2 instances")
    return running


def _ssm_problems(acc: Account, instances: list[Instance]) -> dict[str, str]:
    failed = failed_regions(acc.inventory, "ssm_DescribeInstanceInformation")
    regions = {i.region for i in instances}
    require_all_regions([f for f in failed if f.split(":")[0] in regions], "SSM instance information")
    online = {info["instance_id"]: str(info["ping_status"]) for info in records(acc.inventory.aws_ssm_instances)}
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
    listed = records(require_call(acc.inventory, "iam_ListInstanceProfiles").aws_instance_profiles)
    profiles = {p["profile_arn"]: p for p in listed}
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
        roles = list(profile["role_names"])
        attached = set()
        for role in roles:
            policies = require_call(acc.inventory, "iam_ListAttachedRolePolicies", RoleName=role).aws_attached_policies
            attached |= {p["policy_arn"] for p in records(policies[policies["role_name"] == role])}
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
    require_native(acc)
    require_plan(acc, "DefenderForServersAws")
    instances, failed = instances_of(acc.inventory)
    require_all_regions(failed, "EC2 instances")
    existing = {i.instance_id for i in instances if i.state in EXISTING_STATES}
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
    onboarded = parse_time(acc.native["created_at"]) if pd.notna(acc.native["created_at"]) else None
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
    image = images.get(inst.image_id or "", {})  # an `aws_images` row
    text = " ".join(str(image.get(k) or "") for k in ("name", "description", "platform_details")).lower()
    return "sql_" in text or "sql server" in text


def check_sql_servers(acc: Account) -> tuple[str, str]:
    require_native(acc)
    require_plan(acc, "DefenderForDatabasesAws")
    running = running_instances(acc.inventory)
    calls_of(acc.inventory, "ec2_DescribeImages")  # not collected: could not check; a failed region: no image
    images = {img["image_id"]: img for img in records(acc.inventory.aws_images)}
    sql = [i for i in running if _is_sql_server(i, images)]
    require_all_regions(failed_regions(acc.inventory, "rds_DescribeDBInstances"), "RDS instances")
    custom = [db["db_instance_id"] for db in records(acc.inventory.aws_db_instances)
              if str(db["engine"] or "").startswith("custom-sqlserver")]
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
    require_all_regions(failed_regions(acc.inventory, "eks_ListClusters"), "EKS clusters")
    out: dict[str, list[str]] = {}
    for cluster in records(acc.inventory.aws_eks_clusters):
        out.setdefault(cluster["region"] or "", []).append(cluster["name"])
    return out


def check_eks_in_regions(acc: Account) -> tuple[str, str]:
    require_native(acc)
    require_plan(acc, "DefenderForContainersAws")
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
    native = require_native(acc)
    scanned = _connector_regions(acc)
    counts: dict[str, int] = {}
    instances, failed = instances_of(acc.inventory)
    for inst in instances:
        if inst.state in EXISTING_STATES:
            counts[inst.region] = counts.get(inst.region, 0) + 1
    for region, names in _eks(acc).items():
        counts[region] = counts.get(region, 0) + len(names)
    rds_failed = failed_regions(acc.inventory, "rds_DescribeDBInstances")
    for db in records(acc.inventory.aws_db_instances):
        counts[db["region"] or ""] = counts.get(db["region"] or "", 0) + 1
    outside = {r: n for r, n in counts.items() if n and scanned and r.lower() not in scanned}
    if outside:
        return FAIL, "resources in regions the connector leaves out: " + \
            ", ".join(f"{r} ({n})" for r, n in sorted(outside.items()))
    require_all_regions(failed + rds_failed, "resources")
    if not scanned:
        return PASS, f"the connector {native['name']} scans all regions"
    return PASS, f"every region with resources ({', '.join(sorted(r for r, n in counts.items() if n)) or 'none'}) " \
        "is in the connector's list"


def secure_transport_denied(policy: dict[str, Any], bucket: str) -> bool:
    """True when the policy denies non-TLS requests on the bucket and its objects (the guide's policy)."""
    needed = {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}
    covered: set[str] = set()
    for statement in as_list(policy.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
            continue
        principal = statement.get("Principal")
        everyone = principal == "*" or (isinstance(principal, dict) and "*" in as_list(principal.get("AWS")))
        all_actions = bool({str(a).lower() for a in as_list(statement.get("Action"))} & {"s3:*", "*"})
        condition = as_object(as_object(statement.get("Condition")).get("Bool"))
        secure = [str(x).lower() for k, v in condition.items() if k.lower() == "aws:securetransport"
                  for x in as_list(v)]
        if not (everyone and all_actions and secure == ["false"]):
            continue
        resources = {str(r) for r in as_list(statement.get("Resource"))}
        covered |= needed if resources & {"*", "arn:aws:s3:::*"} else resources & needed
    return covered == needed


def check_bucket_tls(acc: Account) -> tuple[str, str]:
    if acc.native is None and not acc.classic:
        raise NotApplicable("no connector for this account")
    prefix = rules()["template_bucket_prefix"]
    listed = records(require_call(acc.inventory, "s3_ListBuckets").aws_buckets)
    buckets = [b["name"] for b in listed if str(b["name"] or "").startswith(prefix)]
    policies = {b["name"]: b["policy"] for b in listed}
    if not buckets:
        raise NotApplicable(f"no {prefix}* bucket (the template was not uploaded through the CloudFormation console)")
    insecure, unknown = [], []
    for name in buckets:
        try:
            require_call(acc.inventory, "s3_GetBucketPolicy", Bucket=name)
        except CouldNotCheck as exc:
            if "NoSuchBucketPolicy" in str(exc):
                insecure.append(f"{name} (no bucket policy)")
            else:
                unknown.append(f"{name}: {exc}")
            continue
        policy = policies[name]  # null: the policy text is not a JSON object
        if policy is None:
            unknown.append(f"{name}: policy is not a JSON object")
            continue
        if not secure_transport_denied(policy, name):
            insecure.append(f"{name} (policy does not deny aws:SecureTransport=false on the bucket and its objects)")
    if insecure:
        return FAIL, "; ".join(insecure)
    if unknown:
        raise CouldNotCheck("; ".join(unknown))
    return PASS, f"{', '.join(buckets)} deny non-TLS requests"
