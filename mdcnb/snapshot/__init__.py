"""The week's snapshot: everything the pages and the commands read, loaded once.

`build(dataset, ...)` loads the dataset's tables, scans its CloudTrail logs once, audits its AWS accounts and reads
the history store (never writing to it). Stage 1 of `mdcnb report` builds it and `write`s it to one file under the
week folder; the notebooks (stage 2) `read` that file and touch neither the dataset, the logs nor the store.
Interactively, a notebook without a snapshot file builds its own (`load`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mdcnb.core import schema
from mdcnb.snapshot.cost import load_prices
from mdcnb.snapshot.readiness import AuditResult, audit_tables
from mdcnb.sources.aws_dataset import AccountInventory, read_inventories
from mdcnb.sources.dataset import Skip, cloudtrail_root, default_dataset
from mdcnb.sources.prices import DEFAULT_SIEM, PriceTable, SiemPrice, siem_price
from mdcnb.tables import Tables, cache, load_tables
from mdcnb.tables.cloudtrail.result import VolumeResult
from mdcnb.tables.history import WeeklyHistory, weekly_history

SNAPSHOT_FILE = "snapshot.pickle"
_FRAMES = ("volume", "hourly")  # the VolumeResult fields that are tables
_OBJECTS = ("audit", "prices", "siem_price", "inventories", "history")  # the other parts, stored whole


@dataclass
class Snapshot:
    """One week of one estate: its tables, its CloudTrail volume, its readiness audit and its stored history."""

    tables: Tables
    cloudtrail: VolumeResult
    audit: AuditResult
    prices: PriceTable
    siem_price: SiemPrice
    inventories: dict[str, AccountInventory] = field(default_factory=dict)
    history: WeeklyHistory | None = None

    @property
    def dataset(self) -> Path | None:
        return self.tables.dataset


def build(dataset: str | Path | None = None, *, history: str | Path | None = None, logs: str | Path | None = None,
          since: str | None = None, until: str | None = None, with_history: bool = True,
          prices: str | Path | None = None, siem: str = DEFAULT_SIEM, price_per_gb: float | None = None) -> Snapshot:
    """Load everything once: tables, one CloudTrail scan (`logs`, else the dataset's own `cloudtrail/`), the AWS
    inventory and readiness audit, the price table and SIEM price, and the stored weeks of the estate (read only;
    `with_history=False` skips them)."""
    path = Path(dataset) if dataset is not None else default_dataset()
    tables = load_tables(path)
    inventories, inventory_skips = read_inventories(path)
    audit = audit_tables(tables, inventories=inventories)
    audit.skips[:0] = inventory_skips
    table = load_prices(prices)
    return Snapshot(tables=tables, cloudtrail=scan(path, logs=logs, since=since, until=until), audit=audit,
                    prices=table, siem_price=siem_price(siem, table, price_per_gb=price_per_gb),
                    inventories=inventories,
                    history=weekly_history(path, history, since=since, until=until, tables=tables)
                    if with_history else None)


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


def write(snapshot: Snapshot, folder: Path) -> Path:
    """Leave the snapshot in `folder/snapshot.pickle` (owner-only, written atomically) for the notebooks."""
    frames: dict[str, Any] = {f"tables/{name}": frame for name, frame in snapshot.tables.items()}
    frames.update({f"cloudtrail/{name}": getattr(snapshot.cloudtrail, name) for name in _FRAMES})
    for name in _OBJECTS:
        frames[name] = getattr(snapshot, name)
    accounting = {f.name: getattr(snapshot.cloudtrail, f.name) for f in dataclasses.fields(VolumeResult)
                  if f.name not in _FRAMES}
    entry = Path(folder) / SNAPSHOT_FILE
    cache.write_frames(entry, frames, {"manifest": snapshot.tables.manifest, "dataset": str(snapshot.dataset),
                                       "cloudtrail": accounting})
    return entry


def read(folder: str | Path) -> Snapshot:
    """The snapshot `write` left in `folder`."""
    frames, meta = cache.read_frames(Path(folder) / SNAPSHOT_FILE)
    tables = Tables(**{name.split("/", 1)[1]: frame for name, frame in frames.items() if name.startswith("tables/")},
                    manifest=meta["manifest"], dataset=Path(meta["dataset"]))
    cloudtrail = VolumeResult(**{name: frames[f"cloudtrail/{name}"] for name in _FRAMES}, **meta["cloudtrail"])
    return Snapshot(tables=tables, cloudtrail=cloudtrail, **{name: frames[name] for name in _OBJECTS})


def load(snapshot: str | Path | None = None, **build_args: Any) -> Snapshot:
    """The report's snapshot when `snapshot` names its folder, else one built now from `build_args`."""
    return read(snapshot) if snapshot else build(**build_args)


def skipped(snap: Snapshot) -> pd.DataFrame:
    """Every record and file the snapshot could not read (tables, CloudTrail, AWS inventory) as `schema.SKIPS`."""
    inventory = [s.as_row() for s in snap.audit.skips if isinstance(s, Skip)]
    parts = [snap.tables.skips, snap.cloudtrail.skips(), schema.SKIPS.frame(inventory)]
    return schema.SKIPS.conform(pd.concat([p for p in parts if len(p)], ignore_index=True)) \
        if any(len(p) for p in parts) else schema.SKIPS.frame()
