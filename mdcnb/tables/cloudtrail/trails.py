"""Trail audit: does each trail record read-only management events (so CSPM's reads land in it), where to.

Read-only calls: DescribeTrails, GetEventSelectors, GetTrailStatus. The raw answers are kept in the shape AWS
returns (`{"trail": ..., "eventSelectors": ..., "status": ...}` per trail), which is also how a dataset stores
them (`cloudtrail/trails.json`), so live and recorded configurations go through the same code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from mdcnb.core import schema
from mdcnb.sources.dataset import cloudtrail_root

TRAILS_FILE = "trails.json"
NOTES = {
    "records": "records read-only management events: CSPM's reads are in this trail",
    "write_only": "records write events only: CSPM's reads are not in this trail",
    "no_management": "records no management events: CSPM's reads are not in this trail",
    "not_logging": "logging is stopped: nothing is delivered",
    "unknown": "event selectors could not be read",
}


def cloudtrail_client(profile: str | None = None, region: str | None = None, endpoint_url: str | None = None) -> Any:
    import boto3

    session = boto3.Session(profile_name=profile) if profile else boto3.Session()
    return session.client("cloudtrail", region_name=region, endpoint_url=endpoint_url)


def raw_trails(client: Any) -> list[dict[str, Any]]:
    """The trails' configuration as AWS returns it; a call that fails leaves its part out with the error."""
    from botocore.exceptions import ClientError

    out = []
    for trail in client.describe_trails(includeShadowTrails=True).get("trailList", []):
        item: dict[str, Any] = {"trail": trail}
        arn = trail.get("TrailARN") or trail.get("Name")
        for part, call in (("eventSelectors", lambda a: client.get_event_selectors(TrailName=a)),
                           ("status", lambda a: client.get_trail_status(Name=a))):
            try:
                resp = call(arn)
                resp.pop("ResponseMetadata", None)
                item[part] = resp
            except ClientError as exc:
                item[f"{part}Error"] = exc.response.get("Error", {}).get("Code", str(exc))
        out.append(item)
    return out


def _records_reads(sel: dict[str, Any] | None, trail: dict[str, Any]) -> tuple[str, bool | None, list[str]]:
    """(selector kind, records read-only management events, excluded event sources).

    A trail without custom selectors logs all management events, reads included (CloudTrail's default)."""
    if not sel:
        return "unknown", None, []
    custom = sel.get("EventSelectors") or sel.get("AdvancedEventSelectors")
    if not custom and not trail.get("HasCustomEventSelectors"):
        return "default", True, []
    advanced = sel.get("AdvancedEventSelectors") or []
    if advanced:
        reads, excluded = False, []
        for s in advanced:
            fields = {f.get("Field"): f for f in s.get("FieldSelectors", [])}
            if "Management" not in (fields.get("eventCategory", {}).get("Equals") or []):
                continue
            ro = fields.get("readOnly", {})
            if "false" in (ro.get("Equals") or []) or "true" in (ro.get("NotEquals") or []):
                continue
            reads = True
            excluded += fields.get("eventSource", {}).get("NotEquals") or []
        return "advanced", reads, sorted(set(excluded))
    basic = sel.get("EventSelectors") or []
    if not basic:
        return "none", False, []
    reads, excluded = False, []
    for s in basic:
        if s.get("IncludeManagementEvents", True) and s.get("ReadWriteType", "All") in ("All", "ReadOnly"):
            reads = True
            excluded += s.get("ExcludeManagementEventSources") or []
    return "basic", reads, sorted(set(excluded))


def _note(item: dict[str, Any], kind: str, reads: bool | None) -> str:
    status = item.get("status") or {}
    if status.get("IsLogging") is False:
        return NOTES["not_logging"]
    if reads is None:
        return NOTES["unknown"]
    if reads:
        return NOTES["records"]
    basic = (item.get("eventSelectors") or {}).get("EventSelectors") or []
    if kind == "basic" and any(s.get("ReadWriteType") == "WriteOnly" for s in basic):
        return NOTES["write_only"]
    if kind == "advanced":
        return NOTES["write_only"]
    return NOTES["no_management"]


def trails_table(raw: list[dict[str, Any]]) -> pd.DataFrame:
    """The schema.CLOUDTRAIL_TRAILS table from raw trail items."""
    rows = []
    for item in raw:
        t = item.get("trail") or {}
        kind, reads, excluded = _records_reads(item.get("eventSelectors"), t)
        arn = t.get("TrailARN") or ""
        rows.append({
            "trail_arn": arn, "name": t.get("Name"),
            "account_id": arn.split(":")[4] if arn.count(":") >= 5 else None,
            "home_region": t.get("HomeRegion"), "multi_region": t.get("IsMultiRegionTrail"),
            "organization_trail": t.get("IsOrganizationTrail"),
            "logging": (item.get("status") or {}).get("IsLogging"),
            "selector_kind": kind, "records_management_reads": reads, "excluded_sources": excluded,
            "s3_bucket": t.get("S3BucketName"), "s3_prefix": t.get("S3KeyPrefix"),
            "cloudwatch_log_group": t.get("CloudWatchLogsLogGroupArn"), "note": _note(item, kind, reads),
        })
    return schema.CLOUDTRAIL_TRAILS.frame(rows)


def audit(client: Any) -> pd.DataFrame:
    return trails_table(raw_trails(client))


def trails_from_dataset(dataset: str | Path | None) -> pd.DataFrame:
    """The trail table recorded in a dataset (`cloudtrail/trails.json`); empty when none was recorded."""
    from mdcnb.sources.dataset import default_dataset

    path = cloudtrail_root(Path(dataset) if dataset else default_dataset()) / TRAILS_FILE
    if not path.exists():
        return schema.CLOUDTRAIL_TRAILS.frame()
    return trails_table(json.loads(path.read_text(encoding="utf-8")))
