"""Counting in Athena for organisations too large for one machine, with SQL that DuckDB runs unchanged.

`create_table_ddl` writes the partition-projection table over a trail bucket (the AWS DDL of
reference/aws-cloudtrail.md §3.3, extended with projected `account` and `region` so one table covers an
organisation trail); `counting_query` writes the counting SQL with the same rules as the local scanner
(identity by sessionIssuer.arn, AssumeRoleWithWebIdentity by requestParameters.roleArn, other MDC roles,
de-duplication by eventid). `duckdb_table` builds a DuckDB view with the Athena table's columns over local
files, so the very same query text runs locally (the tests prove both give the local scanner's counts).
Bytes are not visible to Athena: its result has no byte counts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from mdcnb.normalize.cloudtrail.counts import DAY_COUNTERS, HOUR_COUNTERS
from mdcnb.normalize.cloudtrail.identity import CSPM_ROLE_NAME, DEFAULT_ROLE_NAMES, SESSION_PREFIX, RoleMatcher
from mdcnb.sources.cloudtrail.layout import DEFAULT_MARGIN_DAYS
from mdcnb.tables.cloudtrail.result import Counted, VolumeResult, tables_from_totals

DDL_COLUMNS = """    eventversion STRING,
    useridentity STRUCT<type: STRING, principalid: STRING, arn: STRING, accountid: STRING, invokedby: STRING,
        accesskeyid: STRING, username: STRING,
        sessioncontext: STRUCT<attributes: STRUCT<mfaauthenticated: STRING, creationdate: STRING>,
            sessionissuer: STRUCT<type: STRING, principalid: STRING, arn: STRING, accountid: STRING, username: STRING>,
            webidfederationdata: STRUCT<federatedprovider: STRING, attributes: map<string,string>>>>,
    eventtime STRING, eventsource STRING, eventname STRING, awsregion STRING, sourceipaddress STRING,
    useragent STRING, errorcode STRING, errormessage STRING, requestparameters STRING, responseelements STRING,
    additionaleventdata STRING, requestid STRING, eventid STRING, readonly STRING,
    resources ARRAY<STRUCT<arn: STRING, accountid: STRING, type: STRING>>,
    eventtype STRING, apiversion STRING, recipientaccountid STRING, serviceeventdetails STRING,
    sharedeventid STRING, vpcendpointid STRING, vpcendpointaccountid STRING, eventcategory STRING,
    addendum STRUCT<reason:STRING, updatedfields:STRING, originalrequestid:STRING, originaleventid:STRING>,
    sessioncredentialfromconsole STRING, edgedevicedetails STRING,
    tlsdetails STRUCT<tlsversion:STRING, ciphersuite:STRING, clientprovidedhostheader:STRING>"""


def _sql_list(values: Sequence[str]) -> str:
    for v in values:
        if "'" in v:
            raise ValueError(f"quote in SQL literal: {v!r}")
    return ", ".join(f"'{v}'" for v in values) if values else "NULL"


def create_table_ddl(table: str, location: str, accounts: Sequence[str], regions: Sequence[str],
                     first_day: str = "2020/01/01") -> str:
    """Partition-projection DDL over `location` = the folder holding the account folders
    (`s3://bucket/prefix/AWSLogs/` or, for an organisation trail, `s3://bucket/prefix/AWSLogs/o-xxxx/`)."""
    if not (accounts and regions):
        raise ValueError("the Athena table needs the account ids and regions to project (--accounts, --regions)")
    loc = location.rstrip("/") + "/"
    return f"""CREATE EXTERNAL TABLE IF NOT EXISTS {table} (
{DDL_COLUMNS})
PARTITIONED BY (account STRING, region STRING, `timestamp` STRING)
ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'
STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION '{loc}'
TBLPROPERTIES (
  'projection.enabled'='true',
  'projection.account.type'='enum',
  'projection.account.values'='{",".join(accounts)}',
  'projection.region.type'='enum',
  'projection.region.values'='{",".join(regions)}',
  'projection.timestamp.type'='date',
  'projection.timestamp.format'='yyyy/MM/dd',
  'projection.timestamp.interval'='1',
  'projection.timestamp.interval.unit'='DAYS',
  'projection.timestamp.range'='{first_day},NOW',
  'storage.location.template'='{loc}${{account}}/CloudTrail/${{region}}/${{timestamp}}')"""


def organization_accounts(client: Any) -> list[str]:
    """Active account ids of the AWS organisation (Organizations ListAccounts, paginated): the `account` values
    an organisation trail's table projects when the user does not list them."""
    ids = []
    for page in client.get_paginator("list_accounts").paginate():
        ids += [a["Id"] for a in page.get("Accounts", []) if a.get("Status", "ACTIVE") == "ACTIVE"]
    return sorted(ids)


def _last_segment(expr: str) -> str:
    return f"reverse(split_part(reverse({expr}), '/', 1))"


def _cspm_test(expr: str, matcher: RoleMatcher) -> str:
    if matcher.cspm_arns:
        return f"{expr} IN ({_sql_list(sorted(matcher.cspm_arns))})"
    return f"({expr} LIKE 'arn:aws%:iam::%:role/%' AND {_last_segment(expr)} = '{CSPM_ROLE_NAME}')"


def _mdc_test(expr: str, session: str, matcher: RoleMatcher) -> str:
    names = _sql_list(sorted(DEFAULT_ROLE_NAMES))
    return (f"({expr} IN ({_sql_list(sorted(matcher.mdc_role_arns))})"
            f" OR ({expr} LIKE 'arn:aws%:iam::%:role/%' AND {_last_segment(expr)} IN ({names}))"
            f" OR substr({session}, 1, {len(SESSION_PREFIX)}) = '{SESSION_PREFIX}')")


def counting_query(table: str, matcher: RoleMatcher, since: str | None = None, until: str | None = None,
                   margin_days: int = DEFAULT_MARGIN_DAYS) -> str:
    """Events per hour x account x region x eventsource x eventname x actor x role ARN, de-duplicated by eventid.
    Runs on Athena (Trino) and on DuckDB over `duckdb_table`."""
    where = ["eventtime IS NOT NULL", "length(eventtime) >= 13"]
    if since:
        where += [f"\"timestamp\" >= '{since.replace('-', '/')}'", f"substr(eventtime, 1, 10) >= '{since}'"]
    if until:
        last = (date.fromisoformat(until) + timedelta(days=margin_days)).strftime("%Y/%m/%d")
        where += [f"\"timestamp\" <= '{last}'", f"substr(eventtime, 1, 10) <= '{until}'"]
    issuer, assumed = "issuer_arn", "assumed_role_arn"
    has_issuer = "(issuer_arn IS NOT NULL AND issuer_arn <> '')"
    is_assume = "(eventname = 'AssumeRoleWithWebIdentity' AND assumed_role_arn IS NOT NULL AND assumed_role_arn <> '')"
    session = _last_segment("coalesce(useridentity.arn, '')")
    assume_session = "coalesce(assumed_session, '')"
    return f"""WITH events AS (
  SELECT substr(eventtime, 1, 13) AS hour,
         coalesce(recipientaccountid, account, useridentity.accountid) AS account_id,
         awsregion AS region, eventsource, eventname, readonly, eventid, useridentity,
         useridentity.sessioncontext.sessionissuer.arn AS issuer_arn,
         json_extract_scalar(requestparameters, '$.roleArn') AS assumed_role_arn,
         json_extract_scalar(requestparameters, '$.roleSessionName') AS assumed_session,
         row_number() OVER (PARTITION BY eventid ORDER BY eventtime) AS copy
  FROM {table}
  WHERE {" AND ".join(where)}
), classified AS (
  SELECT hour, account_id, region, eventsource, eventname, readonly,
         CASE WHEN {has_issuer} AND {_cspm_test(issuer, matcher)} THEN 'cspm'
              WHEN {has_issuer} AND {_mdc_test(issuer, session, matcher)} THEN 'mdc_other'
              WHEN {has_issuer} THEN 'other'
              WHEN {is_assume} AND {_cspm_test(assumed, matcher)} THEN 'cspm_assume_role'
              WHEN {is_assume} AND {_mdc_test(assumed, assume_session, matcher)} THEN 'mdc_other'
              ELSE 'other' END AS actor,
         CASE WHEN {has_issuer} THEN issuer_arn WHEN {is_assume} THEN assumed_role_arn END AS role_arn
  FROM events
  WHERE copy = 1 OR eventid IS NULL
)
SELECT hour, account_id, region, eventsource, eventname, actor,
       CASE WHEN actor = 'other' THEN NULL ELSE role_arn END AS role_arn,
       count(*) AS events,
       sum(CASE WHEN readonly = 'true' THEN 1 ELSE 0 END) AS read_only_events
FROM classified
GROUP BY hour, account_id, region, eventsource, eventname, actor, CASE WHEN actor = 'other' THEN NULL ELSE role_arn END
ORDER BY hour, account_id, region, eventsource, eventname, actor"""


def volume_from_rows(rows: list[dict[str, Any]], source: str, matcher: RoleMatcher, since: str | None,
                     until: str | None) -> VolumeResult:
    """A VolumeResult from the counting query's rows (bytes unknown: left null)."""
    totals: dict[tuple, list[int]] = {}
    hours: dict[tuple, list[int]] = {}
    for r in rows:
        events, read_only = int(r["events"]), int(r["read_only_events"] or 0)
        key = (r["hour"][:10], r["account_id"], r["region"], r["eventsource"], r["eventname"], r["actor"],
               r.get("role_arn") or None)
        t = totals.setdefault(key, [0, 0, 0, 0])
        t[0] += events
        t[1] += read_only
        h = hours.setdefault((r["hour"], r["account_id"], r["region"], r["actor"]), [0, 0, 0])
        h[0] += events
        h[1] += read_only
    volume, hourly = tables_from_totals(Counted.of(totals, DAY_COUNTERS), Counted.of(hours, HOUR_COUNTERS))
    for df, cols in ((volume, ["bytes", "read_only_bytes"]), (hourly, ["bytes"])):
        for col in cols:
            df[col] = pd.Series(pd.NA, index=df.index, dtype="Int64")
    res = VolumeResult(volume=volume, hourly=hourly, source=source, since=since, until=until,
                       role_arns=sorted(matcher.cspm_arns))
    res.notes = ["counted by Athena: byte sizes are not available (null); duplicates dropped inside the query"]
    return res


# ---- running on Athena -------------------------------------------------------------------------------------------
def athena_client(profile: str | None = None, endpoint_url: str | None = None, region: str | None = None) -> Any:
    import boto3

    session = boto3.Session(profile_name=profile) if profile else boto3.Session()
    return session.client("athena", endpoint_url=endpoint_url, region_name=region)


class AthenaRunner:
    """Runs one statement at a time: start, poll until done, read all result pages (header row dropped)."""

    def __init__(self, client: Any, database: str, workgroup: str, output: str, *,
                 poll_seconds: float = 1.0, timeout_seconds: float = 1800, sleep: Callable[[float], None] = time.sleep):
        self.client, self.database, self.workgroup, self.output = client, database, workgroup, output
        self.poll_seconds, self.timeout_seconds, self.sleep = poll_seconds, timeout_seconds, sleep

    def run(self, sql: str) -> list[dict[str, str | None]]:
        qid = self.client.start_query_execution(
            QueryString=sql, QueryExecutionContext={"Database": self.database}, WorkGroup=self.workgroup,
            ResultConfiguration={"OutputLocation": self.output})["QueryExecutionId"]
        waited = 0.0
        while True:
            status = self.client.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]
            state = status["State"]
            if state == "SUCCEEDED":
                break
            if state in ("FAILED", "CANCELLED"):
                raise RuntimeError(f"Athena query {qid} {state}: {status.get('StateChangeReason', '')}")
            if waited >= self.timeout_seconds:
                raise TimeoutError(f"Athena query {qid} still {state} after {waited:.0f} s")
            self.sleep(self.poll_seconds)
            waited += self.poll_seconds
        rows: list[list[str | None]] = []
        for page in self.client.get_paginator("get_query_results").paginate(QueryExecutionId=qid):
            rows += [[c.get("VarCharValue") for c in r.get("Data", [])] for r in page["ResultSet"]["Rows"]]
        if not rows:
            return []
        header, *data = rows
        return [dict(zip(header, r, strict=False)) for r in data]


def volume_from_athena(runner: AthenaRunner, table: str, matcher: RoleMatcher, since: str | None,
                       until: str | None) -> VolumeResult:
    rows = runner.run(counting_query(table, matcher, since, until))
    return volume_from_rows(rows, f"athena:{runner.database}.{table}", matcher, since, until)


# ---- the same SQL on DuckDB ----------------------------------------------------------------------------------------
_RECORD_STRUCT = (
    "STRUCT(eventVersion VARCHAR, eventTime VARCHAR, eventSource VARCHAR, eventName VARCHAR, awsRegion VARCHAR,"
    " eventID VARCHAR, readOnly VARCHAR, recipientAccountId VARCHAR, requestParameters JSON,"
    " userIdentity STRUCT(type VARCHAR, arn VARCHAR, accountId VARCHAR, principalId VARCHAR,"
    " sessionContext STRUCT(sessionIssuer STRUCT(arn VARCHAR, userName VARCHAR))))[]")


def duckdb_table(con: Any, name: str, files: Sequence[str | Path]) -> None:
    """Create view `name` with the Athena table's columns (those the counting query uses) over local log files
    (`{"Records": [...]}`, gzip or plain), plus the Trino function the query needs (`json_extract_scalar`)."""
    paths = "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in files) + "]"
    con.execute("CREATE OR REPLACE MACRO json_extract_scalar(j, p) AS json_extract_string(j, p)")
    con.execute(f"""CREATE OR REPLACE VIEW {name} AS
SELECT r.eventVersion AS eventversion,
       {{'type': r.userIdentity.type, 'arn': r.userIdentity.arn, 'accountid': r.userIdentity.accountId,
         'principalid': r.userIdentity.principalId,
         'sessioncontext': {{'sessionissuer': {{'arn': r.userIdentity.sessionContext.sessionIssuer.arn,
                                               'username': r.userIdentity.sessionContext.sessionIssuer.userName}}}}}}
         AS useridentity,
       r.eventTime AS eventtime, r.eventSource AS eventsource, r.eventName AS eventname, r.awsRegion AS awsregion,
       CAST(r.requestParameters AS VARCHAR) AS requestparameters, r.eventID AS eventid, r.readOnly AS readonly,
       r.recipientAccountId AS recipientaccountid,
       regexp_extract(filename, 'AWSLogs/(o-[a-z0-9]+/)?([0-9]{{12}})/', 2) AS account,
       regexp_extract(filename, '/CloudTrail/([a-z0-9-]+)/', 1) AS region,
       regexp_extract(filename, '/([0-9]{{4}}/[0-9]{{2}}/[0-9]{{2}})/[^/]*$', 1) AS "timestamp"
FROM (SELECT unnest(Records) AS r, filename
      FROM read_json({paths}, records=true, filename=true, maximum_object_size=1073741824,
                     columns={{'Records': '{_RECORD_STRUCT}'}}))""")
