"""The sample tenant's CloudTrail logs: the scanner's counts equal a plain independent count of the files."""

from __future__ import annotations

import gzip
import json
from collections import Counter

from mdcnb.sources.dataset import SAMPLE_DATASET, read_records
from mdcnb.tables.cloudtrail import volume
from mdcnb.tables.cloudtrail.trails import trails_from_dataset


def _connector_roles() -> tuple[set[str], set[str]]:
    """CspmMonitorAws cloudRoleArns and every other cloudRoleArn, read straight from the connector records."""
    cspm, other = set(), set()

    def walk(node, offering):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "cloudRoleArn":
                    (cspm if offering == "CspmMonitorAws" else other).add(v)
                walk(v, offering)
        elif isinstance(node, list):
            for v in node:
                walk(v, offering)

    for rec in read_records(SAMPLE_DATASET, "securityconnectors").records:
        for off in (rec.get("properties") or {}).get("offerings") or []:
            walk(off, off.get("offeringType"))
    return cspm, other


def test_sample_logs_match_an_independent_count() -> None:
    root = SAMPLE_DATASET / "cloudtrail"
    cspm_roles, _ = _connector_roles()
    seen, dups, digests = {}, 0, 0
    for path in sorted(root.rglob("*.json.gz")):
        if "CloudTrail-Digest" in str(path):
            digests += 1
            continue
        for rec in json.loads(gzip.decompress(path.read_bytes()))["Records"]:
            if rec["eventID"] in seen:
                dups += 1
            seen[rec["eventID"]] = rec
    records = list(seen.values())
    issuer = [((r["userIdentity"].get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn") for r in records]
    cspm = Counter(r["recipientAccountId"] for r, a in zip(records, issuer, strict=True) if a in cspm_roles)
    assume = sum(1 for r in records if r["eventName"] == "AssumeRoleWithWebIdentity"
                 and r["requestParameters"]["roleArn"] in cspm_roles)

    s = volume(root, dataset=SAMPLE_DATASET, processes=2).summary()
    assert s["events_total"] == len(records) and s["duplicates_dropped"] == dups == 1
    assert s["digest_files_skipped"] == digests > 0 and s["files_skipped"] == [] and s["record_issues"] == {}
    assert s["cspm_read_events"] == sum(cspm.values()) and s["assume_role_events"] == assume
    assert {a: v["cspm_read_events"] for a, v in s["by_account"].items() if v["cspm_read_events"]} == dict(cspm)
    # the custom-named CSPM role of one connector is matched through the dataset
    assert any(arn.endswith("role/mdc-cspm-reader") for arn in s["role_arns"])
    assert set(s["other_mdc_role_events"]) >= {"DefenderForCloud-AgentlessScanner"}
    # ordinary traffic dominates
    assert s["cspm_events"] < s["events_total"] / 2


def test_sample_trail_configuration() -> None:
    t = trails_from_dataset(SAMPLE_DATASET).set_index("name")
    assert bool(t.loc["org-trail", "records_management_reads"]) and bool(t.loc["org-trail", "organization_trail"])
    assert not t.loc["security-writes", "records_management_reads"]
    assert t.loc["org-trail", "cloudwatch_log_group"].startswith("arn:aws:logs:")


def test_large_tenant_logs_hold_cspm_reads_in_every_week(tmp_path) -> None:
    """The large tenant has one snapshot week by default; its logs (three weeks before it) still hold CSPM reads
    of every connected account in each of their weeks (they once started at the snapshot, so held none)."""
    from datetime import datetime, timedelta

    from mdcnb.sample import build_context
    from mdcnb.sample import cloudtrail as sample_cloudtrail

    ctx = build_context(seed=0, scale="large", out=tmp_path, weeks=None, plain=False)
    assert ctx.weeks == 1
    sample_cloudtrail.write(ctx)
    roles = {c.cspm_role_arn for c in ctx.native_connectors("AWS") if c.active(ctx.latest_week)}
    end = ctx.as_of.replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=sample_cloudtrail.DAYS)
    reads: Counter = Counter()
    seen = set()  # one event is delivered twice: counted once
    for path in (tmp_path / "cloudtrail").rglob("*_CloudTrail_*.json.gz"):
        for rec in json.loads(gzip.decompress(path.read_bytes()))["Records"]:
            issuer = ((rec["userIdentity"].get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn")
            if issuer in roles and rec["readOnly"] and rec["eventID"] not in seen:
                seen.add(rec["eventID"])
                when = datetime.fromisoformat(rec["eventTime"].replace("Z", "+00:00"))
                reads[issuer, (when - start).days // 7] += 1
    assert len(roles) >= 5
    assert {key for key, n in reads.items() if n} == {(role, week) for role in roles for week in range(3)}
    s = volume(tmp_path / "cloudtrail", role_arns=sorted(roles), processes=1).summary()
    assert s["cspm_read_events"] == sum(reads.values())
