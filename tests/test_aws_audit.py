"""The AWS readiness audit on hand-built datasets: raw Azure records + recorded boto3 responses, through the CLI.

Expected statuses follow from how each record was written (comments beside them). The moto-based tests
(`test_aws_audit_moto.py`) cover collection; these cover the dataset path, time allowances and bad input.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
import pytest

from mdcnb import cli
from mdcnb.analysis import readiness as aws_audit
from mdcnb.core import schema
from mdcnb.sources.aws_dataset import AccountInventory, Call, read_inventories, write_inventory
from mdcnb.sources.dataset import read_records
from mdcnb.sources.dataset_write import write_manifest, write_records

SUB = "11111111-2222-3333-4444-555555555555"
MGMT, MEMBER, NEW, CLASSIC = "111111111111", "222222222222", "333333333333", "444444444444"
AS_OF = "2026-11-20T12:00:00Z"
PROVIDER = "sts.windows.net/33e01921-4d64-4f8c-a055-5bdaffd5e33d/"
CSPM_AUD = "api://4d8bed1f-eee7-4d8e-b0dc-8462049a4479"


def native(name, account, membership, offerings, *, created="2026-09-01T00:00:00Z", regions=(), **org):
    org_data = {"organizationMembershipType": membership, **org} if membership else {}
    return {"id": f"/subscriptions/{SUB}/resourcegroups/mdc/providers/Microsoft.Security/securityConnectors/{name}",
            "name": name, "type": "Microsoft.Security/securityConnectors", "location": "westeurope",
            "systemData": {"createdAt": created},
            "properties": {"hierarchyIdentifier": account, "environmentName": "AWS",
                           "environmentData": {"environmentType": "AwsAccount", "organizationalData": org_data,
                                               "regions": list(regions), "scanInterval": 12},
                           "offerings": offerings}}


def cspm(account, role="CspmMonitorAws"):
    return {"offeringType": "CspmMonitorAws",
            "nativeCloudConnection": {"cloudRoleArn": f"arn:aws:iam::{account}:role/{role}"}}


def trust(account, audience):
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
        "Principal": {"Federated": f"arn:aws:iam::{account}:oidc-provider/{PROVIDER}"},
        "Condition": {"StringEquals": {f"{PROVIDER}:aud": audience}}}]}


def identity_calls(inv: AccountInventory, *, audiences=(CSPM_AUD,), role="CspmMonitorAws"):
    arn = f"arn:aws:iam::{inv.account_id}:oidc-provider/{PROVIDER}"
    inv.add("iam_ListOpenIDConnectProviders", Call(None, {}, {"OpenIDConnectProviderList": [{"Arn": arn}]}))
    inv.add("iam_GetOpenIDConnectProvider", Call(None, {"OpenIDConnectProviderArn": arn},
                                                 {"Url": PROVIDER, "ClientIDList": list(audiences)}))
    inv.add("iam_ListRoles", Call(None, {}, {"Roles": [
        {"RoleName": role, "AssumeRolePolicyDocument": trust(inv.account_id, CSPM_AUD)}]}))


@pytest.fixture
def dataset(tmp_path):
    """An organisation: management (stacksets access missing), one member with a connector and Arc machines,
    one member that joined 2 hours before as-of (no connector yet), a classic-only account."""
    write_records(tmp_path, "securityconnectors", [
        native("org", MGMT, "Organization", [cspm(MGMT)], stacksetName="ss", excludedAccountIds=[]),
        native(f"org_{MEMBER}", MEMBER, "Member",
               [cspm(MEMBER), {"offeringType": "DefenderForServersAws",
                               "defenderForServers": {"cloudRoleArn":
                                                      f"arn:aws:iam::{MEMBER}:role/DefenderForCloud-DefenderForServers"}}],
               parentHierarchyId=MGMT, regions=["eu-west-1"]),
        {"id": f"/subscriptions/{SUB}/providers/Microsoft.Security/connectors/classic-{CLASSIC}", "name": "c",
         "type": "Microsoft.Security/connectors",
         "properties": {"authenticationDetails": {"authenticationType": "awsAssumeRole",
                                                  "awsAssumeRoleArn": f"arn:aws:iam::{CLASSIC}:role/ASCMonitor"}}},
    ])
    write_records(tmp_path, "resources", [
        {"id": f"/subscriptions/{SUB}/resourceGroups/arc/providers/Microsoft.HybridCompute/machines/{name}",
         "name": name, "type": "Microsoft.HybridCompute/machines", "subscriptionId": SUB,
         "properties": {"status": status, "lastStatusChange": changed},
         "tags": {"AccountId": MEMBER, "Cloud": "AWS", "InstanceId": name, "MDFCSecurityConnector": "x"}}
        for name, status, changed in [("i-live", "Connected", "2026-11-19T00:00:00Z"),
                                      ("i-gone-recently", "Disconnected", "2026-11-17T00:00:00Z")]])
    write_manifest(tmp_path, source="test", scope={}, extra={"as_of": AS_OF})
    when = datetime(2026, 11, 20, 12, tzinfo=UTC)
    mgmt = AccountInventory(MGMT, collected_at=when)
    identity_calls(mgmt)
    mgmt.add("organizations_ListAccounts", Call(None, {}, {"Accounts": [
        {"Id": MGMT, "Status": "ACTIVE", "Name": "management", "JoinedTimestamp": "2020-01-01T00:00:00Z"},
        {"Id": MEMBER, "Status": "ACTIVE", "Name": "workloads", "JoinedTimestamp": "2021-01-01T00:00:00Z"},
        {"Id": NEW, "Status": "ACTIVE", "Name": "sandbox", "JoinedTimestamp": "2026-11-20T10:00:00Z"}]}))
    mgmt.add("organizations_ListAWSServiceAccessForOrganization", Call(None, {}, {"EnabledServicePrincipals": [
        {"ServicePrincipal": "sso.amazonaws.com"}]}))
    mgmt.add("s3_ListBuckets", Call(None, {}, {"Buckets": []}))
    member = AccountInventory(MEMBER, collected_at=when)
    identity_calls(member)  # the OIDC provider lacks the Servers audience; the Servers role does not exist
    member.add("ec2_DescribeInstances", Call("eu-west-1", {}, {"Reservations": [{"Instances": [
        {"InstanceId": "i-live", "State": {"Name": "running"}, "LaunchTime": "2026-01-01T00:00:00Z"}]}]}))
    member.add("ec2_DescribeInstances", Call("us-east-1", {}, None, {"code": "UnauthorizedOperation",
                                                                     "message": "denied"}))
    member.add("ssm_DescribeInstanceInformation", Call("eu-west-1", {}, {"InstanceInformationList": [
        {"InstanceId": "i-live", "PingStatus": "ConnectionLost"}]}))
    member.add("iam_ListInstanceProfiles", Call(None, {}, {"InstanceProfiles": []}))
    member.add("eks_ListClusters", Call("eu-west-1", {}, {"clusters": []}))
    member.add("rds_DescribeDBInstances", Call("eu-west-1", {}, {"DBInstances": []}))
    for inv in (mgmt, member):
        write_inventory(tmp_path, inv)
    return tmp_path


def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def statuses(document):
    return {(r["account_id"], r["check_id"]): (r["status"], r["evidence"]) for r in document["results"]}


def test_cli_json_gives_the_statuses_the_dataset_was_built_for(dataset, capsys):
    code, out, _ = run_cli(capsys, "aws", "audit", "--dataset", str(dataset), "--json")
    assert code == 0
    doc = json.loads(out)
    got = statuses(doc)
    assert doc["accounts"] == [MGMT, MEMBER, NEW, CLASSIC]
    assert len(doc["results"]) == 4 * len(aws_audit.CHECKS)
    assert got[MGMT, "org.stacksets_trusted_access"][0] == "fail"
    assert got[MGMT, "org.excluded_accounts"] == ("pass", "no accounts excluded")
    assert got[MGMT, "identity.trust_policy"][0] == "pass"
    assert got[MEMBER, "org.member_connectors"][0] == "pass"
    assert got[MEMBER, "identity.oidc_provider"][0] == "fail"
    assert "api://AzureSecurityCenter.MultiCloud.DefenderForServers" in got[MEMBER, "identity.oidc_provider"][1]
    assert got[MEMBER, "identity.roles_exist"][0] == "fail"
    # one region's DescribeInstances was denied: the instance checks cannot be judged, never a silent pass
    assert got[MEMBER, "servers.ssm_managed"] == ("could not check",
                                                  "EC2 instances could not be read in us-east-1: UnauthorizedOperation")
    # joined 2 h before as-of: inside the 24 h allowance
    assert got[NEW, "org.member_connectors"][0] == "not applicable"
    assert "2 h after onboarding" in got[NEW, "org.member_connectors"][1]
    # classic only: native-only checks do not apply, the connector-type check passes
    assert got[CLASSIC, "connector.classic_and_native"][0] == "pass"
    assert got[CLASSIC, "identity.oidc_provider"] == ("not applicable",
                                                      "a classic connector only (no native connector)")
    assert got[CLASSIC, "template.bucket_tls"] == ("could not check", "no AWS inventory for this account "
                                                   "(collect it with `mdcnb aws audit --profile ...`)")
    failing = [r for r in doc["results"] if r["status"] == "fail"]
    assert all(r["remediation"] for r in failing)
    assert doc["summary"]["fail"] == len(failing)


def test_cli_tables_and_exit_code(dataset, capsys):
    code, out, _ = run_cli(capsys, "aws", "audit", "--dataset", str(dataset), "--exit-code")
    assert code == 1
    assert "org.stacksets_trusted_access" in out and "FAIL" in out and "remediation:" in out


def test_later_as_of_turns_the_allowance_into_a_failure(dataset, capsys):
    _, out, _ = run_cli(capsys, "aws", "audit", "--dataset", str(dataset), "--json", "--as-of", "2026-11-22T00:00:00Z")
    status, evidence = statuses(json.loads(out))[NEW, "org.member_connectors"]
    assert status == "fail" and "since 2026-11-20 10:00" in evidence


def test_unreadable_inventory_file_is_a_counted_skip(dataset, capsys):
    (dataset / "aws" / MGMT / "organizations_ListAWSServiceAccessForOrganization.json").write_text("{not json")
    (dataset / "aws" / "not-an-account").mkdir()
    code, out, err = run_cli(capsys, "aws", "audit", "--dataset", str(dataset), "--json")
    assert code == 0
    doc = json.loads(out)
    assert len(doc["skips"]) == 2 and "2 unreadable inventory item(s) skipped" in err
    status, evidence = statuses(doc)[MGMT, "org.stacksets_trusted_access"]
    assert status == "could not check" and "not collected" in evidence


def test_stale_arc_windows(dataset):
    """i-gone-recently disconnected 3 days before as-of: pending; 10 days later it is overdue."""
    from mdcnb.snapshot.readiness import audit_dataset

    native_servers = audit_dataset(dataset, accounts=[MEMBER]).results.set_index("check_id")
    # the member's Servers plan is on; the us-east-1 read failed, so the instance list is incomplete
    assert native_servers.loc["servers.stale_arc", "status"] == "could not check"
    inventories, _ = read_inventories(dataset)
    inventories[MEMBER].calls["ec2_DescribeInstances"] = inventories[MEMBER].calls["ec2_DescribeInstances"][:1]
    soon = audit_dataset(dataset, inventories=inventories, accounts=[MEMBER]).results.set_index("check_id")
    assert soon.loc["servers.stale_arc", "status"] == "pass"
    assert "1 within the 7-day removal window" in soon.loc["servers.stale_arc", "evidence"]
    late = audit_dataset(dataset, inventories=inventories, accounts=[MEMBER],
                         as_of=datetime(2026, 11, 27, 12, tzinfo=UTC)).results.set_index("check_id")
    assert late.loc["servers.stale_arc", "status"] == "fail"
    assert "i-gone-recently (Disconnected since 2026-11-17" in late.loc["servers.stale_arc", "evidence"]


GUIDE_POLICY = {"Id": "ExamplePolicy", "Version": "2012-10-17", "Statement": [{
    "Sid": "AllowSSLRequestsOnly", "Action": "s3:*", "Effect": "Deny",
    "Resource": ["arn:aws:s3:::cf-templates-x", "arn:aws:s3:::cf-templates-x/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}}, "Principal": "*"}]}


def _variant(**changes):
    policy = json.loads(json.dumps(GUIDE_POLICY))
    policy["Statement"][0].update(changes)
    return policy


@pytest.mark.parametrize(("policy", "denied"), [
    (GUIDE_POLICY, True),                                                     # the guide's policy verbatim
    (_variant(Resource=["arn:aws:s3:::cf-templates-x"]), False),              # objects left out
    (_variant(Effect="Allow"), False),
    (_variant(Condition={"Bool": {"aws:SecureTransport": "true"}}), False),
    (_variant(Principal={"AWS": ["*"]}, Action=["s3:*"]), True),
    (_variant(Action="s3:GetObject"), False),                                 # only one action denied
    ({"Statement": []}, False),
])
def test_secure_transport_policy(policy, denied):
    assert aws_audit.secure_transport_denied(policy, "cf-templates-x") is denied


def test_trust_problems():
    provider = f"arn:aws:iam::{MGMT}:oidc-provider/{PROVIDER}"
    assert aws_audit.trust_problem(trust(MGMT, CSPM_AUD), provider, CSPM_AUD) is None
    assert "no StringEquals" in aws_audit.trust_problem(trust(MGMT, "api://other"), provider, CSPM_AUD)
    assert "does not allow" in aws_audit.trust_problem(trust("999999999999", CSPM_AUD), provider, CSPM_AUD)
    listed = trust(MGMT, [CSPM_AUD, "api://x"])
    listed["Statement"][0]["Action"] = ["sts:AssumeRoleWithWebIdentity"]
    assert aws_audit.trust_problem(listed, provider, CSPM_AUD) is None


def test_check_definitions_are_complete_data():
    defs = aws_audit.check_definitions()
    assert list(defs["id"]) == list(aws_audit.CHECKS)
    assert defs[["title", "guide", "remediation", "area", "plan"]].notna().all().all()
    assert (defs["remediation"].str.len() > 40).all()


def test_matrix_and_counts_shapes():
    rows = [{"account_id": a, "check_id": c, "status": s} for a, c, s in [
        ("1", "identity.roles_exist", "pass"), ("1", "org.member_connectors", "fail"),
        ("2", "identity.roles_exist", "could not check"), ("2", "org.member_connectors", "fail")]]
    results = schema.AWS_AUDIT.frame(rows)
    assert aws_audit.matrix(results).loc["2", "identity.roles_exist"] == "could not check"
    counts = aws_audit.status_counts(results)
    assert counts.loc["org.member_connectors", "fail"] == 2
    assert list(counts.columns) == list(aws_audit.STATUSES)
    assert isinstance(counts, pd.DataFrame)


def test_sample_tenant_audit_matches_an_independent_count():
    """On the committed sample: Arc coverage counted straight from the raw files equals the audit's evidence, and
    the findings the sample part plants (stale exclusion, member without connector, no template policy) show."""
    from pathlib import Path

    from mdcnb.snapshot.readiness import audit_dataset

    sample = Path(__file__).resolve().parent.parent / "data" / "sample"
    result = audit_dataset(sample)
    assert result.skips == []
    arc_ids = set()
    for record in read_records(sample, "resources").records:
        if record["type"].lower() == "microsoft.hybridcompute/machines":
            arc_ids.add(record["tags"]["InstanceId"])
    rows = result.results.set_index(["account_id", "check_id"])
    checked = 0
    for folder in sorted((sample / "aws").iterdir()):
        calls = json.loads((folder / "ec2_DescribeInstances.json").read_text())
        running = [i["InstanceId"] for c in calls for r in c["response"]["Reservations"] for i in r["Instances"]
                   if i["State"]["Name"] == "running"]
        status, evidence = rows.loc[(folder.name, "servers.arc_machine"), ["status", "evidence"]]
        if status == "not applicable":
            continue
        without = [i for i in running if i not in arc_ids]
        checked += 1
        if without:
            assert status == "fail" and evidence.startswith(f"{len(without)} of {len(running)} running")
        else:
            assert status == "pass" and f"all {len(running)} running" in evidence
    assert checked >= 2
    statuses = result.results.groupby("check_id")["status"].apply(set)
    assert "fail" in statuses["org.excluded_accounts"] and "fail" in statuses["org.member_connectors"]
    assert "fail" in statuses["template.bucket_tls"] and "fail" in statuses["connector.classic_and_native"]
    assert {"pass", "fail", "not applicable"} <= set(result.results["status"])


def test_readiness_over_time_counts_every_week(dataset):
    """A weekly snapshot without AWS inventory: every result is still counted, and the missing data shows as
    `could not check`, never as passes."""
    import shutil

    from mdcnb.measures import registry
    from mdcnb.snapshot import build

    week = dataset / "history" / "2026-W46"
    week.mkdir(parents=True)
    for name in ("securityconnectors.jsonl", "resources.jsonl"):
        shutil.copy(dataset / name, week / name)
    write_manifest(week, source="test", scope={}, extra={"as_of": "2026-11-13T12:00:00Z"})
    weekly = registry.value("readiness.over_time", build(dataset, history=dataset / "no-store.duckdb"))
    assert list(dict.fromkeys(weekly["week"])) == ["2026-W46", "2026-W47"]
    totals = weekly.groupby("week")["results"].sum()
    assert (totals == weekly.groupby("week")["accounts"].first() * len(aws_audit.CHECKS)).all()
    by = weekly.set_index(["week", "status"])["results"]
    assert by["2026-W46", "could not check"] > by["2026-W47", "could not check"]
    assert by["2026-W46", "pass"] < by["2026-W47", "pass"]
