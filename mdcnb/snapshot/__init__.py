"""The week's snapshot: everything the pages and the commands read, loaded once.

`build(dataset, ...)` loads the dataset's tables, scans its CloudTrail logs once, audits its AWS accounts and reads
the history store (never writing to it). Stage 1 of `mdcnb report` builds it and `write`s it as files under the week
folder (`<week>/snapshot/`: Parquet tables and a JSON manifest, see `snapshot.stored`); the notebooks (stage 2) `read`
that folder and touch neither the dataset, the logs nor the store.
Interactively, a notebook without a snapshot folder builds its own (`load`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from mdcnb.analysis.diff import KeyMatch
from mdcnb.core import schema
from mdcnb.snapshot.cost import load_prices
from mdcnb.snapshot.readiness import AuditResult, audit_dataset, audit_tables
from mdcnb.sources.aws_dataset import AccountInventory, read_inventories
from mdcnb.sources.dataset import Skip, cloudtrail_root, default_dataset
from mdcnb.sources.prices import DEFAULT_SIEM, PriceTable, SiemPrice, siem_price
from mdcnb.tables import Tables, load_tables
from mdcnb.tables.cloudtrail.result import VolumeResult, cloudtrail_daily
from mdcnb.tables.cloudtrail.trails import trails_from_dataset
from mdcnb.tables.history_weeks import WeeklyHistory, cloudtrail_daily_of, record_run, weekly_history

T = TypeVar("T")


@dataclass(frozen=True)
class Options:
    """What a snapshot is priced and what-if'ed with (report-wide in `mdcnb report`; a notebook's own parameters
    when it builds its snapshot itself)."""

    prices: str | None = None          # price table file; None: the latest dated table in `currency`
    currency: str = "USD"
    overrides: tuple[str, ...] = ()    # files of negotiated prices
    siem: str = DEFAULT_SIEM           # SIEM price row of the price table
    price_per_gb: float | None = None  # a negotiated SIEM price per GB instead
    price_per_million_events: float | None = None
    exclude_tag: str | None = "env"    # the exclusion what-if leaves out resources tagged exclude_tag=exclude_value
    exclude_value: str | None = "dev"


@dataclass
class Snapshot:
    """One week of one estate: its tables, its CloudTrail volume, its readiness audit and its stored history."""

    tables: Tables
    cloudtrail: VolumeResult
    audit: AuditResult
    prices: PriceTable
    siem_price: SiemPrice
    options: Options = field(default_factory=Options)
    inventories: dict[str, AccountInventory] = field(default_factory=dict)
    trails: pd.DataFrame = field(default_factory=schema.CLOUDTRAIL_TRAILS.frame)
    history: WeeklyHistory | None = None
    # how the assessments of the weeks the summary compares pair up: written by stage 1 (`stored`), so that a report
    # kernel needs no assessment ids; None: paired from the tables' ids when first compared
    assessment_match: KeyMatch | None = None
    # `computed_once`; not written, and not copied by `dataclasses.replace` (a copy at another week has other data)
    memo: dict[tuple, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def dataset(self) -> Path | None:
        return self.tables.dataset


def computed_once(snap: Snapshot, name: str, filters: Hashable, compute: Callable[[], T]) -> T:
    """`compute()` once per snapshot and filters: what several measures read (the cost page's view) is not built
    again for each of them. Each snapshot has its own memo, so a copy seen at another week never gets this week's
    value."""
    key = (name, filters)
    if key not in snap.memo:
        snap.memo[key] = compute()
    return snap.memo[key]


def build(dataset: str | Path | None = None, *, history: str | Path | None = None, logs: str | Path | None = None,
          since: str | None = None, until: str | None = None, with_history: bool = True,
          options: Options | None = None, tenant: str | None = None) -> Snapshot:
    """Load everything once: tables, one CloudTrail scan (`logs`, else the dataset's own `cloudtrail/`), the AWS
    inventory and readiness audit, the price table and SIEM price, and the stored weeks of the estate (read only;
    `with_history=False` skips them; `tenant` picks another tenant's series of the store)."""
    path = Path(dataset) if dataset is not None else default_dataset()
    tables = load_tables(path)
    inventories, inventory_skips = read_inventories(path)
    audit = audit_tables(tables, inventories=inventories)
    audit.skips[:0] = inventory_skips
    options = options or Options()
    table = load_prices(options.prices, options.currency, options.overrides)
    volume = scan(path, logs=logs, since=since, until=until)
    own_daily = cloudtrail_daily(volume.volume) if logs is None else None  # the week's own logs were scanned
    snap = Snapshot(tables=tables, cloudtrail=volume, audit=audit, prices=table, siem_price=_siem_price(options, table),
                    options=options, inventories=inventories, trails=trails_from_dataset(path),
                    history=weekly_history(path, history, since=since, until=until, tables=tables,
                                           daily=own_daily, tenant=tenant) if with_history else None)
    _audit_unstored_weeks(snap)
    return snap


def of_tables(tables: Tables, cloudtrail: VolumeResult | None = None, options: Options | None = None) -> Snapshot:
    """A snapshot of just these tables (and this CloudTrail result): what a command that reads no more needs for
    the measures of its feature. No audit, no inventory, no history; prices from the latest table."""
    options = options or Options()
    table = load_prices(options.prices, options.currency, options.overrides)
    empty = VolumeResult(schema.CLOUDTRAIL_VOLUME.frame(), schema.CLOUDTRAIL_HOURLY.frame())
    return Snapshot(tables=tables, cloudtrail=cloudtrail or empty, audit=AuditResult(schema.AWS_AUDIT.frame(), None),
                    prices=table, siem_price=_siem_price(options, table), options=options)


def _siem_price(options: Options, table: PriceTable) -> SiemPrice:
    return siem_price(options.siem, table, price_per_gb=options.price_per_gb,
                      price_per_million_events=options.price_per_million_events)


def record(snap: Snapshot, store: str | Path | None = None, *, since: str | None = None, until: str | None = None,
           log: Callable[[str], None] = print) -> None:
    """Store the snapshot's week (and the weeks its dataset ships) in the history store, with each week's daily
    CloudTrail volume and readiness audit, then read the estate's weeks back into `snap.history`: the explicit
    history step of `mdcnb report` and `mdcnb pull` (never a side effect of reading)."""
    record_run(snap.dataset, store, tables=snap.tables, extras=functools.partial(week_extras, snap), log=log)
    snap.history = weekly_history(snap.dataset, store, since=since, until=until, tables=snap.tables,
                                  daily=cloudtrail_daily(snap.cloudtrail.volume))
    _audit_unstored_weeks(snap)


def week_extras(snap: Snapshot, folder: Path) -> dict[str, pd.DataFrame]:
    """The tables a stored week keeps beside the dataset's own: its daily CloudTrail volume and readiness audit
    (the snapshot's own for its dataset; read from the folder for a week the dataset ships)."""
    if Path(folder) == Path(snap.dataset):
        return {"cloudtrail_daily": cloudtrail_daily(snap.cloudtrail.volume), "aws_audit": snap.audit.results}
    return {"cloudtrail_daily": cloudtrail_daily_of(folder), "aws_audit": audit_dataset(folder).results}


def _audit_unstored_weeks(snap: Snapshot) -> None:
    """Weeks read from their folder rather than the store get their readiness audit here (the tables layer,
    which read them, cannot audit)."""
    if snap.history is None:
        return
    for week, folder in snap.history.folders.items():
        own = Path(folder) == Path(snap.dataset)
        snap.history.audits[week] = snap.audit.results if own else audit_dataset(folder).results


def scan(dataset: Path, *, logs: str | Path | None = None, since: str | None = None,
         until: str | None = None) -> VolumeResult:
    """The CloudTrail volume of `logs` or of the dataset's `cloudtrail/` folder (an empty result when it has none)."""
    from mdcnb.tables import cloudtrail

    if logs:
        return cloudtrail.volume(logs, since=since, until=until, dataset=dataset)
    if not cloudtrail_root(dataset).is_dir():
        return VolumeResult(schema.CLOUDTRAIL_VOLUME.frame(), schema.CLOUDTRAIL_HOURLY.frame(), source="",
                            since=since, until=until, notes=["no CloudTrail logs in the dataset (cloudtrail/)"])
    return cloudtrail.dataset_volume(dataset, since=since, until=until)


def write(snapshot: Snapshot, folder: str | Path) -> Path:
    """Leave the snapshot in `folder` as Parquet tables and a JSON manifest for the notebooks (`snapshot.stored`);
    the manifest's path."""
    from mdcnb.snapshot import stored  # it builds on this module's classes

    return stored.write(snapshot, folder)


def read(folder: str | Path, leave_out: Mapping[str, Collection[str]] | None = None) -> Snapshot:
    """The snapshot `write` left in `folder`, checked file by file (`stored.SnapshotError` names what is wrong);
    its tables without the columns `leave_out` names per table (`stored.read`)."""
    from mdcnb.snapshot import stored

    return stored.read(folder, leave_out)


def load(snapshot: str | Path | None = None, leave_out: Mapping[str, Collection[str]] | None = None,
         **build_args: Any) -> Snapshot:
    """The report's snapshot when `snapshot` names its folder (its tables without the columns `leave_out` names),
    else one built now from `build_args`, every column kept."""
    return read(snapshot, leave_out) if snapshot else build(**build_args)


def skipped(snap: Snapshot) -> pd.DataFrame:
    """Every record and file the snapshot could not read (tables, CloudTrail, AWS inventory) as `schema.SKIPS`."""
    inventory = [s.as_row() for s in snap.audit.skips if isinstance(s, Skip)]
    parts = [snap.tables.skips, snap.cloudtrail.skips(), schema.SKIPS.frame(inventory)]
    return schema.SKIPS.conform(pd.concat([p for p in parts if len(p)], ignore_index=True)) \
        if any(len(p) for p in parts) else schema.SKIPS.frame()
