"""CloudTrail volume analysis for the notebook and the report: pure functions on the volume tables.

Inputs are `schema.CLOUDTRAIL_VOLUME` / `schema.CLOUDTRAIL_HOURLY` / `schema.CLOUDTRAIL_TRAILS` frames (from
`mdcnb.tables.cloudtrail.volume` or `dataset_volume`); outputs are small aggregated frames, ready to plot.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from mdcnb.normalize.cloudtrail.identity import CSPM, CSPM_ASSUME_ROLE, MDC_OTHER, OTHER

ACTOR_LABELS = {CSPM: "CspmMonitorAws", CSPM_ASSUME_ROLE: "CspmMonitorAws sign-in (AssumeRoleWithWebIdentity)",
                MDC_OTHER: "other MDC roles", OTHER: "everyone else"}


def filter_volume(volume: pd.DataFrame, accounts: Sequence[str] = (), since: str | None = None,
                  until: str | None = None, regions: Sequence[str] = ()) -> pd.DataFrame:
    """Rows of the given accounts and regions (all when empty) and days [since, until] (ISO dates; works on volume
    and hourly frames)."""
    out = volume
    if accounts:
        out = out[out["account_id"].isin(list(accounts))]
    if regions:
        out = out[out["region"].isin(list(regions))]
    if since:
        out = out[_day(out) >= since[:10]]
    if until:
        out = out[_day(out) <= until[:10]]
    return out.reset_index(drop=True)


def _day(frame: pd.DataFrame) -> pd.Series:
    return frame["date"] if "date" in frame else frame["hour"].dt.strftime("%Y-%m-%d")


def daily_by_actor(volume: pd.DataFrame) -> pd.DataFrame:
    """Read-only events per day and actor (date, actor, label, read_only_events, events)."""
    out = (volume.groupby(["date", "actor"], as_index=False)[["read_only_events", "events"]].sum()
           .sort_values(["date", "actor"], kind="stable"))
    out.insert(2, "label", out["actor"].map(ACTOR_LABELS))
    return out.reset_index(drop=True)


def cspm_daily(volume: pd.DataFrame) -> pd.DataFrame:
    """CSPM read events per day, account and region (date, account_id, region, read_only_events, read_only_bytes)."""
    cspm = volume[volume["actor"] == CSPM]
    return (cspm.groupby(["date", "account_id", "region"], as_index=False)[["read_only_events", "read_only_bytes"]]
            .sum().sort_values(["date", "account_id", "region"], kind="stable").reset_index(drop=True))


def cspm_hourly(hourly: pd.DataFrame, accounts: int = 5) -> pd.DataFrame:
    """CSPM read events per hour and account (hour, account_id, read_only_events), zero-filled: every hour of every
    day in the data has a row per account, so an hour without a scan reads 0 and the scan rhythm shows as bursts.

    The `accounts` accounts with the most CSPM reads keep their own series; the rest (two or more) are summed as
    `other accounts (N)`. Ordered by account (most reads first), then hour."""
    cspm = hourly[hourly["actor"] == CSPM]
    if cspm.empty:
        return pd.DataFrame({"hour": pd.Series(dtype="datetime64[ns, UTC]"), "account_id": pd.Series(dtype=str),
                             "read_only_events": pd.Series(dtype="int64")})
    totals = cspm.groupby("account_id")["read_only_events"].sum().sort_values(ascending=False, kind="stable")
    top = list(totals.index[:accounts] if len(totals) > accounts + 1 else totals.index)  # never "other" for one
    rest = len(totals) - len(top)
    series = cspm["account_id"].where(cspm["account_id"].isin(top), f"other accounts ({rest})")
    counts = cspm.groupby([cspm["hour"], series.rename("account_id")])["read_only_events"].sum()
    first, last = cspm["hour"].min().floor("D"), cspm["hour"].max().floor("D") + pd.Timedelta(hours=23)
    names = top + ([f"other accounts ({rest})"] if rest else [])
    grid = pd.MultiIndex.from_product([pd.date_range(first, last, freq="h"), names], names=["hour", "account_id"])
    out = counts.reindex(grid, fill_value=0).astype("int64").reset_index()
    out["_order"] = out["account_id"].map({name: i for i, name in enumerate(names)})
    return out.sort_values(["_order", "hour"], kind="stable").drop(columns="_order").reset_index(drop=True)


def top_calls(volume: pd.DataFrame, actor: str = CSPM, limit: int = 20) -> pd.DataFrame:
    """The API calls of `actor` with the most read events (event_source, event_name, read_only_events, bytes, share)."""
    rows = volume[volume["actor"] == actor]
    out = (rows.groupby(["event_source", "event_name"], as_index=False)[["read_only_events", "read_only_bytes"]]
           .sum().sort_values(["read_only_events", "event_source", "event_name"], ascending=[False, True, True],
                              kind="stable"))
    total = out["read_only_events"].sum()
    out["share"] = out["read_only_events"] / total if total else 0.0
    return out.head(limit).reset_index(drop=True)


def top_services(volume: pd.DataFrame, actor: str = CSPM) -> pd.DataFrame:
    """Read events of `actor` per service (event_source, read_only_events, read_only_bytes), most first."""
    rows = volume[volume["actor"] == actor]
    return (rows.groupby("event_source", as_index=False)[["read_only_events", "read_only_bytes"]].sum()
            .sort_values(["read_only_events", "event_source"], ascending=[False, True], kind="stable")
            .reset_index(drop=True))


def read_share(volume: pd.DataFrame) -> pd.DataFrame:
    """Per account: all read events, CSPM's read events, its sign-ins (AssumeRoleWithWebIdentity, apart: they are
    not reads of the account's APIs), and the share of reads and read bytes that are CSPM's."""
    reads = volume.groupby("account_id")[["read_only_events", "read_only_bytes"]].sum()
    cspm = volume[volume["actor"] == CSPM].groupby("account_id")[["read_only_events", "read_only_bytes"]].sum()
    sign_ins = volume[volume["actor"] == CSPM_ASSUME_ROLE].groupby("account_id")["events"].sum()
    reads.columns, cspm.columns = ["read_events", "read_bytes"], ["cspm_read_events", "cspm_read_bytes"]
    out = reads.join(cspm, how="left").join(sign_ins.rename("cspm_sign_ins"), how="left").fillna(0).astype("int64")
    out = out.reset_index()
    out["cspm_share_of_reads"] = (out["cspm_read_events"] / out["read_events"]).where(out["read_events"] > 0)
    out["cspm_share_of_read_bytes"] = (out["cspm_read_bytes"] / out["read_bytes"]).where(out["read_bytes"] > 0)
    return out.sort_values(["cspm_read_events", "account_id"], ascending=[False, True], kind="stable") \
        .reset_index(drop=True)


def cspm_role_arns(volume: pd.DataFrame) -> list[str]:
    """The CSPM role ARNs seen in the logs (its reads and sign-ins): what the paste-ready filters drop."""
    rows = volume[volume["actor"].isin([CSPM, CSPM_ASSUME_ROLE])]
    return sorted(rows["role_arn"].dropna().unique())


def other_mdc_roles(volume: pd.DataFrame) -> pd.DataFrame:
    """Other MDC roles per account (role_name, account_id, events, read_only_events, write_events)."""
    rows = volume[volume["actor"] == MDC_OTHER]
    out = rows.groupby(["role_name", "account_id"], as_index=False)[["events", "read_only_events"]].sum()
    out["write_events"] = out["events"] - out["read_only_events"]
    return out.sort_values(["events", "role_name"], ascending=[False, True], kind="stable").reset_index(drop=True)


def trail_coverage(trails: pd.DataFrame, volume: pd.DataFrame) -> pd.DataFrame:
    """Which trails carry CSPM's reads: the trail table with, for each trail's account, CSPM's read events seen in
    the logs (organisation trails cover every account of the logs)."""
    cspm = volume[volume["actor"] == CSPM].groupby("account_id")["read_only_events"].sum()
    rows = trails.copy()
    rows["cspm_read_events_in_logs"] = [
        int(cspm.sum()) if bool(org) else int(cspm.get(acct, 0))
        for org, acct in zip(rows["organization_trail"].fillna(False), rows["account_id"], strict=True)]
    rows["carries_cspm_reads"] = rows["records_management_reads"].fillna(False).astype(bool) \
        & rows["logging"].fillna(True).astype(bool)
    cols = ["name", "account_id", "organization_trail", "multi_region", "logging", "selector_kind",
            "records_management_reads", "carries_cspm_reads", "s3_bucket", "cloudwatch_log_group",
            "cspm_read_events_in_logs", "note"]
    return rows[cols].reset_index(drop=True)


def cost_table(cost: dict) -> pd.DataFrame:
    """A `cloudtrail_cost.siem_cost` result as rows (scenario, events, bytes, monthly cost, price source)."""
    cur, source = cost["price"]["currency"], cost["price"]["source"]
    rows = [("all events", cost["events"], cost["bytes"], cost["monthly_cost"]),
            ("CSPM reads and sign-ins (dropped by the filter)", cost["filtered_events"], cost["filtered_bytes"],
             cost["monthly_saving"]),
            ("after the filter", cost["events"] - cost["filtered_events"], cost["bytes"] - cost["filtered_bytes"],
             cost["monthly_cost_after_filter"])]
    out = pd.DataFrame(rows, columns=["scenario", "events_in_window", "bytes_in_window", "monthly_cost"])
    out["currency"], out["price_source"], out["window_days"] = cur, source, cost["window_days"]
    return out
