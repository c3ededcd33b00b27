"""CloudTrail analysis functions on a hand-built volume table (expected numbers counted by hand)."""

from __future__ import annotations

import pandas as pd
import pytest

from mdcnb.analysis import cloudtrail as ct
from mdcnb.analysis.cloudtrail_cost import siem_cost
from mdcnb.core import schema
from mdcnb.sources.prices import SiemPrice

A, B = "111122223333", "444455556666"
CSPM_A = f"arn:aws:iam::{A}:role/CspmMonitorAws"


def row(date, account, source, name, actor, events, ro, nbytes, role=None):
    return {"date": date, "account_id": account, "region": "us-east-1", "event_source": source, "event_name": name,
            "actor": actor, "role_arn": role, "role_name": role.rsplit("/", 1)[1] if role else None,
            "events": events, "read_only_events": ro, "bytes": nbytes, "read_only_bytes": nbytes * ro // events}


@pytest.fixture
def volume() -> pd.DataFrame:
    return schema.CLOUDTRAIL_VOLUME.frame([
        row("2026-11-01", A, "ec2.amazonaws.com", "DescribeInstances", "cspm", 10, 10, 10_000, CSPM_A),
        row("2026-11-01", A, "iam.amazonaws.com", "ListRoles", "cspm", 4, 4, 6_000, CSPM_A),
        row("2026-11-02", A, "ec2.amazonaws.com", "DescribeInstances", "cspm", 10, 10, 10_000, CSPM_A),
        row("2026-11-02", A, "sts.amazonaws.com", "AssumeRoleWithWebIdentity", "cspm_assume_role", 2, 2, 4_000, CSPM_A),
        row("2026-11-01", A, "s3.amazonaws.com", "PutObject", "other", 5, 0, 5_000),
        row("2026-11-01", A, "s3.amazonaws.com", "ListBuckets", "other", 6, 6, 3_000),
        row("2026-11-02", B, "ec2.amazonaws.com", "CreateSnapshot", "mdc_other", 4, 2, 2_000,
            f"arn:aws:iam::{B}:role/DefenderForCloud-AgentlessScanner"),
        row("2026-11-02", B, "s3.amazonaws.com", "ListBuckets", "other", 8, 8, 8_000),
    ])


def test_read_share_per_account(volume) -> None:
    share = ct.read_share(volume).set_index("account_id")
    # A: reads 10+4+10+2+6 = 32, CSPM (with its sign-ins) 26; B: reads 2+8 = 10, CSPM 0
    assert share.loc[A, "read_events"] == 32 and share.loc[A, "cspm_read_events"] == 26
    assert share.loc[A, "cspm_share_of_reads"] == pytest.approx(26 / 32)
    assert share.loc[A, "cspm_share_of_read_bytes"] == pytest.approx(30_000 / 33_000)
    assert share.loc[B, "cspm_read_events"] == 0 and share.loc[B, "cspm_share_of_reads"] == 0


def test_top_calls_services_daily_and_roles(volume) -> None:
    calls = ct.top_calls(volume)
    assert list(calls["event_name"]) == ["DescribeInstances", "ListRoles"]
    assert list(calls["read_only_events"]) == [20, 4] and calls["share"].iloc[0] == pytest.approx(20 / 24)
    assert ct.top_services(volume).set_index("event_source")["read_only_events"].to_dict() == {
        "ec2.amazonaws.com": 20, "iam.amazonaws.com": 4}
    daily = ct.daily_by_actor(volume).set_index(["date", "actor"])["read_only_events"]
    assert daily[("2026-11-01", "cspm")] == 14 and daily[("2026-11-02", "cspm_assume_role")] == 2
    roles = ct.other_mdc_roles(volume)
    assert roles.iloc[0][["role_name", "events", "read_only_events", "write_events"]].tolist() == [
        "DefenderForCloud-AgentlessScanner", 4, 2, 2]
    assert ct.cspm_daily(volume)["read_only_events"].tolist() == [14, 10]


def test_filter_by_account_and_days(volume) -> None:
    assert len(ct.filter_volume(volume, accounts=[B])) == 2
    assert set(ct.filter_volume(volume, since="2026-11-02")["date"]) == {"2026-11-02"}
    assert set(ct.filter_volume(volume, until="2026-11-01")["date"]) == {"2026-11-01"}


def test_siem_cost_and_saving(volume) -> None:
    price = SiemPrice(per_gb=2.0, per_million_events=1.0, source="hand price")
    cost = siem_cost(volume, price)
    total_bytes = 10_000 + 6_000 + 10_000 + 4_000 + 5_000 + 3_000 + 2_000 + 8_000  # 48,000
    total_events = 10 + 4 + 10 + 2 + 5 + 6 + 4 + 8  # 49
    assert cost["window_days"] == 2 and cost["bytes"] == total_bytes and cost["events"] == total_events
    assert (cost["filtered_events"], cost["filtered_bytes"]) == (26, 30_000)
    window = total_bytes / 1e9 * 2.0 + total_events / 1e6 * 1.0
    saving = 30_000 / 1e9 * 2.0 + 26 / 1e6 * 1.0
    assert cost["monthly_cost"] == round(window * 15, 2) and cost["monthly_saving"] == round(saving * 15, 2)
    assert "hand price" in cost["note"]


def test_trail_coverage() -> None:
    from mdcnb.tables.cloudtrail.trails import trails_table

    raw = [{"trail": {"Name": "org", "TrailARN": f"arn:aws:cloudtrail:us-east-1:{A}:trail/org",
                      "IsOrganizationTrail": True, "HasCustomEventSelectors": False},
            "eventSelectors": {"EventSelectors": []}, "status": {"IsLogging": True}},
           {"trail": {"Name": "local", "TrailARN": f"arn:aws:cloudtrail:us-east-1:{B}:trail/local",
                      "IsOrganizationTrail": False},
            "eventSelectors": {"EventSelectors": [{"ReadWriteType": "WriteOnly"}]}, "status": {"IsLogging": True}}]
    vol = schema.CLOUDTRAIL_VOLUME.frame([row("2026-11-01", A, "ec2.amazonaws.com", "X", "cspm", 3, 3, 30, CSPM_A),
                                          row("2026-11-01", B, "ec2.amazonaws.com", "X", "cspm", 2, 2, 20, CSPM_A)])
    cov = ct.trail_coverage(trails_table(raw), vol).set_index("name")
    assert cov.loc["org", "cspm_read_events_in_logs"] == 5 and bool(cov.loc["org", "carries_cspm_reads"])
    assert cov.loc["local", "cspm_read_events_in_logs"] == 2 and not cov.loc["local", "carries_cspm_reads"]
