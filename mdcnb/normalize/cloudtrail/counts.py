"""Step 3 of reading CloudTrail: Columns -> counts (`aggregate`), with NumPy on the codes (no per-record Python),
by a fine key (hour, account, region, eventSource, eventName, actor and role) rolled up into day keys (day,
account, region, eventSource, eventName, actor, role ARN) with events, read-only events, bytes and read-only bytes,
and hour keys (hour, account, region, actor) with events, read-only events and bytes. Each event's eventID is kept
as a 64-bit hash, by day, so the parent can drop duplicates across files (`aggregate` drops those within one)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from mdcnb.normalize.cloudtrail import _jsonscan  # built from _jsonscan.c by `pip install` (setup.py)
from mdcnb.normalize.cloudtrail.classify import classify
from mdcnb.normalize.cloudtrail.columns import (
    ACCOUNT,
    HOUR,
    IDENTITY_ACCOUNT,
    IDENTITY_ARN,
    NAME,
    NONE,
    REGION,
    SOURCE,
    VERSION,
    Columns,
    group_rows,
)
from mdcnb.normalize.cloudtrail.identity import ACTORS, MDC_FACTS, RoleMatcher
from mdcnb.normalize.cloudtrail.inflate import DEFAULT_MAX_FILE_BYTES

KNOWN_VERSIONS = frozenset(MDC_FACTS["known_event_versions"])

# A day key's counters: events, read-only events, bytes, read-only bytes; an hour key's: the first three.
DAY_COUNTERS, HOUR_COUNTERS = 4, 3


@dataclass
class ScanOptions:
    """What every worker needs to know (picklable)."""

    matcher: RoleMatcher
    since: str | None = None   # first day kept, YYYY-MM-DD (event time, UTC)
    until: str | None = None   # last day kept, YYYY-MM-DD (inclusive)
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES


@dataclass
class DayEvents:
    """The events with an eventID of one event day, column-wise, for cross-file de-duplication."""

    hashes: np.ndarray     # int64 eventID hashes (`event_hashes`)
    key_idx: np.ndarray    # each event's day key (index into FileResult.keys)
    hour_idx: np.ndarray   # each event's hour key (index into FileResult.hour_keys)
    nbytes: np.ndarray
    read_only: np.ndarray


@dataclass
class FileResult:
    """Aggregated content of one file, or of several read together (or why one was skipped): day keys with
    [events, read_only, bytes, read_only_bytes], hour keys with [events, read_only, bytes]."""

    source: str
    skip_reason: str | None = None
    keys: list[tuple] = field(default_factory=list)
    counts: np.ndarray = field(default_factory=lambda: np.zeros((0, DAY_COUNTERS), dtype=np.int64))
    hour_keys: list[tuple] = field(default_factory=list)
    hour_counts: np.ndarray = field(default_factory=lambda: np.zeros((0, HOUR_COUNTERS), dtype=np.int64))
    days: dict[str, DayEvents] = field(default_factory=dict)
    files: int = 1  # files whose records it counts
    lost: int = 0   # records estimated lost in a damaged file (its skip)
    duplicates: int = 0
    without_id: int = 0
    out_of_range: int = 0
    issues: Counter = field(default_factory=Counter)


def aggregate(source: str, cols: Columns, opts: ScanOptions) -> FileResult:
    """Count one file's records into a FileResult, grouping the records' codes with NumPy: by day key (day,
    account, region, eventSource, eventName, (actor, role ARN)) and by hour key (hour, account, region, actor).
    Python touches only the distinct keys."""
    out = FileResult(source, issues=cols.issues)
    cols = _countable(out, cols, opts)
    if not len(cols):
        return out
    _note_odd_fields(out.issues, cols)
    texts, codes, (who_idx, who) = cols.texts, cols.codes, classify(cols, opts.matcher)
    hours, accounts = codes[:, HOUR], _accounts(cols)
    day_names: dict[str, int] = {}
    day_of_hour = np.zeros(len(texts), dtype=np.intp)
    for code in np.flatnonzero(np.bincount(hours)).tolist():
        day_of_hour[code] = day_names.setdefault(texts[code][:10], len(day_names))
    days, day_of_row = list(day_names), day_of_hour[hours]
    actor_of_row = np.array([ACTORS.index(actor) for actor, _ in who], dtype=np.intp)[who_idx]
    day_columns = (day_of_row, accounts, codes[:, REGION], codes[:, SOURCE], codes[:, NAME], who_idx)
    day_idx, first = group_rows(day_columns)
    out.keys = [(days[d], texts[a], texts[r], texts[s], texts[n], *who[w])
                for d, a, r, s, n, w in _values_at(day_columns, first)]
    hour_columns = (hours, accounts, codes[:, REGION], actor_of_row)
    hour_idx, first = group_rows(hour_columns)
    out.hour_keys = [(texts[h], texts[a], texts[r], ACTORS[actor])
                     for h, a, r, actor in _values_at(hour_columns, first)]
    read_only = cols.read_only == 1  # no readOnly field counts as not read-only
    sums = (None, read_only, cols.sizes, np.where(read_only, cols.sizes, 0))
    out.counts = _sum_by(day_idx, len(out.keys), sums)
    out.hour_counts = _sum_by(hour_idx, len(out.hour_keys), sums[:HOUR_COUNTERS])
    out.days = _by_day(days, day_of_row, day_idx, hour_idx, cols, read_only)
    return out


def _values_at(columns: Sequence[np.ndarray], rows: np.ndarray) -> Iterator[tuple[int, ...]]:
    """The columns' values at `rows`, row by row, as Python ints."""
    return zip(*(c[rows].tolist() for c in columns), strict=True)


def _countable(out: FileResult, cols: Columns, opts: ScanOptions) -> Columns:
    """The records to count: drops (and counts) those without eventTime, outside the window or with an eventID
    seen before in the file (by hash, as the parent does across files)."""
    hours = cols.codes[:, HOUR]
    keep = hours != NONE
    if not keep.all():
        out.issues["no eventTime (skipped)"] += int(len(cols) - keep.sum())
    if opts.since or opts.until:
        in_window = np.zeros(len(cols.texts), dtype=bool)
        for code in np.flatnonzero(np.bincount(hours[keep])).tolist():
            day = cols.texts[code][:10]
            in_window[code] = (not opts.since or day >= opts.since) and (not opts.until or day <= opts.until)
        out.out_of_range += int((keep & ~in_window[hours]).sum())
        keep &= in_window[hours]
    out.without_id += int((keep & ~cols.has_id).sum())
    with_id = np.flatnonzero(keep & cols.has_id)
    repeated = _jsonscan.IdSet().add(cols.id_hashes[with_id])  # every occurrence after the first (as the parent's)
    if repeated is not None:
        repeated = np.frombuffer(repeated, dtype=bool)
        keep[with_id[repeated]] = False
        out.duplicates += int(repeated.sum())
    return cols if keep.all() else cols.rows(keep)


def _note_odd_fields(issues: Counter, cols: Columns) -> None:
    """Count records read best-effort: unknown eventVersion, and (only the general path lets them through) no
    userIdentity, no readOnly."""
    counts = np.bincount(cols.codes[:, VERSION])
    for code, times in zip(np.flatnonzero(counts).tolist(), counts[counts > 0].tolist(), strict=True):
        if cols.texts[code] not in KNOWN_VERSIONS:
            issues[_version_issue(cols.texts[code])] += times
    if cols.strict:
        return
    no_identity = int((cols.codes[:, IDENTITY_ARN] == NONE).sum())
    if no_identity:
        issues["no userIdentity (counted as not MDC)"] += no_identity
    no_read_only = int((cols.read_only < 0).sum())
    if no_read_only:
        issues["no readOnly (counted as not read-only)"] += no_read_only


def _version_issue(version: str | None) -> str:
    if version is None:
        return "no eventVersion (parsed best-effort)"
    if version.split(".", 1)[0] != "1":
        return f"unknown eventVersion {version} (parsed best-effort)"
    return f"newer eventVersion {version} (parsed best-effort)"


def _accounts(cols: Columns) -> np.ndarray:
    """Each record's account code: recipientAccountId (or the path's, `with_path_account`), else the caller's."""
    accounts = cols.codes[:, ACCOUNT]
    return np.where(accounts == NONE, cols.codes[:, IDENTITY_ACCOUNT], accounts)


def _sum_by(idx: np.ndarray, n: int, columns: Iterable[np.ndarray | None]) -> np.ndarray:
    """Per key (n rows), the sum of each column over the items with that key index; None counts the items.
    Sums are taken in float64, exact for integers below 2**53."""
    return np.stack([np.bincount(idx, weights=w, minlength=n) for w in columns], axis=1).astype(np.int64)


def _by_day(days: list[str], day_of_row: np.ndarray, key_idx: np.ndarray, hour_idx: np.ndarray, cols: Columns,
            read_only: np.ndarray) -> dict[str, DayEvents]:
    """Events with an eventID grouped by event day (a file spans one day, two around midnight)."""
    if len(days) == 1 and cols.has_id.all():
        return {days[0]: DayEvents(cols.id_hashes, key_idx, hour_idx, cols.sizes, read_only)}
    result = {}
    for d, day in enumerate(days):
        mask = (day_of_row == d) & cols.has_id
        result[day] = DayEvents(cols.id_hashes[mask], key_idx[mask], hour_idx[mask], cols.sizes[mask], read_only[mask])
    return result
