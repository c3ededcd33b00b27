"""CloudTrail against real AWS APIs emulated on 127.0.0.1: moto server for S3 (with IAM-enforced AccessDenied),
CloudTrail trails and Athena (seeded results); botocore Stubber for LookupEvents, which moto does not implement
(moto answers HTTP 500 NotImplementedError for it: reference/stack-notes.md §5)."""

from __future__ import annotations

import gzip
import json
import logging
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import boto3
import duckdb
import pytest
from botocore.stub import ANY, Stubber
from cloudtrail_helpers import ACCT, ACCT2, CSPM, SCANNER, assume_web, role_call, user_call

from mdcnb.cli import main
from mdcnb.normalize.cloudtrail.identity import RoleMatcher
from mdcnb.tables.cloudtrail import athena, lookup, trails, volume

BUCKET = "org-trail-bucket"
ORG = "o-abc123def4"


@pytest.fixture(scope="module")
def moto_server():
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.server import ThreadedMotoServer

    srv = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    srv.start()
    host, port = srv.get_host_and_port()
    yield f"http://{host}:{port}"
    srv.stop()


@pytest.fixture
def aws(moto_server, monkeypatch):
    """Fresh moto state and credentials that only reach the loopback server."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")).read()
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_server


def _key(account: str, region: str, day: str, name: str, org: str | None = ORG) -> str:
    y, m, d = day.split("-")
    org_part = f"{org}/" if org else ""
    folder = f"logs/AWSLogs/{org_part}{account}/CloudTrail/{region}/{y}/{m}/{d}"
    return f"{folder}/{account}_CloudTrail_{region}_{name}.json.gz"


def _put(s3, key: str, records: list[dict]) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(json.dumps({"Records": records}).encode()))


@pytest.fixture
def bucket(aws):
    """An organisation trail bucket: two accounts, many files (listing pages), a digest, a duplicate, an old day."""
    s3 = boto3.client("s3", endpoint_url=aws, region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    n = 0
    expected = {"cspm_read": 0, "events": 0}
    for day in ("2026-11-02", "2026-11-03"):
        for i in range(60):  # 2 x 60 files: the day folders alone need several pages at PageSize 50
            n += 1
            recs = [role_call(10 * n, CSPM, f"{day}T{i % 24:02d}:00:00Z"),
                    user_call(10 * n + 1, f"{day}T{i % 24:02d}:01:00Z")]
            _put(s3, _key(ACCT, "us-east-1", day, f"{day.replace('-', '')}T{i:04d}Z_F{n}"), recs)
            expected["cspm_read"] += 1
            expected["events"] += 2
    second = [role_call(5000, f"arn:aws:iam::{ACCT2}:role/CspmMonitorAws", "2026-11-02T05:00:00Z",
                        region="eu-west-1"), assume_web(5001, f"arn:aws:iam::{ACCT2}:role/CspmMonitorAws",
                                                        "2026-11-02T05:00:00Z")]
    _put(s3, _key(ACCT2, "eu-west-1", "2026-11-02", "20261102T0505Z_G"), second)
    expected["cspm_read"] += 1
    expected["events"] += 2
    _put(s3, _key(ACCT2, "eu-west-1", "2026-11-02", "20261102T0510Z_DUP"), second[:1])  # same event again
    _put(s3, f"logs/AWSLogs/{ORG}/{ACCT}/CloudTrail-Digest/us-east-1/2026/11/02/{ACCT}_CloudTrail-Digest_x.json.gz",
         [])
    _put(s3, _key(ACCT, "us-east-1", "2026-10-01", "20261001T0005Z_OLD"),
         [role_call(9000, CSPM, "2026-10-01T00:00:00Z")])  # outside November: not in `expected`
    return {"s3": s3, "endpoint": aws, "expected": expected}


def test_s3_window_lists_day_folders_and_counts(bucket) -> None:
    res = volume(f"s3://{BUCKET}/logs", since="2026-11-01", until="2026-11-30", endpoint_url=bucket["endpoint"],
                 processes=2)
    s = res.summary()
    assert s["files_read"] == 122 and s["files_skipped"] == []
    assert s["events_total"] == bucket["expected"]["events"]
    assert s["cspm_read_events"] == bucket["expected"]["cspm_read"]
    assert s["duplicates_dropped"] == 1 and s["assume_role_events"] == 1
    assert s["by_account"][ACCT2]["cspm_read_events"] == 1


def test_s3_without_window_lists_everything_and_skips_the_digest(bucket) -> None:
    s = volume(f"s3://{BUCKET}/logs/", endpoint_url=bucket["endpoint"], processes=1).summary()
    assert s["files_listed"] == 124 and s["digest_files_skipped"] == 1 and s["files_read"] == 123
    assert s["cspm_read_events"] == bucket["expected"]["cspm_read"] + 1  # plus the October event


def test_s3_access_denied_on_some_keys_is_a_counted_skip(bucket, monkeypatch) -> None:
    from moto import settings

    endpoint = bucket["endpoint"]
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1")
    iam.create_user(UserName="auditor")
    denied_prefix = f"logs/AWSLogs/{ORG}/{ACCT2}/"
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"], "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/{denied_prefix}*"}]}
    iam.put_user_policy(UserName="auditor", PolicyName="read-trail", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="auditor")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    monkeypatch.setattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)  # moto now enforces IAM policies
    s = volume(f"s3://{BUCKET}/logs", since="2026-11-01", until="2026-11-30", endpoint_url=endpoint,
               processes=1).summary()
    skipped = {x["path"]: x["reason"] for x in s["files_skipped"]}
    assert len(skipped) == 2 and all(p.startswith(denied_prefix) for p in skipped)
    assert set(skipped.values()) == {"S3 AccessDenied: Access Denied"}
    assert s["files_read"] == 120 and s["cspm_read_events"] == 120 and ACCT2 not in s["by_account"]


def test_cli_volume_json_has_every_listed_key(bucket, capsys) -> None:
    code = main(["cloudtrail", "volume", "--logs", f"s3://{BUCKET}/logs", "--since", "2026-11-01", "--until",
                 "2026-11-30", "--endpoint-url", bucket["endpoint"], "--json", "--processes", "1",
                 "--price-per-gb", "2.5", "--price-source", "test price"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("files_read", "files_skipped", "events_total", "events_read_only", "cspm_events", "cspm_read_events",
                "cspm_bytes", "assume_role_events", "other_mdc_role_events", "duplicates_dropped", "by_account"):
        assert key in out
    assert set(out["by_account"][ACCT]) == {"events_total", "events_read_only", "cspm_read_events", "cspm_bytes"}
    assert out["cspm_role_arns_found"] == [CSPM, f"arn:aws:iam::{ACCT2}:role/CspmMonitorAws"]
    assert CSPM in out["filters"]["sentinel"]["text"]
    cost = out["siem_cost"]
    assert cost["price"]["source"] == "test price" and "test price" in cost["note"]
    assert cost["window_cost"] == round(out["bytes_total"] / 1e9 * 2.5, 2)


def test_sql_filter_drops_exactly_the_cspm_reads(bucket, tmp_path) -> None:
    """The generated Athena/SQL exclusion, run by DuckDB over the Athena-shaped view, keeps everything else."""
    from mdcnb.analysis.cloudtrail_filters import filters

    files = _download(bucket["s3"], tmp_path)
    con = duckdb.connect()
    athena.duckdb_table(con, "cloudtrail_logs", files)
    found = [CSPM, f"arn:aws:iam::{ACCT2}:role/CspmMonitorAws"]
    where = filters(found)["sql"]["text"]
    total = con.execute("SELECT count(*) FROM cloudtrail_logs").fetchone()[0]
    kept = con.execute(f"SELECT count(*) FROM cloudtrail_logs {where}").fetchone()[0]
    s = volume(tmp_path, processes=1).summary()
    dup = 1  # the view has no de-duplication; the duplicate is a CSPM read, dropped twice by the filter
    assert total - kept == s["cspm_read_events"] + dup + s["assume_role_events"]


def _download(s3, root: Path) -> list[str]:
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="logs/"):
        for obj in page["Contents"]:
            if "CloudTrail-Digest" in obj["Key"]:
                continue
            p = root / obj["Key"]
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read())
            out.append(str(p))
    return sorted(out)


def test_athena_runs_ddl_and_count_and_equals_duckdb_and_local(bucket, tmp_path) -> None:
    """The counting SQL runs on DuckDB over the bucket's files; the same rows, seeded into moto's Athena, come back
    through the Athena runner; both equal the local scan (bytes aside: Athena has none)."""
    files = _download(bucket["s3"], tmp_path)
    matcher = RoleMatcher.build()
    sql = athena.counting_query("cloudtrail_logs", matcher, "2026-11-01", "2026-11-30")
    con = duckdb.connect()
    athena.duckdb_table(con, "cloudtrail_logs", files)
    cur = con.execute(sql)
    header = [d[0] for d in cur.description]
    rows = cur.fetchall()
    seed = {"account_id": "123456789012", "region": "us-east-1", "results": [{
        "rows": [{"Data": [{"VarCharValue": h} for h in header]}]
        + [{"Data": [{"VarCharValue": None if v is None else str(v)} for v in r]} for r in rows],
        "column_info": [{"Name": h, "Type": "varchar", "CatalogName": "hive", "SchemaName": "", "TableName": "",
                         "Label": h, "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN", "CaseSensitive": True}
                        for h in header]}]}
    client = boto3.client("athena", endpoint_url=bucket["endpoint"], region_name="us-east-1")
    client.create_work_group(Name="mdcnb")
    runner = athena.AthenaRunner(client, "security", "mdcnb", f"s3://{BUCKET}/athena-results/", sleep=lambda s: None)
    ddl = athena.create_table_ddl("cloudtrail_logs", f"s3://{BUCKET}/logs/AWSLogs/{ORG}/", [ACCT, ACCT2],
                                  ["us-east-1", "eu-west-1"])
    assert runner.run(ddl) == []
    # moto's Athena does not execute SQL: queue DuckDB's rows for the next execution (the counting query)
    req = urllib.request.Request(f"{bucket['endpoint']}/moto-api/static/athena/query-results",
                                 data=json.dumps(seed).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
    res = athena.volume_from_athena(runner, "cloudtrail_logs", matcher, "2026-11-01", "2026-11-30")
    executed = [client.get_query_execution(QueryExecutionId=q)["QueryExecution"]["Query"]
                for q in client.list_query_executions(WorkGroup="mdcnb")["QueryExecutionIds"]]
    assert sql in executed and ddl in executed
    local = volume(tmp_path, since="2026-11-01", until="2026-11-30", processes=1)
    counts = ["date", "account_id", "region", "event_source", "event_name", "actor", "role_arn", "events",
              "read_only_events"]
    assert res.volume[counts].equals(local.volume[counts])
    assert res.summary()["cspm_read_events"] == bucket["expected"]["cspm_read"]
    assert res.volume["bytes"].isna().all()


def test_athena_ddl_projects_accounts_regions_and_days() -> None:
    ddl = athena.create_table_ddl("ct", "s3://b/p/AWSLogs/o-abc123def4", ["111122223333"], ["us-east-1"])
    template = "s3://b/p/AWSLogs/o-abc123def4/${account}/CloudTrail/${region}/${timestamp}"
    assert f"'storage.location.template'='{template}'" in ddl
    assert "'projection.account.values'='111122223333'" in ddl and "PARTITIONED BY (account STRING" in ddl
    with pytest.raises(ValueError):
        athena.create_table_ddl("ct", "s3://b/", [], [])


def test_cli_athena_creates_the_org_table_from_organizations_accounts(aws, capsys) -> None:
    """--create-table without --accounts projects the organisation's accounts (moto Organizations), then counts."""
    org = boto3.client("organizations", endpoint_url=aws, region_name="us-east-1")
    org.create_organization(FeatureSet="ALL")
    for name in ("prod", "dev"):
        org.create_account(Email=f"{name}@example.com", AccountName=name)
    expected = sorted(a["Id"] for a in org.list_accounts()["Accounts"])
    assert len(expected) == 3  # the management account and the two members
    boto3.client("s3", endpoint_url=aws, region_name="us-east-1").create_bucket(Bucket="athena-out")
    code = main(["cloudtrail", "volume", "--athena", "--database", "security", "--output", "s3://athena-out/r/",
                 "--create-table", "s3://trail/AWSLogs/o-abc123def4/", "--regions", "us-east-1",
                 "--endpoint-url", aws, "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["events_total"] == 0 and out["source"] == "athena:security.cloudtrail_logs"
    client = boto3.client("athena", endpoint_url=aws, region_name="us-east-1")
    queries = [client.get_query_execution(QueryExecutionId=q)["QueryExecution"]["Query"]
               for q in client.list_query_executions()["QueryExecutionIds"]]
    ddl = next(q for q in queries if q.startswith("CREATE EXTERNAL TABLE"))
    assert f"'projection.account.values'='{','.join(expected)}'" in ddl


# ---- trails -----------------------------------------------------------------------------------------------------
def test_trail_audit_reads_selectors_status_and_destinations(aws) -> None:
    s3 = boto3.client("s3", endpoint_url=aws, region_name="us-east-1")
    s3.create_bucket(Bucket="trail-dest")
    ct = boto3.client("cloudtrail", endpoint_url=aws, region_name="us-east-1")
    ct.create_trail(Name="all-events", S3BucketName="trail-dest", IsMultiRegionTrail=True)
    ct.start_logging(Name="all-events")
    ct.create_trail(Name="write-only", S3BucketName="trail-dest", S3KeyPrefix="wo")
    ct.put_event_selectors(TrailName="write-only", EventSelectors=[
        {"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}])
    ct.start_logging(Name="write-only")
    ct.create_trail(Name="advanced-reads", S3BucketName="trail-dest")
    ct.put_event_selectors(TrailName="advanced-reads", AdvancedEventSelectors=[{"Name": "mgmt", "FieldSelectors": [
        {"Field": "eventCategory", "Equals": ["Management"]},
        {"Field": "eventSource", "NotEquals": ["kms.amazonaws.com"]}]}])
    ct.start_logging(Name="advanced-reads")
    ct.create_trail(Name="stopped", S3BucketName="trail-dest")
    table = trails.audit(ct).set_index("name")
    assert table.loc["all-events", "records_management_reads"] and table.loc["all-events", "multi_region"]
    assert table.loc["all-events", "selector_kind"] == "default"
    assert table.loc["all-events", "s3_bucket"] == "trail-dest"
    assert not table.loc["write-only", "records_management_reads"]
    assert table.loc["write-only", "note"] == trails.NOTES["write_only"]
    assert table.loc["advanced-reads", "selector_kind"] == "advanced"
    assert table.loc["advanced-reads", "records_management_reads"]
    assert table.loc["advanced-reads", "excluded_sources"] == ["kms.amazonaws.com"]
    assert table.loc["stopped", "logging"] is False or not table.loc["stopped", "logging"]
    assert table.loc["stopped", "note"] == trails.NOTES["not_logging"]


def test_cli_trails_json(aws, capsys) -> None:
    boto3.client("s3", endpoint_url=aws, region_name="us-east-1").create_bucket(Bucket="trail-dest")
    boto3.client("cloudtrail", endpoint_url=aws, region_name="us-east-1").create_trail(
        Name="main-trail", S3BucketName="trail-dest")
    assert main(["cloudtrail", "trails", "--endpoint-url", aws, "--region", "us-east-1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [t["name"] for t in out] == ["main-trail"] and out[0]["records_management_reads"] is True


# ---- LookupEvents (botocore Stubber: moto has no LookupEvents) ---------------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


def _event(rec: dict) -> dict:
    return {"EventId": rec["eventID"], "EventName": rec["eventName"], "ReadOnly": "true",
            "CloudTrailEvent": json.dumps(rec)}


def test_lookup_events_pages_paces_retries_and_post_filters() -> None:
    client = boto3.client("cloudtrail", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    day = "2026-11-20T10:00:00Z"
    page1 = [role_call(1, CSPM, day), role_call(2, SCANNER, day), user_call(3, day)]
    page2 = [role_call(4, CSPM, day), assume_web(5, CSPM, day), role_call(1, CSPM, day)]  # id 1 again
    expected = {"LookupAttributes": [{"AttributeKey": "ReadOnly", "AttributeValue": "true"}], "StartTime": ANY,
                "EndTime": ANY, "MaxResults": 50}
    with Stubber(client) as stub:
        stub.add_response("lookup_events", {"Events": [_event(r) for r in page1], "NextToken": "t1"}, expected)
        stub.add_client_error("lookup_events", "ThrottlingException", "Rate exceeded",
                              expected_params={**expected, "NextToken": "t1"})
        stub.add_response("lookup_events", {"Events": [*[_event(r) for r in page2],
                                                       {"EventId": "bad", "CloudTrailEvent": "{not json"}]},
                          {**expected, "NextToken": "t1"})
        fake = FakeClock()
        res = lookup.volume_from_lookup({"us-east-1": client}, RoleMatcher.build(), since="2026-11-01",
                                        until="2026-11-27", now=datetime(2026, 11, 28, tzinfo=UTC),
                                        pacer_factory=lambda: lookup.Pacer(clock=fake.clock, sleep=fake.sleep))
        stub.assert_no_pending_responses()
    s = res.summary()
    assert s["cspm_events"] == 2 and s["assume_role_events"] == 1 and s["duplicates_dropped"] == 1
    assert s["other_mdc_role_events"] == {"DefenderForCloud-AgentlessScanner": 1}
    assert s["record_issues"] == {"CloudTrailEvent is not JSON (skipped)": 1}
    # three calls at <= 2/s: 0.5 s before the second; after the throttle a 1 s back-off, which already spaces
    # the third call more than 0.5 s from the second, so the pacer adds nothing
    assert fake.sleeps == [0.5, 1.0]


def test_lookup_rejects_unknown_attribute() -> None:
    with pytest.raises(ValueError, match="LookupEvents attribute"):
        lookup.volume_from_lookup({}, RoleMatcher.build(), attribute=("UserIdentityArn", "x"))


def test_lookup_window_is_capped_at_90_days() -> None:
    client = boto3.client("cloudtrail", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(client) as stub:
        stub.add_response("lookup_events", {"Events": []},
                          {"LookupAttributes": ANY, "StartTime": datetime(2026, 8, 30, tzinfo=UTC),
                           "EndTime": ANY, "MaxResults": 50})
        res = lookup.volume_from_lookup({"us-east-1": client}, RoleMatcher.build(), since="2026-01-01",
                                        now=datetime(2026, 11, 28, tzinfo=UTC))
    assert any("90 days" in n for n in res.notes)
