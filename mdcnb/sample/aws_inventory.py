"""Sample part: the AWS-side inventory of the sample tenant's accounts, as the live collector would record it.

Writes `aws/<account-id>/<service>_<Operation>.json` (layout in `mdcnb.sources.aws_dataset`) for every AWS account
that has a native connector, in every weekly snapshot, from the tenant model in the `SampleContext` (connectors with
their role ARNs and regions, the organisation's accounts, EC2 instances with state and Arc machine, EKS, RDS, S3). Most
of each estate is set up as MDC's guide asks; the deliberate exceptions, so the audit and the coverage page show
real findings:

- management account: organisation trusted access for StackSets enabled; the excluded account is SUSPENDED
  (a stale exclusion); one member joined after onboarding and has no connector; its CloudFormation template
  bucket (`cf-templates-*`) has no policy (the guide's non-TLS misconfiguration).
- every EC2 instance without an Arc machine misses a prerequisite: no SSM agent reporting, or an instance
  profile without AmazonSSMManagedInstanceCore, or none; one runs SQL Server.
- contoso-prod-workloads: an instance started in a region its connector leaves out (17 days before as-of).
- contoso-prod-data: the OIDC provider lacks the Databases audience; an RDS Custom for SQL Server instance.
- contoso-dev-workloads: the ArcAutoProvisioning role's trust policy lost its audience condition two weeks ago.
- fabrikam-partner-sandbox: the Containers role was never created.
"""

from __future__ import annotations

import json
import zlib
from datetime import timedelta
from typing import Any

import pandas as pd

from mdcnb.analysis.readiness import rules
from mdcnb.normalize.common import fold
from mdcnb.normalize.inventory import connector as normalise_connector
from mdcnb.sample.context import CloudResource, Connector, SampleContext, iso
from mdcnb.sample.records import connector_record
from mdcnb.sources.aws_dataset import AccountInventory, Call, write_inventory

QUICK_SETUP_PROFILE = "AmazonSSMRoleForInstancesQuickSetup"
APP_PROFILE = "app-server"
LINUX_AMI = ("ami-0c02fb55956c7d316", "amzn2-ami-hvm-2.0.20240131.0-x86_64-gp2", "Linux/UNIX")
SQL_AMI = ("ami-0a1b2c3d4e5f60718", "Windows_Server-2022-English-Full-SQL_2022_Standard-2024.10.09",
           "Windows with SQL Server Standard")


def aws_inventory(ctx: SampleContext) -> None:
    """Write the inventory of every AWS account with a native connector, for every weekly snapshot (the
    readiness counts over time come from them)."""
    for week in range(ctx.weeks):
        for connector in ctx.native_connectors("AWS"):
            if connector.active(week):
                write_inventory(ctx.week_dir(week), _account(ctx, connector, week))


def _roles(ctx: SampleContext, connector: Connector) -> pd.DataFrame:
    """The connector's offerings rows (role ARNs per feature), through the same normaliser the tables use."""
    return pd.DataFrame(normalise_connector(fold(connector_record(ctx, connector)))["offerings"])


def _trust(account: str, audience: str | None) -> dict[str, Any]:
    provider = rules()["oidc"]["provider_path"]
    statement: dict[str, Any] = {"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
                                 "Principal": {"Federated": f"arn:aws:iam::{account}:oidc-provider/{provider}"}}
    if audience:
        statement["Condition"] = {"StringEquals": {f"{provider}:aud": audience}}
    return {"Version": "2012-10-17", "Statement": [statement]}


def _service_trust(service: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": service}}]}


def _account(ctx: SampleContext, connector: Connector, week: int) -> AccountInventory:
    account = connector.hierarchy_id
    name = connector.account_name
    inv = AccountInventory(account, collected_at=ctx.week_time(week), source="sample")
    inv.add("sts_GetCallerIdentity", Call(None, {}, {"Account": account, "Arn": f"arn:aws:iam::{account}:role/"
                                                     "MdcnbReadOnly/audit", "UserId": "AROASAMPLE:audit"}))
    _identity(inv, _roles(ctx, connector), name, trust_edited=week >= ctx.latest_week - 2)
    instances = [r for r in ctx.ec2_instances if r.hierarchy_id == account and r.alive(week)]
    stray_launch = ctx.as_of - timedelta(days=17)  # an instance started outside the connector's regions
    extra_region = "ap-northeast-1" if name == "contoso-prod-workloads" and ctx.week_time(week) >= stray_launch \
        else None
    regions = sorted({*connector.regions, *(r.region for r in ctx.cloud_resources if r.hierarchy_id == account
                                             and r.region != "global"), *([extra_region] if extra_region else [])})
    inv.regions = regions
    described = [_instance(ctx, connector, i, n) for n, i in enumerate(instances)]
    if extra_region:
        described.append({"InstanceId": f"i-0{ctx.rng('stray', account).getrandbits(64):016x}",
                          "State": {"Name": "running"}, "Placement": {"AvailabilityZone": f"{extra_region}a"},
                          "LaunchTime": iso(stray_launch), "ImageId": LINUX_AMI[0],
                          "PlatformDetails": LINUX_AMI[2], "InstanceType": "t3.large"})
    _instance_profiles(inv, described)
    for region in regions:
        here = [d for d in described if d["Placement"]["AvailabilityZone"][:-1] == region]
        inv.add("ec2_DescribeInstances", Call(region, {}, {"Reservations": [
            {"ReservationId": f"r-{d['InstanceId'][2:]}", "OwnerId": account, "Instances": [d]} for d in here]}))
        if here:
            images = sorted({d["ImageId"] for d in here})
            inv.add("ec2_DescribeImages", Call(region, {"ImageIds": images}, {"Images": [
                {"ImageId": ami, "Name": image_name, "PlatformDetails": platform, "OwnerId": "801119661308"}
                for ami, image_name, platform in (LINUX_AMI, SQL_AMI) if ami in images]}))
        inv.add("ssm_DescribeInstanceInformation", Call(region, {}, {"InstanceInformationList": [
            {"InstanceId": d["InstanceId"], "PingStatus": d.pop("_ssm"), "PlatformType": "Linux",
             "ResourceType": "EC2Instance"} for d in here if d.get("_ssm")]}))
        for d in here:
            d.pop("_ssm", None)
        inv.add("eks_ListClusters", Call(region, {}, {"clusters": sorted(
            r.name for r in ctx.cloud_resources if r.hierarchy_id == account and r.kind == "eks"
            and r.region == region)}))
        inv.add("rds_DescribeDBInstances", Call(region, {}, {"DBInstances": _databases(ctx, connector, region)}))
    _buckets(ctx, inv, connector)
    if connector.membership == "Organization":
        _organization(ctx, inv, week)
    return inv


def _identity(inv: AccountInventory, roles: pd.DataFrame, name: str, trust_edited: bool) -> None:
    account = inv.account_id
    provider = f"arn:aws:iam::{account}:oidc-provider/{rules()['oidc']['provider_path']}"
    audiences = {r["audience"] for r in rules()["roles"] if r["audience"]}
    if name == "contoso-prod-data":
        audiences.discard("api://AzureSecurityCenter.MultiCloud.DefenderForDatabases")
    inv.add("iam_ListOpenIDConnectProviders", Call(None, {}, {"OpenIDConnectProviderList": [{"Arn": provider}]}))
    inv.add("iam_GetOpenIDConnectProvider", Call(None, {"OpenIDConnectProviderArn": provider}, {
        "Url": rules()["oidc"]["provider_path"], "ClientIDList": sorted(audiences),
        "ThumbprintList": ["626d44e704d1ceabe3bf0d53397464ac8080142c"], "CreateDate": "2026-02-03T10:20:00Z"}))
    listed: dict[str, dict[str, Any]] = {}
    for row in roles.dropna(subset=["role_arn"]).itertuples(index=False):
        rule = next((r for r in rules()["roles"] if r["offering"] == row.offering_type
                     and r["feature"] == str(row.feature).split(".")[0]), None)
        if name == "fabrikam-partner-sandbox" and row.role_name == "DefenderForCloud-Containers-K8s":
            continue  # never created: the stack was deployed before the Containers plan was switched on
        audience = rule["audience"] if rule else None
        if trust_edited and name == "contoso-dev-workloads" and row.role_name == "DefenderForCloud-ArcAutoProvisioning":
            audience = None  # the audience condition was removed by hand two weeks ago
        document = _trust(account, audience) if audience or (rule and rule["audience"]) else \
            _service_trust("ec2.amazonaws.com")
        listed[row.role_name] = {"RoleName": row.role_name, "Path": "/", "Arn": row.role_arn,
                                 "RoleId": f"AROA{zlib.crc32(row.role_name.encode()):012d}",
                                 "CreateDate": "2026-02-03T10:20:00Z", "AssumeRolePolicyDocument": document}
    for extra in ("OrganizationAccountAccessRole", f"{QUICK_SETUP_PROFILE}-role", f"{APP_PROFILE}-role"):
        listed[extra] = {"RoleName": extra, "Path": "/", "Arn": f"arn:aws:iam::{account}:role/{extra}",
                         "CreateDate": "2024-06-01T00:00:00Z",
                         "AssumeRolePolicyDocument": _service_trust("ec2.amazonaws.com")}
    inv.add("iam_ListRoles", Call(None, {}, {"Roles": [listed[k] for k in sorted(listed)]}))


def _instance(ctx: SampleContext, connector: Connector, ec2: CloudResource, index: int) -> dict[str, Any]:
    """One DescribeInstances item; instances without an Arc machine miss one prerequisite (`_ssm`: ping status)."""
    rng = ctx.rng("ec2-inventory", ec2.resource_id)
    created = pd.Timestamp(connector.created_at).floor("us").to_pydatetime()
    launched = created - timedelta(days=rng.randint(30, 400)) if ec2.first_week == 0 else \
        ctx.week_time(ec2.first_week) - timedelta(days=rng.randint(1, 6))
    profile, ssm = QUICK_SETUP_PROFILE, "Online"
    if not ec2.arc_machine:
        problem = rng.choice(("no-agent", "no-policy", "no-profile", "connection-lost"))
        profile = {"no-policy": APP_PROFILE, "no-profile": None}.get(problem, QUICK_SETUP_PROFILE)
        ssm = {"no-agent": None, "no-profile": None, "connection-lost": "ConnectionLost"}.get(problem, "Online")
    ami = SQL_AMI if index == 0 and "DefenderForDatabasesAws" in connector.offerings else LINUX_AMI
    item: dict[str, Any] = {
        "InstanceId": ec2.resource_id, "InstanceType": ec2.instance_type, "ImageId": ami[0],
        "PlatformDetails": ami[2], "State": {"Name": ec2.state or "running"},
        "Placement": {"AvailabilityZone": f"{ec2.region}a"}, "LaunchTime": iso(launched),
        "Tags": [{"Key": "Name", "Value": ec2.name}], "_ssm": ssm if ec2.state == "running" else None,
    }
    if profile:
        item["IamInstanceProfile"] = {"Arn": f"arn:aws:iam::{ec2.hierarchy_id}:instance-profile/{profile}",
                                      "Id": f"AIPA{zlib.crc32(profile.encode()):012d}"}
    return item


def _instance_profiles(inv: AccountInventory, described: list[dict[str, Any]]) -> None:
    account = inv.account_id
    inv.add("iam_ListInstanceProfiles", Call(None, {}, {"InstanceProfiles": [
        {"InstanceProfileName": p, "Path": "/", "Arn": f"arn:aws:iam::{account}:instance-profile/{p}",
         "Roles": [{"RoleName": f"{p}-role", "Arn": f"arn:aws:iam::{account}:role/{p}-role"}]}
        for p in (APP_PROFILE, QUICK_SETUP_PROFILE)]}))
    used = {d["IamInstanceProfile"]["Arn"].rsplit("/", 1)[-1] for d in described if "IamInstanceProfile" in d}
    for profile in sorted(used):
        policies = [{"PolicyName": "AmazonSSMManagedInstanceCore", "PolicyArn": rules()["ssm_policy_arn"]}] \
            if profile == QUICK_SETUP_PROFILE else \
            [{"PolicyName": "AmazonS3ReadOnlyAccess", "PolicyArn": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"}]
        inv.add("iam_ListAttachedRolePolicies", Call(None, {"RoleName": f"{profile}-role"},
                                                     {"AttachedPolicies": policies}))


def _databases(ctx: SampleContext, connector: Connector, region: str) -> list[dict[str, Any]]:
    account = connector.hierarchy_id
    out = [{"DBInstanceIdentifier": r.name, "Engine": "postgres", "DBInstanceClass": "db.m6g.large",
            "DBInstanceArn": r.native_id} for r in ctx.cloud_resources
           if r.hierarchy_id == account and r.kind == "rds" and r.region == region]
    if connector.account_name == "contoso-prod-data" and region == connector.regions[0]:
        out.append({"DBInstanceIdentifier": "prod-data-sqlcustom", "Engine": "custom-sqlserver-se",
                    "DBInstanceClass": "db.m5.xlarge",
                    "DBInstanceArn": f"arn:aws:rds:{region}:{account}:db:prod-data-sqlcustom"})
    return out


def _buckets(ctx: SampleContext, inv: AccountInventory, connector: Connector) -> None:
    account = inv.account_id
    names = sorted(r.name for r in ctx.cloud_resources if r.hierarchy_id == account and r.kind == "s3")
    template = None
    if connector.membership == "Organization" or connector.account_name == "contoso-prod-workloads":
        template = f"{rules()['template_bucket_prefix']}{ctx.rng('cf', account).getrandbits(40):010x}-eu-west-1"
        names.append(template)
    inv.add("s3_ListBuckets", Call(None, {}, {"Buckets": [{"Name": n, "CreationDate": "2026-02-03T10:10:00Z"}
                                                          for n in sorted(names)]}))
    if template is None:
        return
    if connector.membership == "Organization":  # uploaded through the console: no policy (the guide's pitfall)
        missing = {"code": "NoSuchBucketPolicy", "message": "The bucket policy does not exist"}
        inv.add("s3_GetBucketPolicy", Call(None, {"Bucket": template}, None, missing))
        return
    policy = {"Id": "ExamplePolicy", "Version": "2012-10-17", "Statement": [{
        "Sid": "AllowSSLRequestsOnly", "Action": "s3:*", "Effect": "Deny",
        "Resource": [f"arn:aws:s3:::{template}", f"arn:aws:s3:::{template}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}, "Principal": "*"}]}
    inv.add("s3_GetBucketPolicy", Call(None, {"Bucket": template}, {"Policy": json.dumps(policy)}))


def _organization(ctx: SampleContext, inv: AccountInventory, week: int) -> None:
    management = inv.account_id
    inv.add("organizations_DescribeOrganization", Call(None, {}, {"Organization": {
        "Id": "o-contoso01", "MasterAccountId": management, "FeatureSet": "ALL"}}))
    accounts = []
    for n, acct in enumerate(ctx.aws_accounts):
        joined = "2026-11-02T09:00:00Z" if acct.name == "contoso-new-acquisition" else f"{2019 + n % 4}-03-01T00:00:00Z"
        if pd.Timestamp(joined) > ctx.week_time(week):
            continue  # not a member yet that week
        status = "SUSPENDED" if acct.name == "contoso-suspended-legacy" else "ACTIVE"
        accounts.append({"Id": acct.account_id, "Name": acct.name, "Status": status, "State": status,
                         "Email": f"aws+{acct.name}@contoso.example", "JoinedMethod": "INVITED",
                         "JoinedTimestamp": joined,
                         "Arn": f"arn:aws:organizations::{management}:account/o-contoso01/{acct.account_id}"})
    inv.add("organizations_ListAccounts", Call(None, {}, {"Accounts": accounts}))
    inv.add("organizations_ListAWSServiceAccessForOrganization", Call(None, {}, {"EnabledServicePrincipals": [
        {"ServicePrincipal": p, "DateEnabled": "2026-02-03T10:05:00Z"}
        for p in (rules()["stacksets_service_principal"], "sso.amazonaws.com")]}))
