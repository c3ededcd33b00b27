"""The weeks of an estate in the history store: recording a dataset's week (an explicit step of `mdcnb report` and
`mdcnb pull`) and reading the weeks back for the trends and the week-over-week diff (never writing).

`record_run(dataset, store)` stores the weeks the dataset ships (`history/<week>/`) and then the dataset itself,
each with its extra tables (daily CloudTrail volume, readiness audit); `weekly_history(dataset, store)` reads the
estate's weeks, stored or, where the store lacks them, read from their folders.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from mdcnb.core import schema
from mdcnb.core.weeks import iso_week
from mdcnb.sources.dataset import MANIFEST, cloudtrail_root, read_manifest
from mdcnb.tables import Tables
from mdcnb.tables.history import (
    HistoryError,
    HistoryStore,
    Snapshot,
    dataset_as_of,
    default_store_path,
)
from mdcnb.tables.history_fingerprint import dataset_fingerprint
from mdcnb.tables.history_keys import SeriesKey, dataset_key, pull_complete

Extras = Callable[[Path], Mapping[str, pd.DataFrame]]  # a week's folder -> the tables beside its own (by contract)

# --- recording datasets ----------------------------------------------------------------------------------------


def record_dataset(store: HistoryStore, dataset: Path, *, tables: Tables | None = None,
                   extras: Extras | None = None, key: SeriesKey | None = None) -> Snapshot:
    """Store the snapshot of one dataset directory, unless the store already holds this exact data for its week.

    `tables` avoids normalising again when the caller already has them; `extras(dataset)` gives the week's other
    tables (its daily CloudTrail volume, its readiness audit; default: the volume, scanned here); `key` names the
    series (default: the dataset's own). The snapshot records whether the pull was complete. Returns the stored
    snapshot.
    """
    from mdcnb.tables import load_tables

    manifest = read_manifest(dataset)
    source = str(manifest.get("source") or "unknown")
    scope = manifest.get("scope") if isinstance(manifest.get("scope"), dict) else {}
    key = key or dataset_key(dataset, manifest)
    as_of = dataset_as_of(manifest)
    same_week = [snap for snap in store.snapshots(str(key)) if snap.week == iso_week(as_of)]
    fingerprint = dataset_fingerprint(dataset) if same_week else None
    for snap in same_week:
        if snap.fingerprint == fingerprint:
            return snap
    loaded = tables if tables is not None else load_tables(dataset)
    extra = dict(extras(dataset)) if extras is not None else {"cloudtrail_daily": cloudtrail_daily_of(dataset)}
    with ThreadPoolExecutor(1) as pool:  # a new week: its print is needed only for the catalogue, hash it meanwhile
        printed = pool.submit(dataset_fingerprint, dataset).result if fingerprint is None else fingerprint
        return store.save(loaded, extra=extra, as_of=as_of, source=source, scope=scope, key=key,
                          dataset=str(dataset), fingerprint=printed, complete=pull_complete(manifest))


def cloudtrail_daily_of(dataset: Path) -> pd.DataFrame:
    """The daily CloudTrail volume of the logs inside a dataset (`cloudtrail/`), empty when it has none."""
    from mdcnb.tables.cloudtrail import volume
    from mdcnb.tables.cloudtrail.result import cloudtrail_daily

    logs = cloudtrail_root(dataset)
    if not logs.is_dir():
        return schema.CLOUDTRAIL_DAILY.frame()
    return cloudtrail_daily(volume(logs, dataset=dataset).volume)


def embedded_weeks(dataset: Path) -> list[Path]:
    """Earlier weekly datasets shipped inside a dataset (`history/<ISO-week>/`, the sample has six), oldest first."""
    root = Path(dataset) / "history"
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / MANIFEST).exists())


def record_run(dataset: Path, store_path: Path | str | None = None, *, tables: Tables | None = None,
               extras: Extras | None = None,
               log: Callable[[str], None] = lambda text: print(text, file=sys.stderr)) -> Snapshot | None:
    """What `mdcnb report` and `mdcnb pull` call (through `mdcnb.snapshot.record`): seed the dataset's embedded
    weeks, then store the dataset itself (with its `tables` when the caller has them, and each week's `extras`).

    Weeks already stored with the same content are left alone, so running it again only rewrites what changed.
    The snapshot is read back from the file before the run says it was stored. A store that cannot be written or
    read back, or an incomplete pull refused beside a complete week, is reported through `log` and never fails
    the run (the data is on disk).
    """
    path = Path(store_path) if store_path else default_store_path()
    try:
        with HistoryStore(path) as store:
            current = dataset_key(dataset)
            for week in embedded_weeks(dataset):
                record_dataset(store, week, extras=extras, key=current)
            snap = record_dataset(store, dataset, tables=tables, extras=extras, key=current)
        with HistoryStore(path, read_only=True) as check:  # a fresh connection: what the next run will see
            check.verify(snap)
    except (HistoryError, duckdb.Error, OSError) as exc:
        log(f"history: snapshot not stored in {path}: {exc}")
        return None
    marked = "" if snap.complete is not False else " (incomplete pull: later complete runs of the week replace it)"
    log(f"history: {snap.week} of {snap.series} stored in {path}{marked}")
    return snap


def dataset_week(dataset: Path) -> str:
    return iso_week(dataset_as_of(read_manifest(dataset)))


# Tables the trends read from every stored week (the full tables are loaded only for the two weeks compared).
TREND_TABLES = ("subscriptions", "connectors", "plans", "secure_scores", "compliance_standards",
                "governance_assignments", "exemptions")


@dataclass
class WeeklyHistory:
    """What the summary page shows: the stored weeks of the dataset's estate, the last two in full."""

    series: str
    store: Path
    weeks: dict[str, Tables]                 # every week up to the dataset's, trend tables only, oldest first
    cloudtrail: dict[str, pd.DataFrame]      # CloudTrail daily volume per week
    audits: dict[str, pd.DataFrame | None]   # the readiness audit per week (None: a week read from its folder)
    folders: dict[str, Path]                 # the weeks read from their folder, not the store
    latest: Tables                           # the dataset's own week, every table
    # the stored week before it, every table (None on a first run), or what reads it when first used (`previous`)
    previous_tables: Tables | Callable[[], Tables] | None = field(compare=False)
    incomplete: list[str]                    # the weeks whose stored pull was incomplete
    _read_previous: Tables | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def previous(self) -> Tables | None:
        """The stored week before this one, every table (None on a first run), read when first used when given as
        a reader (a `StoredWeek`, a dataset folder's tables, a snapshot's table set): of a report's pages only the
        summary compares two weeks, and at 2,000 subscriptions a week's tables take 0.4-0.7 GB."""
        if not callable(self.previous_tables):
            return self.previous_tables
        if self._read_previous is None:
            self._read_previous = self.previous_tables()
        return self._read_previous

    def forget_previous(self) -> None:
        """Let go of a previous week read when first used; it is read again when next used."""
        self._read_previous = None

    @property
    def week(self) -> str:
        return list(self.weeks)[-1]

    @property
    def previous_week(self) -> str | None:
        return list(self.weeks)[-2] if len(self.weeks) > 1 else None

    @property
    def baseline(self) -> Tables:
        """What this week is compared with: the previous week, or this week itself on a first run (no changes)."""
        return self.previous if self.previous is not None else self.latest

def weekly_history(dataset: Path, store_path: Path | str | None = None, *, since: str | None = None,
                   until: str | None = None, tables: Tables | None = None, daily: pd.DataFrame | None = None,
                   tenant: str | None = None) -> WeeklyHistory:
    """The estate's weeks: those stored for its series, then those the dataset ships (`history/<week>/`) and the
    dataset's own week where the store lacks them. Reading never writes: `record_run` stores a week.

    Weeks run from `since` (an ISO date, its week included) to the dataset's own week, or `until` if earlier.
    `tables` and `daily` (its daily CloudTrail volume) are the dataset's own, already loaded and scanned: a
    week read from the dataset itself is not normalised or scanned again. `tenant` reads another tenant's series of
    the store (its latest recorded one) instead of the dataset's own.
    """
    from mdcnb.tables import load_tables

    path = Path(store_path) if store_path else default_store_path()
    last = dataset_week(dataset)
    if until:
        last = min(last, iso_week(pd.Timestamp(until)))
    first = iso_week(pd.Timestamp(since)) if since else ""
    own_key = dataset_key(dataset)
    series = str(own_key)
    weeks: dict[str, Tables] = {}
    volumes: dict[str, pd.DataFrame] = {}
    audits: dict[str, pd.DataFrame | None] = {}
    folders: dict[str, Path] = {}
    full: dict[str, Callable[[], Tables]] = {}
    incomplete: set[str] = set()
    if path.exists():
        with HistoryStore(path, read_only=True) as store:
            if tenant is not None and tenant.lower() != own_key.tenant:
                series = store.tenant_series(tenant)
            for snap in store.snapshots(series):
                if first <= snap.week <= last:
                    weeks[snap.week] = store.load(snap, TREND_TABLES)
                    volumes[snap.week] = store.load_table(snap, "cloudtrail_daily")
                    audits[snap.week] = store.load_table(snap, "aws_audit")
                    full[snap.week] = StoredWeek(path, snap.snapshot_id)
                    if snap.complete is False:
                        incomplete.add(snap.week)
    elif tenant is not None and tenant.lower() != own_key.tenant:
        raise HistoryError(f"no history store at {path}: tenant {tenant} has no stored weeks")
    own = {dataset_week(folder): folder for folder in [*embedded_weeks(dataset), dataset]}
    for week, folder in own.items() if series == str(own_key) else ():  # another tenant's series: stored weeks only
        if first <= week <= last and week not in weeks:
            own_tables = tables if tables is not None and folder == dataset else None
            weeks[week] = own_tables.only(TREND_TABLES) if own_tables else load_tables(folder, names=TREND_TABLES)
            own_daily = daily if own_tables is not None else None
            volumes[week] = own_daily if own_daily is not None else cloudtrail_daily_of(folder)
            audits[week], folders[week] = None, folder
            full[week] = (lambda t=own_tables: t) if own_tables else functools.partial(load_tables, folder)
            if not pull_complete(read_manifest(folder)):
                incomplete.add(week)
    if not weeks:
        raise HistoryError(f"no snapshot of {series} between {first or 'the first week'} and {last} in {path}")
    order = sorted(weeks)
    latest_week = order[-1]
    own_latest = tables is not None and series == str(own_key) and latest_week == dataset_week(dataset)
    latest = tables if own_latest else full[latest_week]()
    previous = full[order[-2]] if len(order) > 1 else None  # read when first used (`WeeklyHistory.previous`)
    return WeeklyHistory(series, path, {w: weeks[w] for w in order}, {w: volumes[w] for w in order},
                         {w: audits[w] for w in order}, folders, latest, previous, sorted(incomplete))


@dataclass(frozen=True)
class StoredWeek:
    """A week of the history store, every table, read when called (`WeeklyHistory.previous`); a snapshot writer
    copies its tables to Parquet without reading them (`HistoryStore.copy_table`)."""

    path: Path
    snapshot_id: int

    def __call__(self) -> Tables:
        with HistoryStore(self.path, read_only=True) as store:
            return store.load(self.snapshot_id)
