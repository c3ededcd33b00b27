"""CloudTrail measures: the read events of MDC's CSPM role, its sign-ins, the other MDC roles, bytes and SIEM cost.

An event is CSPM's when its session issuer is the connector's `CspmMonitorAws` role (`actor == cspm`); its
`AssumeRoleWithWebIdentity` sign-ins are a separate measure, never added to the read events.
"""

from __future__ import annotations

import pandas as pd

from mdcnb.analysis import cloudtrail as ct
from mdcnb.analysis.cloudtrail_cost import siem_cost
from mdcnb.measures.registry import Filters, define
from mdcnb.normalize.cloudtrail.identity import CSPM, CSPM_ASSUME_ROLE, MDC_OTHER
from mdcnb.snapshot import Snapshot, computed_once

FILTERS = ("accounts", "since", "until")


@define("cloudtrail.volume", "CloudTrail events per day, account, region, API and actor", "events", "{:,}",
        filters=FILTERS, table=True)
def volume(snap: Snapshot, f: Filters) -> pd.DataFrame:
    """Table measure: the scan's per-day volume kept by the account and date filters, picked once per snapshot and
    selection however many of the measures below (a page's headlines) read it."""
    f = f.only(FILTERS)
    return computed_once(snap, "cloudtrail.volume", f, lambda: ct.filter_volume(
        snap.cloudtrail.volume, f.accounts, since=f.since, until=f.until))


def _sum(snap: Snapshot, f: Filters, actor: str, column: str = "read_only_events") -> int:
    frame = volume(snap, f)
    return int(frame.loc[frame["actor"] == actor, column].sum())


@define("cloudtrail.events", "CloudTrail events (every actor)", "events", "{:,}", filters=FILTERS)
def events(snap: Snapshot, f: Filters) -> int:
    return int(volume(snap, f)["events"].sum())


@define("cloudtrail.bytes", "CloudTrail bytes (every actor)", "bytes", "{:,}", filters=FILTERS)
def all_bytes(snap: Snapshot, f: Filters) -> int:
    return int(volume(snap, f)["bytes"].sum())


@define("cloudtrail.cspm_read_events", "CspmMonitorAws read events", "events", "{:,}", filters=FILTERS)
def cspm_read_events(snap: Snapshot, f: Filters) -> int:
    return _sum(snap, f, CSPM)


@define("cloudtrail.cspm_sign_ins", "CspmMonitorAws sign-ins (AssumeRoleWithWebIdentity)", "events", "{:,}",
        filters=FILTERS)
def cspm_sign_ins(snap: Snapshot, f: Filters) -> int:
    return _sum(snap, f, CSPM_ASSUME_ROLE, "events")


@define("cloudtrail.cspm_read_bytes", "CspmMonitorAws read bytes", "bytes", "{:,}", filters=FILTERS)
def cspm_read_bytes(snap: Snapshot, f: Filters) -> int:
    return _sum(snap, f, CSPM, "read_only_bytes")


@define("cloudtrail.cspm_share_of_reads", "CspmMonitorAws share of all read events", "%", "{:.1f}",
        filters=FILTERS, decimals=1)
def cspm_share_of_reads(snap: Snapshot, f: Filters) -> float:
    reads = int(volume(snap, f)["read_only_events"].sum())
    return 100 * cspm_read_events(snap, f) / reads if reads else float("nan")


@define("cloudtrail.other_mdc_role_events", "Other MDC roles' events", "events", "{:,}", filters=FILTERS)
def other_mdc_role_events(snap: Snapshot, f: Filters) -> int:
    return _sum(snap, f, MDC_OTHER, "events")


@define("cloudtrail.siem_cost", "SIEM export cost of the window's events, with and without the CSPM filter",
        "money/month", "{}", filters=FILTERS, table=True)
def siem(snap: Snapshot, f: Filters) -> dict:
    """Record measure: the SIEM export cost of the window's events at the snapshot's SIEM price, with and without
    the filter (`analysis.cloudtrail_cost.siem_cost`)."""
    return siem_cost(volume(snap, f), snap.siem_price, snap.cloudtrail.since, snap.cloudtrail.until)


@define("cloudtrail.siem_monthly_cost", "SIEM export cost per month of every event", "money/month", "{:,.2f}",
        filters=FILTERS, decimals=2)
def siem_monthly_cost(snap: Snapshot, f: Filters) -> float:
    return float(siem(snap, f)["monthly_cost"])


@define("cloudtrail.siem_monthly_saving", "SIEM saving per month with the CSPM filter", "money/month", "{:,.2f}",
        filters=FILTERS, decimals=2)
def siem_monthly_saving(snap: Snapshot, f: Filters) -> float:
    return float(siem(snap, f)["monthly_saving"])
