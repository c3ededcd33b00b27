"""The history store: one snapshot of every normalised table per run, in an embedded DuckDB file.

MDC's own "over time" workbooks need continuous export to Log Analytics and show nothing for the first week.
Each weekly report already pulls everything, so it keeps it here, and the week-over-week diff and the trends
(`mdcnb.analysis.diff`, `mdcnb.analysis.history`) are computed from the stored snapshots.

The store holds a catalogue of snapshots and one table per contract (its layout, version and migrations are
`history_schema`).

A *series* is one estate: (cloud, tenant id, scope kind, scope id), see `history_keys`. Tenants, the
sample and a live tenant kept in the same store never replace each other. Within a series there is at most one
snapshot per ISO week: recording the same week again replaces it, except that an incomplete pull never replaces
a complete one (it is refused; its dataset stays on disk). Each snapshot is written in ONE transaction whose last
statement adds the catalogue row, so a writer killed mid-write leaves the earlier snapshots intact and no
partial snapshot visible; `record_run` reads a snapshot back before it says it was stored. Opening an older
store migrates it in place (`history_schema.MIGRATIONS`); a contract that gained columns since the store was
written gets them added (null in the older snapshots).

Column types: string -> VARCHAR, Int64 -> BIGINT, float64 -> DOUBLE, boolean -> BOOLEAN, UTC times ->
TIMESTAMP_NS (nanoseconds: Azure writes 7 fractional digits), list[str] -> VARCHAR[], json -> VARCHAR (JSON text).
Reading a snapshot back gives frames equal to the ones written, dtypes included.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from mdcnb import __version__
from mdcnb.core import duck, schema
from mdcnb.core.weeks import iso_week
from mdcnb.tables import Tables
from mdcnb.tables.history_columns import cast_sql, copy_parquet, read_columns, store_frame
from mdcnb.tables.history_keys import SeriesKey, key_of
from mdcnb.tables.history_schema import (
    SCHEMA_VERSION,
    SNAPSHOT_TABLES,
    migrate,
    missing_columns,
    schema_version,
    transaction,
)

HISTORY_ENV = "MDCNB_HISTORY"
HISTORY_FILE = "history.duckdb"
LOCK_WAIT_SECONDS = 30.0
# DuckDB's memory while it writes a snapshot: unbounded, it holds the rows of a big INSERT (1.3 GB for a million
# assessments) before writing them out; held to this, it writes them to the file as it goes. A write that cannot
# fit (a row group of very long texts) is done again unbounded.
WRITE_MEMORY = "256MB"


class HistoryError(RuntimeError):
    """The store cannot be used as asked (newer schema, unknown week, locked for too long)."""


class IncompleteRefused(HistoryError):
    """An incomplete pull would have replaced a complete snapshot of its week."""


@dataclass(frozen=True)
class Snapshot:
    """One catalogue row: which estate (series), which week, when and from where."""

    snapshot_id: int
    series: str
    week: str
    as_of: pd.Timestamp
    recorded_at: pd.Timestamp
    source: str
    scope: dict[str, Any]
    dataset: str | None
    fingerprint: str | None
    tool_version: str | None
    row_counts: dict[str, int]
    key: SeriesKey
    complete: bool | None          # None: recorded before completeness was (schema 2) and its manifest is gone

    @property
    def label(self) -> str:
        """The week as listings show it: marked when its pull was incomplete."""
        return f"{self.week} (incomplete)" if self.complete is False else self.week


def default_store_path() -> Path:
    """`$MDCNB_HISTORY`, else `history.duckdb` in the user's data directory (platformdirs)."""
    if os.environ.get(HISTORY_ENV):
        return Path(os.environ[HISTORY_ENV]).expanduser()
    import platformdirs

    return platformdirs.user_data_path("mdcnb") / HISTORY_FILE


def dataset_as_of(manifest: Mapping[str, Any]) -> pd.Timestamp:
    """The time a dataset describes: its manifest's `as_of`, else `created`, else now (a value that is no time is
    passed over)."""
    for key in ("as_of", "asOf", "created"):
        try:
            stamp = pd.Timestamp(manifest[key]) if manifest.get(key) else None
        except ValueError:
            continue
        if stamp is not None:
            return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return pd.Timestamp.now(tz="UTC")


# --- the store ---------------------------------------------------------------------------------------------------

def _reported(method: Callable[..., Any]) -> Callable[..., Any]:
    """DuckDB errors of a store method (a truncated or damaged file) become a `HistoryError` naming the file."""

    @functools.wraps(method)
    def wrapper(self: HistoryStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except duckdb.Error as exc:
            raise HistoryError(f"history store {self.path} cannot be used: {exc}") from exc

    return wrapper


class HistoryStore:
    """A DuckDB history file. Use as a context manager; connections are short so reports never block each other."""

    def __init__(self, path: Path | str | None = None, *, read_only: bool = False) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        self.read_only = read_only
        self._con: duckdb.DuckDBPyConnection | None = None

    # connection -------------------------------------------------------------------------------------------------
    def __enter__(self) -> HistoryStore:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @_reported
    def open(self) -> None:
        if self.read_only and not self.path.exists():
            raise HistoryError(f"no history store at {self.path} (a report or a pull creates it)")
        if not self.read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con = _connect(self.path, read_only=self.read_only)
        try:
            self._check_schema()
        except BaseException:
            self.close()
            raise

    def _check_schema(self) -> None:
        """Refuse a newer store; migrate an older one (through a short writable connection when read-only)."""
        version = schema_version(self.con)
        if version > SCHEMA_VERSION:
            raise HistoryError(f"{self.path} has history schema {version}; this mdcnb ({__version__}) reads up to "
                               f"{SCHEMA_VERSION}: upgrade mdcnb")
        needs_change = version < SCHEMA_VERSION or missing_columns(self.con)
        if needs_change and self.read_only:
            self.close()
            with HistoryStore(self.path):
                pass
            self._con = _connect(self.path, read_only=True)
        elif needs_change or version == 0:
            migrate(self.con, version)

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise HistoryError("history store is not open (use `with HistoryStore(path) as store:`)")
        return self._con

    # catalogue --------------------------------------------------------------------------------------------------
    @_reported
    def snapshots(self, series: str | None = None) -> list[Snapshot]:
        """Catalogue rows, oldest week first (only committed snapshots exist here)."""
        sql = ("SELECT snapshot_id, series, week, as_of, recorded_at, source, scope, dataset, fingerprint, "
               "tool_version, row_counts, cloud, tenant_id, scope_kind, scope_id, complete FROM snapshots")
        params: list[Any] = []
        if series is not None:
            sql += " WHERE series = ?"
            params.append(series)
        rows = self.con.execute(sql + " ORDER BY series, week, snapshot_id", params).fetchall()
        return [Snapshot(int(r[0]), r[1], r[2], pd.Timestamp(r[3], tz="UTC"), pd.Timestamp(r[4], tz="UTC"),
                         r[5] or "", json.loads(r[6] or "{}"), r[7], r[8], r[9], json.loads(r[10] or "{}"),
                         SeriesKey(*r[11:15]), r[15])
                for r in rows]

    @_reported
    def series(self) -> list[str]:
        return [r[0] for r in self.con.execute("SELECT DISTINCT series FROM snapshots ORDER BY 1").fetchall()]

    def tenant_series(self, tenant: str) -> str:
        """The series of `tenant` recorded last (a tenant may also have management-group or subscription-list
        series); an unknown tenant is an error naming the stored ones."""
        snaps = [s for s in self.snapshots() if s.key.tenant == tenant.lower()]
        if not snaps:
            tenants = ", ".join(sorted({s.key.tenant for s in self.snapshots()})) or "none"
            raise HistoryError(f"no snapshot of tenant {tenant} in {self.path}; stored tenants: {tenants}")
        return max(snaps, key=lambda s: s.recorded_at).series

    def find(self, series: str, week: str | None = None) -> Snapshot:
        """The snapshot of `series` for `week` (None: the latest)."""
        found = [s for s in self.snapshots(series) if week is None or s.week == week]
        if not found:
            weeks = ", ".join(s.week for s in self.snapshots(series)) or "none"
            raise HistoryError(f"no snapshot for week {week or '(latest)'} in series {series!r}; stored: {weeks}")
        return found[-1]

    # writing ----------------------------------------------------------------------------------------------------
    @_reported
    def save(self, tables: Tables | Mapping[str, pd.DataFrame], *, extra: Mapping[str, pd.DataFrame] | None = None,
             as_of: datetime | pd.Timestamp, source: str,
             scope: Mapping[str, Any] | None = None, key: SeriesKey | None = None, dataset: str | None = None,
             fingerprint: str | Callable[[], str] | None = None, complete: bool = True,
             on_table: Callable[[str, int], None] | None = None) -> Snapshot:
        """Write one snapshot atomically, replacing the series' snapshot of the same ISO week.

        `tables` maps contract names (`SNAPSHOT_TABLES`) to frames; a `Tables` works, `extra` adds frames it
        does not hold (the CloudTrail daily volume). Contracts given no frame are stored empty. `key` names the
        series (default: from `source` and `scope`). `fingerprint` may be a function, called once the tables are
        written (the caller hashes the dataset meanwhile). An incomplete pull (`complete=False`) that would replace a
        complete snapshot raises `IncompleteRefused` and changes nothing.
        `on_table(name, rows)` is called after each table is written inside the transaction (progress reporting).
        """
        frames = {**(dict(tables.items()) if isinstance(tables, Tables) else dict(tables)), **(extra or {})}
        unknown = sorted(set(frames) - set(SNAPSHOT_TABLES))
        if unknown:
            raise HistoryError(f"no table contract for {unknown}; declare it in mdcnb/core/schema/ first")
        as_of = pd.Timestamp(as_of)
        as_of = as_of.tz_localize("UTC") if as_of.tzinfo is None else as_of.tz_convert("UTC")
        scope = dict(scope or {})
        key = key or key_of(source, scope)
        series = str(key)
        week = iso_week(as_of)
        con = self.con

        def write() -> None:
            with transaction(con):
                stored = con.execute("SELECT snapshot_id, coalesce(complete, true) FROM snapshots WHERE series = ? "
                                     "AND week = ?", [series, week]).fetchall()
                if not complete and any(was_complete for _, was_complete in stored):
                    raise IncompleteRefused(f"{week} of {series}: this pull is incomplete and {self.path} holds a "
                                            "complete snapshot of that week, which is kept")
                old = [r[0] for r in stored]
                snapshot_id = con.execute("SELECT coalesce(max(snapshot_id), 0) + 1 FROM snapshots").fetchone()[0]
                counts: dict[str, int] = {}
                for name, table in SNAPSHOT_TABLES.items():
                    if old:
                        con.execute(f"DELETE FROM snap_{name} WHERE snapshot_id IN (SELECT unnest(?))", [old])
                    frame = frames.get(name, table.frame())
                    counts[name] = self._insert(con, table, frame, snapshot_id)
                    if on_table is not None:
                        on_table(name, counts[name])
                printed = fingerprint() if callable(fingerprint) else fingerprint
                if old:
                    con.execute("DELETE FROM snapshots WHERE snapshot_id IN (SELECT unnest(?))", [old])
                con.execute("INSERT INTO snapshots VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [snapshot_id, series, week, _naive(as_of), _naive(pd.Timestamp.now(tz="UTC")), source,
                             json.dumps(scope, sort_keys=True, default=str), dataset, printed, __version__,
                             json.dumps(counts), key.cloud, key.tenant, key.kind, key.scope_id, complete])

        con.execute(f"SET memory_limit = '{WRITE_MEMORY}'")
        # rows stored in their order (as fast, and no more memory, at a million assessments): a copy or column read
        # of a big table then needs no sort (`history_columns.order_by`)
        con.execute("SET preserve_insertion_order = true")
        try:
            try:
                write()
            except duckdb.OutOfMemoryException:  # a row group of very long texts may need more at once: unbounded
                con.execute("RESET memory_limit")
                write()
        finally:
            con.execute("RESET memory_limit")
            con.execute("RESET preserve_insertion_order")
        return self.find(series, week)

    @staticmethod
    def _insert(con: duckdb.DuckDBPyConnection, table: schema.Table, frame: pd.DataFrame, snapshot_id: int) -> int:
        if not len(frame):
            return 0
        stored = store_frame(table, frame)  # noqa: F841 (scanned by DuckDB by name below)
        cols = ", ".join(f'"{c.name}"' for c in table.columns)
        casts = ", ".join(cast_sql(c) for c in table.columns)
        con.execute(f"INSERT INTO snap_{table.name} (snapshot_id, row_no, {cols}) "
                    f"SELECT {int(snapshot_id)}, stored.row_no, {casts} FROM stored")
        return len(frame)

    # reading ----------------------------------------------------------------------------------------------------
    @_reported
    def load_table(self, snapshot: Snapshot | int, name: str) -> pd.DataFrame:
        """One contract table of a snapshot, exactly as it was written (columns, order, dtypes)."""
        table = SNAPSHOT_TABLES[name]
        snapshot_id = snapshot.snapshot_id if isinstance(snapshot, Snapshot) else int(snapshot)
        if not self.con.execute("SELECT count(*) FROM snapshots WHERE snapshot_id = ?", [snapshot_id]).fetchone()[0]:
            raise HistoryError(f"snapshot {snapshot_id} is not in {self.path} (replaced by a later run of its week?)")
        rows = snapshot.row_counts.get(name, 0) if isinstance(snapshot, Snapshot) else 0
        columns = read_columns(self.con, table, snapshot_id, rows)
        length = len(columns[table.columns[0].name])
        if not length:
            return _empty(name)
        return pd.DataFrame(columns, index=pd.RangeIndex(length))

    @_reported
    def copy_table(self, snapshot: Snapshot, name: str, target: Path, row_group_rows: int) -> None:
        """One contract table of a snapshot written to a Parquet file as `load_table` reads it (`copy_parquet`)."""
        copy_parquet(self.con, SNAPSHOT_TABLES[name], snapshot.snapshot_id, target, row_group_rows)

    @_reported
    def load(self, snapshot: Snapshot | int, names: Iterable[str] | None = None) -> Tables:
        """A snapshot as `Tables` (only `names` when given; the others empty), manifest from the catalogue.

        Tables outside `Tables` (the CloudTrail daily volume) are read with `load_table`.
        """
        snap = snapshot if isinstance(snapshot, Snapshot) else self.by_id(int(snapshot))
        wanted = set(names) if names is not None else set(schema.TABLES)
        frames = {name: self.load_table(snap, name) if name in wanted else _empty(name) for name in schema.TABLES}
        return Tables(**frames, manifest=snapshot_manifest(snap))

    @_reported
    def verify(self, snap: Snapshot) -> None:
        """Raise `HistoryError` unless the snapshot is here and every row of every table reads back (each row is
        hashed whole, so every column's data is read, not only the row counts the file's metadata keeps)."""
        for name, rows in self.by_id(snap.snapshot_id).row_counts.items():
            got = self.con.execute(f"SELECT count(hash(t)) FROM snap_{name} t WHERE snapshot_id = ?",
                                   [snap.snapshot_id]).fetchone()[0]
            if got != rows:
                raise HistoryError(f"{snap.week} of {snap.series} was written to {self.path} but reads back "
                                   f"{got} of its {rows} {name} rows")

    def by_id(self, snapshot_id: int) -> Snapshot:
        for snap in self.snapshots():
            if snap.snapshot_id == snapshot_id:
                return snap
        raise HistoryError(f"no snapshot {snapshot_id} in {self.path}")


def snapshot_manifest(snap: Snapshot) -> dict[str, Any]:
    """The manifest of a stored week's `Tables`: its source, scope, as-of time and place in the store."""
    return {"source": snap.source, "scope": snap.scope, "as_of": snap.as_of.isoformat(),
            "history": {"snapshot_id": snap.snapshot_id, "series": snap.series, "week": snap.week,
                        "tenant": snap.key.tenant, "complete": snap.complete}}


@functools.cache
def _empty_frame(name: str) -> pd.DataFrame:
    return SNAPSHOT_TABLES[name].frame()


def _empty(name: str) -> pd.DataFrame:
    """An empty frame of a contract (built once: building one per table and week is slow)."""
    return _empty_frame(name).copy()


def _naive(stamp: pd.Timestamp) -> pd.Timestamp:
    return stamp.tz_convert("UTC").tz_localize(None)


def _connect(path: Path, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    """Open the file, waiting while another process holds its lock (a report and a notebook may overlap)."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            return duck.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:  # locked by another process: wait; not a store (truncated, other file): say so
            locked = isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()
            if not locked or time.monotonic() > deadline:
                raise HistoryError(f"cannot open history store {path}: {exc}") from exc
            time.sleep(0.2)
