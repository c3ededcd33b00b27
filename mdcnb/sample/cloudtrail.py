"""Sample part: the tenant's CloudTrail logs and trail configuration under `<dataset>/cloudtrail/`.

Three weeks of logs (the full days before `as_of`) for every account of the AWS organisation, written as one
organisation trail (`AWSLogs/o-<org>/<acct>/CloudTrail/<region>/YYYY/MM/DD/...json.gz`) plus the standalone
partner account in the single-account layout (`AWSLogs/<acct>/...`). MDC's CSPM role reads each connected
account every `scan_interval_hours` in its regions (from the day its connector was added); the other MDC
roles of its offerings act daily with the same session name; AssumeRoleWithWebIdentity records precede
them; ordinary users and AWS services make most of the traffic. Also: a `CloudTrail-Digest` folder, one
event delivered in two files, and `cloudtrail/trails.json` (DescribeTrails + GetEventSelectors +
GetTrailStatus answers, the shape `mdcnb.tables.cloudtrail.trails` reads) for the trail audit.
"""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import datetime, timedelta

import orjson

from mdcnb.sample.cloudtrail_synth import Builder, TrailAccount, write_account_logs
from mdcnb.sample.context import SampleContext
from mdcnb.sources.dataset import cloudtrail_root

DAYS = 21
ORG_ID = "o-c0nt0s0a1b"
DEFAULT_REGIONS = ("us-east-1", "eu-west-1")  # for connectors that scan all regions
USER_EVENTS_PER_REGION_DAY = 30
# The sample reads fewer APIs per scan than the real role (to stay small: about 2.5 MB of gzip); the benchmark
# and the tests use the full lists of mdcnb.sample.cloudtrail_synth.
SAMPLE_REGIONAL = [("ec2", "DescribeInstances", 1), ("ec2", "DescribeSecurityGroups", 1), ("ec2", "DescribeVpcs", 1),
                   ("kms", "ListKeys", 1), ("cloudtrail", "DescribeTrails", 1), ("rds", "DescribeDBInstances", 1)]
SAMPLE_GLOBAL = [("iam", "ListRoles", 1), ("iam", "GetAccountPasswordPolicy", 1), ("s3", "ListBuckets", 1),
                 ("sts", "GetCallerIdentity", 1)]
OFFERING_ROLES = {"DefenderCspmAws": "DefenderForCloud-AgentlessScanner",
                  "DefenderForServersAws": "DefenderForCloud-DefenderForServers",
                  "DefenderForContainersAws": "DefenderForCloud-Containers-K8s"}


def trail_accounts(ctx: SampleContext, start: datetime) -> list[tuple[TrailAccount, datetime]]:
    """(account spec, first day CSPM reads it) for each organisation account and each native AWS connector."""
    out = []
    org_accounts = {a.account_id for a in ctx.aws_accounts}
    connected = {c.hierarchy_id: c for c in ctx.native_connectors("AWS") if c.active(ctx.latest_week)}
    for account_id in sorted(org_accounts | set(connected)):
        c = connected.get(account_id)
        regions = (c.regions or DEFAULT_REGIONS) if c else ("us-east-1",)
        others = tuple(c.role_arn(OFFERING_ROLES[o]) for o in c.offerings if o in OFFERING_ROLES) if c else ()
        spec = TrailAccount(account_id, tuple(regions), (c.scan_interval_hours or 12) if c else 24,
                            c.cspm_role_arn if c else None, others, ORG_ID if account_id in org_accounts else None,
                            USER_EVENTS_PER_REGION_DAY)
        # a connector there from the first snapshot (first_week 0) was there before the logs begin, whatever the
        # number of weeks (with one, week 0 is `as_of`, the end of the logs: the reads must not start there)
        added = ctx.week_time(c.first_week) if c and c.first_week else start
        first = min(max(start, added), start + timedelta(days=DAYS))
        out.append((spec, first))
    return out


def write(ctx: SampleContext) -> None:
    root = cloudtrail_root(ctx.out)
    shutil.rmtree(root, ignore_errors=True)
    end = ctx.as_of.replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=DAYS)
    builder = Builder(ctx.rng("cloudtrail"), tenant_id=ctx.tenant_id)
    written = {"files": 0, "events": 0}
    for spec, cspm_from in trail_accounts(ctx, start):
        before = (cspm_from - start).days
        if before:  # the connector came later: no CSPM reads before it existed
            quiet = TrailAccount(spec.account_id, spec.regions, spec.scan_interval_hours, None, (), spec.org_id,
                                 spec.user_events_per_day)
            _add(written, write_account_logs(root, builder, quiet, start, before, delivery_hours=12,
                                             regional=SAMPLE_REGIONAL, global_=SAMPLE_GLOBAL))
        _add(written, write_account_logs(root, builder, spec, start + timedelta(days=before), DAYS - before,
                                         delivery_hours=12, regional=SAMPLE_REGIONAL, global_=SAMPLE_GLOBAL))
    _redeliver_one_event(root)
    _digests(root, ctx, start)
    (root / "trails.json").write_text(json.dumps(_trails(ctx), indent=1) + "\n", encoding="utf-8")


def _add(total: dict[str, int], part: dict[str, int]) -> None:
    for k, v in part.items():
        total[k] += v


def _redeliver_one_event(root) -> None:
    """CloudTrail may deliver an event twice: copy the first CSPM read found into a file of its own."""
    for path in sorted(root.rglob("*_CloudTrail_*.json.gz")):
        for rec in orjson.loads(gzip.decompress(path.read_bytes()))["Records"]:
            issuer = (rec.get("userIdentity", {}).get("sessionContext") or {}).get("sessionIssuer") or {}
            if issuer.get("userName") == "CspmMonitorAws":
                name = path.name.replace(".json.gz", "").rsplit("_", 1)[0] + "_REDELIVERED00000.json.gz"
                (path.parent / name).write_bytes(gzip.compress(orjson.dumps({"Records": [rec]}), mtime=0))
                return


def _digests(root, ctx: SampleContext, start: datetime) -> None:
    """Digest files of the management account (one per day): the scanner must skip them."""
    mgmt = next((a.account_id for a in ctx.aws_accounts if a.management), None)
    for day in range(DAYS if mgmt else 0):
        when = start + timedelta(days=day, hours=23)
        folder = root / f"AWSLogs/{ORG_ID}/{mgmt}/CloudTrail-Digest/us-east-1/{when:%Y/%m/%d}"
        folder.mkdir(parents=True, exist_ok=True)
        digest = {"awsAccountId": mgmt, "digestStartTime": f"{when:%Y-%m-%dT%H}:00:00Z",
                  "digestEndTime": f"{when:%Y-%m-%dT%H}:59:59Z", "digestS3Bucket": "contoso-org-trail",
                  "logFiles": [], "digestSignatureAlgorithm": "SHA256withRSA"}
        name = f"{mgmt}_CloudTrail-Digest_us-east-1_org-trail_us-east-1_{when:%Y%m%dT%H%M%S}Z.json.gz"
        (folder / name).write_bytes(gzip.compress(json.dumps(digest).encode(), mtime=0))


def _trails(ctx: SampleContext) -> list[dict]:
    """Trail configuration as DescribeTrails / GetEventSelectors / GetTrailStatus return it."""
    mgmt = next((a.account_id for a in ctx.aws_accounts if a.management), None)
    partner = next((c.hierarchy_id for c in ctx.native_connectors("AWS") if c.membership is None), None)
    if not (mgmt and partner):
        return []

    def trail(account: str, name: str, bucket: str, **extra) -> dict:
        return {"Name": name, "S3BucketName": bucket, "IncludeGlobalServiceEvents": True, "HomeRegion": "us-east-1",
                "TrailARN": f"arn:aws:cloudtrail:us-east-1:{account}:trail/{name}", "LogFileValidationEnabled": True,
                "HasInsightSelectors": False, **extra}

    all_mgmt = {"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True,
                                    "DataResources": [], "ExcludeManagementEventSources": []}]}
    return [
        {"trail": trail(mgmt, "org-trail", "contoso-org-trail", IsMultiRegionTrail=True, IsOrganizationTrail=True,
                        HasCustomEventSelectors=False,
                        CloudWatchLogsLogGroupArn=f"arn:aws:logs:us-east-1:{mgmt}:log-group:org-trail:*",
                        CloudWatchLogsRoleArn=f"arn:aws:iam::{mgmt}:role/CloudTrail_CloudWatchLogs_Role"),
         "eventSelectors": {"TrailARN": f"arn:aws:cloudtrail:us-east-1:{mgmt}:trail/org-trail", **all_mgmt},
         "status": {"IsLogging": True}},
        {"trail": trail(mgmt, "security-writes", "contoso-security-writes", IsMultiRegionTrail=True,
                        IsOrganizationTrail=False, HasCustomEventSelectors=True),
         "eventSelectors": {"TrailARN": f"arn:aws:cloudtrail:us-east-1:{mgmt}:trail/security-writes",
                            "AdvancedEventSelectors": [{"Name": "Management writes", "FieldSelectors": [
                                {"Field": "eventCategory", "Equals": ["Management"]},
                                {"Field": "readOnly", "Equals": ["false"]}]}]},
         "status": {"IsLogging": True}},
        {"trail": trail(partner, "sandbox-trail", f"fabrikam-sandbox-{partner}", IsMultiRegionTrail=True,
                        IsOrganizationTrail=False, HasCustomEventSelectors=True),
         "eventSelectors": {"TrailARN": f"arn:aws:cloudtrail:us-east-1:{partner}:trail/sandbox-trail",
                            "EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True,
                                                "DataResources": [], "ExcludeManagementEventSources": []}]},
         "status": {"IsLogging": True}},
    ]
