"""The outcome of a CloudTrail volume scan: the tables, the headline counts, and everything that was skipped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from mdcnb.core import schema
from mdcnb.core.gc import gc_paused
from mdcnb.normalize.cloudtrail.identity import CSPM, CSPM_ASSUME_ROLE, MDC_OTHER, role_name

if TYPE_CHECKING:
    from mdcnb.tables.cloudtrail.scan import Accumulator

_DAY = ["date", "account_id", "region", "event_source", "event_name", "actor", "role_arn"]
_HOUR = ["hour", "account_id", "region", "actor"]
_COUNTS = ["events", "read_only_events", "bytes", "read_only_bytes"]


@dataclass
class VolumeResult:
    """Tables (`volume`: schema.CLOUDTRAIL_VOLUME, `hourly`: schema.CLOUDTRAIL_HOURLY) and scan accounting."""

    volume: pd.DataFrame
    hourly: pd.DataFrame
    source: str = ""
    since: str | None = None
    until: str | None = None
    role_arns: list[str] = field(default_factory=list)
    files_listed: int = 0
    files_read: int = 0
    files_pruned: int = 0
    digest_files: int = 0
    other_files: list[str] = field(default_factory=list)
    files_skipped: list[dict[str, str]] = field(default_factory=list)
    duplicates_dropped: int = 0
    late_events_checked: int = 0           # arrived after their day's ids were forgotten; checked in a second pass
    late_events_not_deduplicated: int = 0  # ...but could not be checked (a file changed between the passes)
    tasks_reread: int = 0                  # tasks of FILES_PER_TASK files the second pass read again
    records_lost_estimate: int = 0         # records lost in damaged files (estimated; see files_skipped)
    events_without_id: int = 0
    events_out_of_range: int = 0
    record_issues: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_accumulator(cls, acc: Accumulator, **kw: Any) -> VolumeResult:
        with gc_paused():  # the collector would walk every key tuple, more than once, for nothing
            volume, hourly = tables_from_totals(acc.day_rows.counted(), acc.hour_rows.counted())
        return cls(volume=volume, hourly=hourly, files_read=acc.files_read, files_skipped=list(acc.skips),
                   duplicates_dropped=acc.duplicates, late_events_checked=acc.late_checked,
                   late_events_not_deduplicated=acc.late, tasks_reread=acc.tasks_reread,
                   records_lost_estimate=acc.records_lost,
                   events_without_id=acc.without_id, events_out_of_range=acc.out_of_range,
                   record_issues=dict(sorted(acc.issues.items())), **kw)

    def skips(self) -> pd.DataFrame:
        """Files that could not be read and records that could not be counted, as a `schema.SKIPS` table."""
        rows = [{"source": f["path"], "location": "", "record_type": "cloudtrail", "reason": f["reason"]}
                for f in self.files_skipped]
        rows += [{"source": self.source, "location": f"{n} record(s)", "record_type": "cloudtrail", "reason": reason}
                 for reason, n in self.record_issues.items()]
        return schema.SKIPS.frame(rows)

    def summary(self) -> dict[str, Any]:
        """The `--json` document of `mdcnb cloudtrail volume`."""
        v = self.volume
        cspm = v[v["actor"] == CSPM]
        other = v[v["actor"] == MDC_OTHER]
        by_role = other.groupby("role_name")["events"].sum().sort_index()
        per_account = v.groupby("account_id").agg(events_total=("events", "sum"),
                                                  events_read_only=("read_only_events", "sum"))
        cspm_acct = cspm.groupby("account_id").agg(cspm_read_events=("read_only_events", "sum"),
                                                   cspm_bytes=("bytes", "sum"))
        per_account = per_account.join(cspm_acct, how="left").fillna(0).astype("int64").sort_index()
        return {
            "source": self.source,
            "since": self.since,
            "until": self.until,
            "role_arns": self.role_arns or "any arn:aws:iam::<account>:role/CspmMonitorAws",
            "files_listed": self.files_listed,
            "files_read": self.files_read,
            "files_pruned_by_path_date": self.files_pruned,
            "digest_files_skipped": self.digest_files,
            "other_files_ignored": len(self.other_files),
            "files_skipped": self.files_skipped,
            "events_total": _int(v["events"].sum()),
            "events_read_only": _int(v["read_only_events"].sum()),
            "bytes_total": _int(v["bytes"].sum()),
            "cspm_events": _int(cspm["events"].sum()),
            "cspm_read_events": _int(cspm["read_only_events"].sum()),
            "cspm_bytes": _int(cspm["bytes"].sum()),
            "cspm_read_bytes": _int(cspm["read_only_bytes"].sum()),
            "assume_role_events": _int(v.loc[v["actor"] == CSPM_ASSUME_ROLE, "events"].sum()),
            "other_mdc_role_events": {str(k): _int(n) for k, n in by_role.items()},
            "duplicates_dropped": self.duplicates_dropped,
            "late_events_checked": self.late_events_checked,
            "late_events_not_deduplicated": self.late_events_not_deduplicated,
            "tasks_reread_for_late_events": self.tasks_reread,
            "records_lost_estimate": self.records_lost_estimate,
            "events_without_event_id": self.events_without_id,
            "events_outside_window": self.events_out_of_range,
            "record_issues": self.record_issues,
            "by_account": {str(a): {k: _int(n) for k, n in row.items()}
                           for a, row in per_account.to_dict("index").items()},
            "notes": self.notes,
        }


def _int(x: Any) -> int:
    return int(x) if pd.notna(x) else 0


class Counted(NamedTuple):
    """Keys and their counters, row for row: what a scan's merge (or Athena's rows) comes to."""

    keys: Sequence[tuple]
    counts: np.ndarray  # int64, one row per key; the first counter is events

    @classmethod
    def of(cls, totals: dict[tuple, list[int]], width: int) -> Counted:
        return cls(list(totals), np.array(list(totals.values()), dtype=np.int64).reshape(len(totals), width))


def tables_from_totals(days: Counted, hours: Counted) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(volume, hourly) tables from day keys (date, account, region, source, name, actor, role ARN) with [events,
    read-only events, bytes, read-only bytes] and hour keys (hour, account, region, actor) with the first three."""
    volume = _frame(days, _DAY + _COUNTS)
    arns = volume["role_arn"]
    volume.insert(7, "role_name", arns.map({a: role_name(a) or a for a in arns.dropna().unique()}))
    hourly = _frame(hours, _HOUR + _COUNTS[:3])
    hourly["hour"] = hourly["hour"] + ":00:00Z"
    return _typed(volume, schema.CLOUDTRAIL_VOLUME), _typed(hourly, schema.CLOUDTRAIL_HOURLY)


def _frame(counted: Counted, columns: list[str]) -> pd.DataFrame:
    """The keys that kept events (their first counter), sorted by the key columns (None first), with their counts.
    Built column by column: the day table of a long scan has hundreds of thousands of rows."""
    keys, counts = counted
    kept = np.flatnonzero(counts[:, 0] > 0)
    if not len(kept):
        return pd.DataFrame(columns=columns)
    key_columns = [np.array(column, dtype=object)[kept] for column in zip(*keys, strict=True)]
    order = np.lexsort([pd.factorize(column, sort=True)[0] for column in reversed(key_columns)])  # None is -1
    frame = {name: column[order] for name, column in zip(columns, key_columns, strict=False)}
    frame.update({name: counts[kept[order], j] for j, name in enumerate(columns[len(key_columns):])})
    return pd.DataFrame(frame)


def _typed(df: pd.DataFrame, table: schema.Table) -> pd.DataFrame:
    """`df` with exactly the contract's columns and dtypes, converted column by column (fast for big tables)."""
    if df.empty:
        return table.frame()
    out = {}
    for col in table.columns:
        values = df[col.name]
        if col.dtype == schema.TIME:
            out[col.name] = pd.to_datetime(values, utc=True, format="ISO8601").astype(schema.TIME)
        elif col.dtype == schema.INT:
            out[col.name] = values.astype("Int64")
        else:
            out[col.name] = values.astype("string")
    return pd.DataFrame(out)


def cloudtrail_daily(volume: pd.DataFrame) -> pd.DataFrame:
    """`cloudtrail_volume` summed over event sources and names: the daily aggregate each snapshot stores."""
    if volume.empty:
        return schema.CLOUDTRAIL_DAILY.frame()
    keys = ["date", "account_id", "region", "actor"]
    counts = ["events", "read_only_events", "bytes", "read_only_bytes"]
    daily = volume.groupby(keys, dropna=False, sort=True)[counts].sum().reset_index()
    return schema.CLOUDTRAIL_DAILY.conform(daily)
