"""Trends and headline numbers over the two hand-built weeks of tests/diff_snapshots.py, expected values by hand."""

from __future__ import annotations

from diff_snapshots import AFTER, BEFORE

from mdcnb.analysis import history as trends
from mdcnb.core import schema
from mdcnb.tables.cloudtrail.result import cloudtrail_daily

WEEKS = {"2026-W47": BEFORE, "2026-W48": AFTER}


def test_plan_coverage_trend():
    trend = trends.plan_coverage_trend(WEEKS).set_index(["plan", "week"])
    expected = {("VirtualMachines", "2026-W47"): (0, 1, 0.0), ("VirtualMachines", "2026-W48"): (1, 1, 100.0),
                ("StorageAccounts", "2026-W47"): (2, 2, 100.0), ("StorageAccounts", "2026-W48"): (1, 2, 50.0),
                ("Containers", "2026-W48"): (0, 1, 0.0), ("CloudPosture", "2026-W48"): (1, 1, 100.0)}
    for key, (enabled, scopes, coverage) in expected.items():
        assert tuple(trend.loc[key, ["enabled", "scopes", "coverage"]]) == (enabled, scopes, coverage), key
    assert ("CloudPosture", "2026-W47") not in trend.index


def test_no_weeks_gives_empty_trends():
    assert trends.plan_coverage_trend({}).empty


def _volume_row(day, region, source, name, actor, events, read_only, nbytes, read_only_bytes):
    return {"date": day, "account_id": "111111111111", "region": region, "event_source": source,
            "event_name": name, "actor": actor, "events": events, "read_only_events": read_only, "bytes": nbytes,
            "read_only_bytes": read_only_bytes}


VOLUME = schema.CLOUDTRAIL_VOLUME.frame([
    _volume_row("2026-11-20", "us-east-1", "ec2.amazonaws.com", "DescribeInstances", "cspm", 10, 10, 10**9, 10**9),
    _volume_row("2026-11-20", "us-east-1", "s3.amazonaws.com", "ListBuckets", "cspm", 5, 5, 5 * 10**8, 5 * 10**8),
    _volume_row("2026-11-20", "us-east-1", "iam.amazonaws.com", "CreateUser", "other", 2, 0, 3 * 10**8, 0),
    _volume_row("2026-11-21", "eu-west-1", "ec2.amazonaws.com", "DescribeVpcs", "cspm", 4, 4, 4 * 10**8, 4 * 10**8),
])


def test_cloudtrail_daily_sums_over_event_names():
    daily = cloudtrail_daily(VOLUME)
    assert list(daily.columns) == schema.CLOUDTRAIL_DAILY.names
    rows = daily[["date", "region", "actor", "events", "read_only_events", "bytes"]].values.tolist()
    assert rows == [["2026-11-20", "us-east-1", "cspm", 15, 15, 15 * 10**8],
                    ["2026-11-20", "us-east-1", "other", 2, 0, 3 * 10**8],
                    ["2026-11-21", "eu-west-1", "cspm", 4, 4, 4 * 10**8]]
    assert cloudtrail_daily(schema.CLOUDTRAIL_VOLUME.frame()).empty
