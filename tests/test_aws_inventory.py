"""The AWS inventory as tables: the contracts are the schema's (one definition), and recorded calls written to disk
in the dataset layout normalise into the rows counted by hand from the calls below."""

from __future__ import annotations

import importlib
import json
import pkgutil
import urllib.parse
from dataclasses import fields
from datetime import UTC, datetime

import pandas as pd
import pytest

from mdcnb.core import schema
from mdcnb.sources.aws_dataset import AccountInventory, Call, read_inventories, write_inventory
from mdcnb.tables.aws_inventory import AwsInventory, aws_inventory

MGMT, WORK = "111122223333", "222233334444"
MDC_PROVIDER = f"arn:aws:iam::{MGMT}:oidc-provider/sts.windows.net/33e01921-4d64-4f8c-a055-5bdaffd5e33d/"
GITHUB_PROVIDER = f"arn:aws:iam::{MGMT}:oidc-provider/token.actions.githubusercontent.com"
CSPM_TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
                                                      "Principal": {"Federated": MDC_PROVIDER}}]}
GITHUB_TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": GITHUB_PROVIDER},
                                                        "Action": "sts:AssumeRoleWithWebIdentity"}]}
TLS_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                                                      "Resource": "arn:aws:s3:::cf-templates-abc-eu-west-1/*"}]}


def management() -> AccountInventory:
    """11 calls, 2 of them failed (a bucket without policy, one region's instances denied)."""
    inv = AccountInventory(MGMT, collected_at=datetime(2026, 11, 20, 12, tzinfo=UTC), source="boto3",
                           regions=["eu-west-1", "us-east-1"])
    inv.add("sts_GetCallerIdentity", Call(None, {}, {"Account": MGMT, "Arn": f"arn:aws:iam::{MGMT}:user/audit"}))
    inv.add("iam_ListOpenIDConnectProviders", Call(None, {}, {"OpenIDConnectProviderList": [
        {"Arn": MDC_PROVIDER}, {"Arn": GITHUB_PROVIDER}]}))
    inv.add("iam_GetOpenIDConnectProvider", Call(None, {"OpenIDConnectProviderArn": MDC_PROVIDER}, {
        "Url": "sts.windows.net/33e01921-4d64-4f8c-a055-5bdaffd5e33d/",
        "ClientIDList": ["api://4d8bed1f-eee7-4d8e-b0dc-8462049a4479",
                         "api://AzureSecurityCenter.MultiCloud.DefenderForServers"]}))
    inv.add("iam_ListRoles", Call(None, {}, {"Roles": [
        {"RoleName": "CspmMonitorAws", "AssumeRolePolicyDocument": CSPM_TRUST},
        {"RoleName": "github-deploy", "AssumeRolePolicyDocument": urllib.parse.quote(json.dumps(GITHUB_TRUST))},
        {"RoleName": "hand-edited", "AssumeRolePolicyDocument": "{not json"}]}))
    inv.add("organizations_ListAccounts", Call(None, {}, {"Accounts": [
        {"Id": MGMT, "Name": "management", "Status": "ACTIVE", "JoinedTimestamp": "2020-01-01T00:00:00Z"},
        {"Id": WORK, "Name": "workloads", "Status": "ACTIVE", "JoinedTimestamp": "2024-05-06T07:08:09Z"},
        {"Id": "444455556666", "Name": "old", "Status": "SUSPENDED", "JoinedTimestamp": "2021-01-01T00:00:00Z"},
        {"Id": "777788889999", "Name": "sandbox", "JoinedTimestamp": "2026-11-20T10:00:00Z"}]}))
    inv.add("organizations_ListAWSServiceAccessForOrganization", Call(None, {}, {"EnabledServicePrincipals": [
        {"ServicePrincipal": "sso.amazonaws.com"},
        {"ServicePrincipal": "member.org.stacksets.cloudformation.amazonaws.com"}]}))
    inv.add("s3_ListBuckets", Call(None, {}, {"Buckets": [
        {"Name": "cf-templates-abc-eu-west-1"}, {"Name": "cf-templates-def-us-east-1"}, {"Name": "logs"}]}))
    inv.add("s3_GetBucketPolicy", Call(None, {"Bucket": "cf-templates-abc-eu-west-1"},
                                       {"Policy": json.dumps(TLS_POLICY)}))
    inv.add("s3_GetBucketPolicy", Call(None, {"Bucket": "cf-templates-def-us-east-1"},
                                       error={"code": "NoSuchBucketPolicy", "message": "no policy"}))
    inv.add("ec2_DescribeInstances", Call("eu-west-1", {}, {"Reservations": [
        {"Instances": [{"InstanceId": "i-0a", "State": {"Name": "running"}, "LaunchTime": "2026-10-01T08:00:00Z",
                        "Placement": {"AvailabilityZone": "eu-west-1a"}, "ImageId": "ami-1",
                        "IamInstanceProfile": {"Arn": f"arn:aws:iam::{MGMT}:instance-profile/app"},
                        "PlatformDetails": "Linux/UNIX"}]},
        {"Instances": [{"InstanceId": "i-0b", "State": {"Name": "stopped"}, "ImageId": "ami-1",
                        "Placement": {"AvailabilityZone": "eu-west-1b"}}]}]}))
    inv.add("ec2_DescribeInstances", Call("us-east-1", {}, error={"code": "UnauthorizedOperation",
                                                                  "message": "You are not authorized"}))
    return inv


def workload() -> AccountInventory:
    """11 calls, 2 of them failed (one role's policies denied; ListRoles given a bad shape on disk below)."""
    inv = AccountInventory(WORK)  # no collection time
    inv.add("ec2_DescribeInstances", Call("us-east-1", {}, {"Reservations": [{"Instances": [
        {"InstanceId": "i-1c", "State": {"Name": "running"}, "ImageId": "ami-sql",
         "IamInstanceProfile": {"Arn": f"arn:aws:iam::{WORK}:instance-profile/app"}}]}]}))
    inv.add("ec2_DescribeInstances", Call(None, {}, {"Reservations": [{"Instances": [  # a call without a region
        {"InstanceId": "i-1d", "Placement": {"AvailabilityZone": "eu-central-1b"}}]}]}))  # and no state
    inv.add("ec2_DescribeImages", Call("us-east-1", {"ImageIds": ["ami-sql"]}, {"Images": [
        {"ImageId": "ami-sql", "Name": "Windows_Server-2022-English-Full-SQL_2022_Standard",
         "Description": "SQL Server 2022", "PlatformDetails": "Windows with SQL Server Standard"}]}))
    inv.add("ssm_DescribeInstanceInformation", Call("us-east-1", {}, {"InstanceInformationList": [
        {"InstanceId": "i-1c", "PingStatus": "Online"}, {"InstanceId": "i-gone", "PingStatus": "ConnectionLost"}]}))
    inv.add("eks_ListClusters", Call("us-east-1", {}, {"clusters": ["prod", "dev"]}))
    inv.add("eks_ListClusters", Call("eu-west-1", {}, {"clusters": []}))
    inv.add("rds_DescribeDBInstances", Call("us-east-1", {}, {"DBInstances": [
        {"DBInstanceIdentifier": "erp", "DBInstanceArn": f"arn:aws:rds:us-east-1:{WORK}:db:erp",
         "Engine": "custom-sqlserver-se", "DBInstanceStatus": "stopped"}]}))
    inv.add("iam_ListInstanceProfiles", Call(None, {}, {"InstanceProfiles": [
        {"Arn": f"arn:aws:iam::{WORK}:instance-profile/app", "Roles": [{"RoleName": "app-role"},
                                                                        {"RoleName": "other-role"}]}]}))
    inv.add("iam_ListAttachedRolePolicies", Call(None, {"RoleName": "app-role"}, {"AttachedPolicies": [
        {"PolicyArn": "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"},
        {"PolicyArn": f"arn:aws:iam::{WORK}:policy/app-data"}]}))
    inv.add("iam_ListAttachedRolePolicies", Call(None, {"RoleName": "other-role"},
                                                 error={"code": "AccessDenied", "message": "denied"}))
    inv.add("iam_ListRoles", Call(None, {}, {"Roles": [{"RoleName": "app-role"}]}))
    return inv


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> AwsInventory:
    """Both accounts written in the dataset layout, one file given a swapped type, read back and normalised."""
    root = tmp_path_factory.mktemp("dataset")
    for inventory in (management(), workload()):
        write_inventory(root, inventory)
    roles = root / "aws" / WORK / "iam_ListRoles.json"
    calls = json.loads(roles.read_text())
    calls[0]["response"]["Roles"] = {"RoleName": "app-role"}  # an object where the list of roles belongs
    roles.write_text(json.dumps(calls))
    inventories, skips = read_inventories(root)
    assert [(s.source, s.location) for s in skips] == [(str(roles), "item 0")]
    return aws_inventory(inventories)


def test_the_aws_inventory_is_generated_from_the_schema():
    assert [f.name for f in fields(AwsInventory)] == list(schema.AWS_INVENTORY_TABLES)
    empty = AwsInventory()
    for name, contract in schema.AWS_INVENTORY_TABLES.items():
        frame = getattr(empty, name)
        assert list(frame.columns) == contract.names
        # the pandas dtype each declared type must give, stated here rather than taken from the contract's code
        expected = {"string": "string", "Int64": "Int64", "float64": "float64", "boolean": "boolean",
                    "datetime64[ns, UTC]": "datetime64[ns, UTC]", "list[str]": "object", "json": "object"}
        assert [str(t) for t in frame.dtypes] == [expected[c.dtype] for c in contract.columns], name
    assert all(f"### `{name}`" in schema.documentation() for name in schema.AWS_INVENTORY_TABLES)  # `mdcnb tables`


def test_every_table_is_declared_once_in_one_feature_module():
    declared: dict[str, list[str]] = {}
    objects = {}
    for info in pkgutil.iter_modules(schema.__path__):
        module = importlib.import_module(f"{schema.__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, schema.Table):
                declared.setdefault(value.name, []).append(info.name)
                objects[value.name] = value
    registries = (schema.TABLES, schema.CLOUDTRAIL_TABLES, schema.AWS_INVENTORY_TABLES, schema.AUDIT_TABLES)
    registered = {name: table for registry in registries for name, table in registry.items()}
    assert {name: modules for name, modules in declared.items() if len(modules) != 1} == {}
    assert set(registered) <= set(declared)
    assert all(registered[name] is objects[name] for name in registered)
    assert declared["aws_calls"] == ["aws_inventory"] and declared["assessments"] == ["posture"]


def test_normalised_columns_are_the_contracts(tables):
    for name, contract in schema.AWS_INVENTORY_TABLES.items():
        assert list(getattr(tables, name).columns) == contract.names, name


def test_every_call_is_a_row_and_the_failed_ones_keep_why(tables):
    calls = tables.aws_calls
    assert (calls["account_id"] == MGMT).sum() == 11 and (calls["account_id"] == WORK).sum() == 11
    failed = calls[~calls["ok"].astype(bool)]
    assert sorted(zip(failed["account_id"], failed["operation"], failed["region"].fillna("-"),
                      failed["target"].fillna("-"), failed["error_code"], strict=True)) == [
        (MGMT, "ec2_DescribeInstances", "us-east-1", "-", "UnauthorizedOperation"),
        (MGMT, "s3_GetBucketPolicy", "-", "cf-templates-def-us-east-1", "NoSuchBucketPolicy"),
        (WORK, "iam_ListAttachedRolePolicies", "-", "other-role", "AccessDenied"),
        (WORK, "iam_ListRoles", "-", "-", "UnexpectedShape"),
    ]
    shape = failed[failed["error_code"] == "UnexpectedShape"].iloc[0]
    assert "iam_ListRoles.json" in shape["error_message"] and "expected a list, got dict" in shape["error_message"]
    # a listing has no target; a per-resource call names its one string parameter, a list parameter is no target
    images = calls[calls["operation"] == "ec2_DescribeImages"].iloc[0]
    assert pd.isna(images["target"]) and images["region"] == "us-east-1"
    # an operation never called has no row: "was not collected", distinct from a failure
    assert "organizations_ListAccounts" not in set(calls.loc[calls["account_id"] == WORK, "operation"])


def test_collections(tables):
    rows = tables.aws_collections.set_index("account_id")
    assert list(rows.index) == [MGMT, WORK]
    assert rows.loc[MGMT, "collected_at"] == pd.Timestamp("2026-11-20T12:00:00Z")
    assert rows.loc[MGMT, "source"] == "boto3" and rows.loc[MGMT, "regions"] == ["eu-west-1", "us-east-1"]
    assert pd.isna(rows.loc[WORK, "collected_at"]) and rows.loc[WORK, "regions"] == []
    assert tables.collected_at() == datetime(2026, 11, 20, 12, tzinfo=UTC)


def test_identity_rows(tables):
    providers = tables.aws_oidc_providers.set_index("arn")
    assert list(providers.index) == [MDC_PROVIDER, GITHUB_PROVIDER]
    assert providers.loc[MDC_PROVIDER, "audiences"] == ["api://4d8bed1f-eee7-4d8e-b0dc-8462049a4479",
                                                        "api://AzureSecurityCenter.MultiCloud.DefenderForServers"]
    assert providers.loc[GITHUB_PROVIDER, "audiences"] == []  # never described
    roles = tables.aws_roles.set_index("role_name")["trust_policy"]
    assert list(roles.index) == ["CspmMonitorAws", "github-deploy", "hand-edited"]  # WORK's ListRoles was unusable
    assert roles["CspmMonitorAws"] == CSPM_TRUST and roles["github-deploy"] == GITHUB_TRUST  # URL-encoded: decoded
    assert roles["hand-edited"] is None
    profiles = tables.aws_instance_profiles
    assert profiles["role_names"].tolist() == [["app-role", "other-role"]]
    attached = tables.aws_attached_policies
    assert list(zip(attached["role_name"], attached["policy_arn"], strict=True)) == [
        ("app-role", "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"),
        ("app-role", f"arn:aws:iam::{WORK}:policy/app-data")]


def test_organisation_and_bucket_rows(tables):
    members = tables.aws_org_accounts.set_index("member_id")
    assert (members["account_id"] == MGMT).all() and len(members) == 4
    assert members["status"].tolist() == ["ACTIVE", "ACTIVE", "SUSPENDED", "ACTIVE"]  # left out: ACTIVE
    assert members.loc[WORK, "joined_at"] == pd.Timestamp("2024-05-06T07:08:09Z")
    assert members.loc[WORK, "name"] == "workloads"
    assert tables.aws_service_access["service_principal"].tolist() == [
        "sso.amazonaws.com", "member.org.stacksets.cloudformation.amazonaws.com"]
    buckets = tables.aws_buckets.set_index("name")["policy"]
    assert buckets["cf-templates-abc-eu-west-1"] == TLS_POLICY
    assert buckets["cf-templates-def-us-east-1"] is None and buckets["logs"] is None  # failed / never read


def test_regional_rows(tables):
    instances = tables.aws_instances.set_index("instance_id")
    assert list(instances.index) == ["i-0a", "i-0b", "i-1c", "i-1d"]
    assert instances["region"].tolist() == ["eu-west-1", "eu-west-1", "us-east-1", "eu-central-1"]  # i-1d: its zone
    assert instances["state"].fillna("-").tolist() == ["running", "stopped", "running", "-"]
    assert instances.loc["i-0a", "launched_at"] == pd.Timestamp("2026-10-01T08:00:00Z")
    assert pd.isna(instances.loc["i-0b", "launched_at"]) and pd.isna(instances.loc["i-0b", "profile_arn"])
    assert instances.loc["i-1c", "profile_arn"] == f"arn:aws:iam::{WORK}:instance-profile/app"
    images = tables.aws_images
    assert images[["image_id", "platform_details"]].values.tolist() == [["ami-sql", "Windows with SQL Server Standard"]]
    ssm = tables.aws_ssm_instances
    assert list(zip(ssm["instance_id"], ssm["ping_status"], strict=True)) == [("i-1c", "Online"),
                                                                             ("i-gone", "ConnectionLost")]
    eks = tables.aws_eks_clusters
    assert list(zip(eks["region"], eks["name"], strict=True)) == [("us-east-1", "prod"), ("us-east-1", "dev")]
    db = tables.aws_db_instances
    assert db[["region", "db_instance_id", "engine", "status"]].values.tolist() == [
        ["us-east-1", "erp", "custom-sqlserver-se", "stopped"]]
    assert db["arn"].tolist() == [f"arn:aws:rds:us-east-1:{WORK}:db:erp"]


def test_by_account_splits_every_table(tables):
    split = tables.by_account()
    assert list(split) == [MGMT, WORK]
    for name in schema.AWS_INVENTORY_TABLES:
        whole = getattr(tables, name)
        parts = [getattr(split[a], name) for a in split]
        assert sum(len(p) for p in parts) == len(whole), name
        assert all((p["account_id"] == a).all() for a, p in zip(split, parts, strict=True)), name
    assert len(split[WORK].aws_instances) == 2 and split[WORK].aws_org_accounts.empty
