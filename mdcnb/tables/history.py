"""The history store: one snapshot of every normalised table per run, in an embedded DuckDB file.

MDC's own "over time" workbooks need continuous export to Log Analytics and show nothing for the first week.
Each weekly report already pulls everything, so it keeps it here, and the week-over-week diff and the trends
(`mdcnb.analysis.diff`, `mdcnb.analysis.history`) are computed from the stored snapshots.

Layout of the store (schema version `SCHEMA_VERSION`, kept in the `meta` table):

    meta(key, value)                      schema_version, created_by
    snapshots(snapshot_id, series, week, as_of, recorded_at, source, scope, dataset, fingerprint,
              tool_version, row_counts)   the catalogue: a snapshot exists only once its row is here
    snap_<table>(snapshot_id, row_no, <the contract's columns>)   one per contract in `SNAPSHOT_TABLES`

A *series* is one estate seen through one source (`sample/...`, `azure/...`): the embedded sample and a live
tenant kept in the same store never replace each other. Within a series there is at most one snapshot per ISO
week: recording the same week again replaces it. Each snapshot is written in ONE transaction whose last
statement adds the catalogue row, so a writer killed mid-write leaves the earlier snapshots intact and no
partial snapshot visible. Opening an older store migrates it in place (`MIGRATIONS`); a contract that gained
columns since the store was written gets them added (null in the older snapshots).

Column types: string -> VARCHAR, Int64 -> BIGINT, float64 -> DOUBLE, boolean -> BOOLEAN, UTC times ->
TIMESTAMP_NS (nanoseconds: Azure writes 7 fractional digits), list[str] -> VARCHAR[], json -> VARCHAR (JSON text).
Reading a snapshot back gives frames equal to the ones written, dtypes included.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import orjson
import pandas as pd

from mdcnb import __version__
from mdcnb.core import schema
from mdcnb.core.weeks import iso_week
from mdcnb.sources.dataset import MANIFEST, cloudtrail_root, read_manifest
from mdcnb.tables import Tables

SCHEMA_VERSION = 2
HISTORY_ENV = "MDCNB_HISTORY"
HISTORY_FILE = "history.duckdb"
LOCK_WAIT_SECONDS = 30.0
# Tables with more rows are read one column at a time: a million assessments read at once hold DuckDB's result,
# its pandas copy and the converted table together (4 GB); column by column the converted table dominates.
COLUMNWISE_ROWS = 100_000

# What one snapshot holds: every table of `Tables` (`mdcnb.core.schema.TABLES`), plus the CloudTrail daily volume.
SNAPSHOT_TABLES: dict[str, schema.Table] = {**schema.TABLES, schema.CLOUDTRAIL_DAILY.name: schema.CLOUDTRAIL_DAILY}

_SQL_TYPE = {schema.STRING: "VARCHAR", schema.INT: "BIGINT", schema.FLOAT: "DOUBLE", schema.BOOL: "BOOLEAN",
             schema.TIME: "TIMESTAMP_NS", schema.LIST: "VARCHAR[]", schema.JSON: "VARCHAR"}

_CATALOGUE_DDL = """
CREATE TABLE IF NOT EXISTS snapshots (
    snapshot_id BIGINT PRIMARY KEY, series VARCHAR NOT NULL, week VARCHAR NOT NULL, as_of TIMESTAMP_NS NOT NULL,
    recorded_at TIMESTAMP_NS NOT NULL, source VARCHAR, scope VARCHAR, dataset VARCHAR, fingerprint VARCHAR,
    tool_version VARCHAR, row_counts VARCHAR)
"""


class HistoryError(RuntimeError):
    """The store cannot be used as asked (newer schema, unknown week, locked for too long)."""


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


def default_store_path() -> Path:
    """`$MDCNB_HISTORY`, else `history.duckdb` in the user's data directory (platformdirs)."""
    if os.environ.get(HISTORY_ENV):
        return Path(os.environ[HISTORY_ENV]).expanduser()
    import platformdirs

    return platformdirs.user_data_path("mdcnb") / HISTORY_FILE


def series_key(source: str, scope: Mapping[str, Any] | None) -> str:
    """Name the estate a snapshot belongs to: the source plus the root of its scope.

    The root is the management group or tenant when the scope names one (a subscription added next week is still
    the same estate); otherwise a short hash of the whole scope.
    """
    scope = dict(scope or {})
    for key in ("management_group", "managementGroup", "tenant_id", "tenantId", "tenant"):
        if scope.get(key):
            return f"{source}/{key.lower().replace('_', '')}={scope[key]}"
    canonical = json.dumps(scope, sort_keys=True, separators=(",", ":"), default=str)
    return f"{source}/{hashlib.sha256(canonical.encode()).hexdigest()[:12]}"


def dataset_fingerprint(dataset: Path) -> str:
    """A content hash of a dataset directory (its files, not its `history/` weeks): same data, same print."""
    digest = hashlib.blake2b(digest_size=16)
    root = Path(dataset)
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "history" not in p.relative_to(root).parts):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


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


# --- column conversion: contract frame <-> DuckDB -------------------------------------------------------------

def _to_store(column: pd.Series, dtype: str) -> pd.Series:
    if dtype == schema.TIME:
        times = pd.to_datetime(column, utc=True)
        return times.dt.tz_convert(None).astype("datetime64[ns]")
    if dtype == schema.JSON:
        return pd.Series([_json_text(v) if isinstance(v, dict) else None for v in column], dtype="string",
                         index=column.index)
    if dtype == schema.LIST:  # as JSON text: DuckDB would guess a list's type from a sample of rows
        return pd.Series([_json_text(list(v)) if isinstance(v, (list, tuple)) and len(v) else "[]" for v in column],
                         dtype="string", index=column.index)
    if dtype == schema.STRING:
        return column.astype("string")
    return column.astype(schema._PANDAS_DTYPE[dtype])


def _json_text(value: Any) -> str:
    """Compact JSON (orjson: the per-row cost dominates a large snapshot); json for what orjson refuses."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, default=str)


def _from_store(column: pd.Series, dtype: str) -> pd.Series:
    if dtype == schema.TIME:
        return pd.to_datetime(column).dt.tz_localize("UTC").astype(schema.TIME)
    if dtype == schema.JSON:
        return pd.Series([orjson.loads(v) if isinstance(v, str) else None for v in column], dtype="object")
    if dtype == schema.LIST:
        return pd.Series(schema.shared_lists([[str(x) for x in v] if isinstance(v, (list, tuple, np.ndarray)) else []
                                              for v in column]), dtype="object")
    if dtype == schema.STRING:
        return pd.Series(schema.shared_strings(column), dtype="string")
    return column.astype(schema._PANDAS_DTYPE[dtype])


def _store_frame(table: schema.Table, frame: pd.DataFrame) -> pd.DataFrame:
    """The contract's columns in order, converted for DuckDB; columns the frame lacks become null."""
    out = {}
    for col in table.columns:
        source = frame[col.name] if col.name in frame.columns else table.frame()[col.name].reindex(frame.index)
        out[col.name] = _to_store(source, col.dtype).reset_index(drop=True)
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)))


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
        version = self._schema_version()
        if version > SCHEMA_VERSION:
            raise HistoryError(f"{self.path} has history schema {version}; this mdcnb ({__version__}) reads up to "
                               f"{SCHEMA_VERSION}: upgrade mdcnb")
        needs_change = version < SCHEMA_VERSION or self._missing_columns()
        if needs_change and self.read_only:
            self.close()
            with HistoryStore(self.path):
                pass
            self._con = _connect(self.path, read_only=True)
        elif needs_change or version == 0:
            self._migrate(version)

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise HistoryError("history store is not open (use `with HistoryStore(path) as store:`)")
        return self._con

    # schema -----------------------------------------------------------------------------------------------------
    def _schema_version(self) -> int:
        has_meta = self.con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'"
                                    ).fetchone()[0]
        if not has_meta:
            return 0
        row = self.con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def _stored_columns(self, name: str) -> list[str]:
        rows = self.con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                                "ORDER BY ordinal_position", [f"snap_{name}"]).fetchall()
        return [r[0] for r in rows]

    def _missing_columns(self) -> bool:
        return any(set(t.names) - set(self._stored_columns(t.name)) for t in SNAPSHOT_TABLES.values())

    def _migrate(self, version: int) -> None:
        """Bring the store to `SCHEMA_VERSION` in one transaction (a killed migration leaves the old store)."""
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            if version == 0:
                con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
                con.execute(_CATALOGUE_DDL)
            else:
                for step in range(version, SCHEMA_VERSION):
                    MIGRATIONS[step](con)
            self._sync_contract_tables()
            con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?), ('written_by', ?)",
                        [str(SCHEMA_VERSION), f"mdcnb {__version__}"])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def _sync_contract_tables(self) -> None:
        """Create a table per contract; add columns a contract gained since the store was written."""
        for table in SNAPSHOT_TABLES.values():
            stored = self._stored_columns(table.name)
            if not stored:
                cols = ", ".join(f'"{c.name}" {_SQL_TYPE[c.dtype]}' for c in table.columns)
                self.con.execute(f"CREATE TABLE snap_{table.name} (snapshot_id BIGINT NOT NULL, "
                                 f"row_no BIGINT NOT NULL, {cols})")
                continue
            for col in table.columns:
                if col.name not in stored:
                    self.con.execute(f'ALTER TABLE snap_{table.name} ADD COLUMN "{col.name}" {_SQL_TYPE[col.dtype]}')

    # catalogue --------------------------------------------------------------------------------------------------
    @_reported
    def snapshots(self, series: str | None = None) -> list[Snapshot]:
        """Catalogue rows, oldest week first (only committed snapshots exist here)."""
        sql = ("SELECT snapshot_id, series, week, as_of, recorded_at, source, scope, dataset, fingerprint, "
               "tool_version, row_counts FROM snapshots")
        params: list[Any] = []
        if series is not None:
            sql += " WHERE series = ?"
            params.append(series)
        rows = self.con.execute(sql + " ORDER BY series, week, snapshot_id", params).fetchall()
        return [Snapshot(int(r[0]), r[1], r[2], pd.Timestamp(r[3], tz="UTC"), pd.Timestamp(r[4], tz="UTC"),
                         r[5] or "", json.loads(r[6] or "{}"), r[7], r[8], r[9], json.loads(r[10] or "{}"))
                for r in rows]

    @_reported
    def series(self) -> list[str]:
        return [r[0] for r in self.con.execute("SELECT DISTINCT series FROM snapshots ORDER BY 1").fetchall()]

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
             scope: Mapping[str, Any] | None = None, series: str | None = None, dataset: str | None = None,
             fingerprint: str | None = None, on_table: Callable[[str, int], None] | None = None) -> Snapshot:
        """Write one snapshot atomically, replacing the series' snapshot of the same ISO week.

        `tables` maps contract names (`SNAPSHOT_TABLES`) to frames; a `Tables` works, `extra` adds frames it
        does not hold (the CloudTrail daily volume). Contracts given no frame are stored empty.
        `on_table(name, rows)` is called after each table is written inside the transaction (progress reporting).
        """
        frames = {**(dict(tables.items()) if isinstance(tables, Tables) else dict(tables)), **(extra or {})}
        unknown = sorted(set(frames) - set(SNAPSHOT_TABLES))
        if unknown:
            raise HistoryError(f"no table contract for {unknown}; add it to mdcnb/core/schema.py first")
        as_of = pd.Timestamp(as_of)
        as_of = as_of.tz_localize("UTC") if as_of.tzinfo is None else as_of.tz_convert("UTC")
        scope = dict(scope or {})
        series = series or series_key(source, scope)
        week = iso_week(as_of)
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            old = [r[0] for r in con.execute("SELECT snapshot_id FROM snapshots WHERE series = ? AND week = ?",
                                             [series, week]).fetchall()]
            snapshot_id = con.execute("SELECT coalesce(max(snapshot_id), 0) + 1 FROM snapshots").fetchone()[0]
            counts: dict[str, int] = {}
            for name, table in SNAPSHOT_TABLES.items():
                if old:
                    con.execute(f"DELETE FROM snap_{name} WHERE snapshot_id IN (SELECT unnest(?))", [old])
                frame = frames.get(name, table.frame())
                counts[name] = self._insert(con, table, frame, snapshot_id)
                if on_table is not None:
                    on_table(name, counts[name])
            if old:
                con.execute("DELETE FROM snapshots WHERE snapshot_id IN (SELECT unnest(?))", [old])
            con.execute("INSERT INTO snapshots VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [snapshot_id, series, week, _naive(as_of), _naive(pd.Timestamp.now(tz="UTC")), source,
                         json.dumps(scope, sort_keys=True, default=str), dataset, fingerprint, __version__,
                         json.dumps(counts)])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return self.find(series, week)

    @staticmethod
    def _insert(con: duckdb.DuckDBPyConnection, table: schema.Table, frame: pd.DataFrame, snapshot_id: int) -> int:
        if not len(frame):
            return 0
        stored = _store_frame(table, frame)  # noqa: F841 (scanned by DuckDB by name below)
        cols = ", ".join(f'"{c.name}"' for c in table.columns)
        casts = ", ".join(_cast(c) for c in table.columns)
        con.execute(f"INSERT INTO snap_{table.name} (snapshot_id, row_no, {cols}) "
                    f"SELECT {int(snapshot_id)}, row_number() OVER () - 1, {casts} FROM stored")
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
        groups = [[c] for c in table.columns] if rows > COLUMNWISE_ROWS else [list(table.columns)]
        columns: dict[str, pd.Series] = {}
        for group in groups:
            cols = ", ".join(f'"{c.name}"' for c in group)
            raw = self.con.execute(f"SELECT {cols} FROM snap_{name} WHERE snapshot_id = ? ORDER BY row_no",
                                   [snapshot_id]).df()
            for c in group:  # each raw column is dropped once converted
                columns[c.name] = _from_store(raw.pop(c.name), c.dtype)
        length = len(columns[table.columns[0].name])
        if not length:
            return _empty(name)
        return pd.DataFrame(columns, index=pd.RangeIndex(length))

    @_reported
    def load(self, snapshot: Snapshot | int, names: Iterable[str] | None = None) -> Tables:
        """A snapshot as `Tables` (only `names` when given; the others empty), manifest from the catalogue.

        Tables outside `Tables` (the CloudTrail daily volume) are read with `load_table`.
        """
        snap = snapshot if isinstance(snapshot, Snapshot) else self._by_id(int(snapshot))
        wanted = set(names) if names is not None else set(schema.TABLES)
        frames = {name: self.load_table(snap, name) if name in wanted else _empty(name) for name in schema.TABLES}
        return Tables(**frames, manifest=snapshot_manifest(snap))

    def _by_id(self, snapshot_id: int) -> Snapshot:
        for snap in self.snapshots():
            if snap.snapshot_id == snapshot_id:
                return snap
        raise HistoryError(f"no snapshot {snapshot_id} in {self.path}")


def snapshot_manifest(snap: Snapshot) -> dict[str, Any]:
    """The manifest of a stored week's `Tables`: its source, scope, as-of time and place in the store."""
    return {"source": snap.source, "scope": snap.scope, "as_of": snap.as_of.isoformat(),
            "history": {"snapshot_id": snap.snapshot_id, "series": snap.series, "week": snap.week}}


@functools.cache
def _empty_frame(name: str) -> pd.DataFrame:
    return SNAPSHOT_TABLES[name].frame()


def _empty(name: str) -> pd.DataFrame:
    """An empty frame of a contract (built once: building one per table and week is slow)."""
    return _empty_frame(name).copy()


def _cast(col: schema.Column) -> str:
    if col.dtype == schema.LIST:
        return f'from_json(stored."{col.name}", \'["VARCHAR"]\')'
    return f'CAST(stored."{col.name}" AS {_SQL_TYPE[col.dtype]})'


def _naive(stamp: pd.Timestamp) -> pd.Timestamp:
    return stamp.tz_convert("UTC").tz_localize(None)


def _connect(path: Path, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    """Open the file, waiting while another process holds its lock (a report and a notebook may overlap)."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:  # locked by another process: wait; not a store (truncated, other file): say so
            locked = isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()
            if not locked or time.monotonic() > deadline:
                raise HistoryError(f"cannot open history store {path}: {exc}") from exc
            time.sleep(0.2)


# --- migrations: MIGRATIONS[v] brings a store from schema v to v + 1 -------------------------------------------

def _migrate_1_to_2(con: duckdb.DuckDBPyConnection) -> None:
    """Schema 1 keyed snapshots by week alone and kept row order implicit.

    Schema 2 adds the series (a sample and a live tenant in one store no longer replace each other's weeks), the
    data's `as_of` beside the time of recording, a content fingerprint, row counts, and an explicit `row_no`.
    """
    rows = con.execute("SELECT snapshot_id, source, scope FROM snapshots").fetchall()
    con.execute("ALTER TABLE snapshots RENAME TO snapshots_v1")
    con.execute(_CATALOGUE_DDL)
    con.execute("INSERT INTO snapshots SELECT snapshot_id, '', week, taken_at, taken_at, source, scope, dataset, "
                "NULL, tool_version, '{}' FROM snapshots_v1")
    for snapshot_id, source, scope in rows:
        con.execute("UPDATE snapshots SET series = ? WHERE snapshot_id = ?",
                    [series_key(source or "", json.loads(scope or "{}")), snapshot_id])
    con.execute("DROP TABLE snapshots_v1")
    tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                        "WHERE table_name LIKE 'snap\\_%' ESCAPE '\\'").fetchall()]
    for name in tables:
        con.execute(f"ALTER TABLE {name} ADD COLUMN row_no BIGINT")
        con.execute(f"UPDATE {name} SET row_no = numbered.n FROM (SELECT rowid AS rid, row_number() OVER "
                    f"(PARTITION BY snapshot_id ORDER BY rowid) - 1 AS n FROM {name}) AS numbered "
                    f"WHERE {name}.rowid = numbered.rid")
    counts = {}
    for name in tables:
        for snapshot_id, n in con.execute(f"SELECT snapshot_id, count(*) FROM {name} GROUP BY 1").fetchall():
            counts.setdefault(snapshot_id, {})[name.removeprefix("snap_")] = n
    for snapshot_id, per_table in counts.items():
        con.execute("UPDATE snapshots SET row_counts = ? WHERE snapshot_id = ?", [json.dumps(per_table), snapshot_id])


MIGRATIONS: dict[int, Callable[[duckdb.DuckDBPyConnection], None]] = {1: _migrate_1_to_2}


# --- recording datasets ----------------------------------------------------------------------------------------

def record_dataset(store: HistoryStore, dataset: Path, *, tables: Tables | None = None,
                   cloudtrail: pd.DataFrame | None = None, series: str | None = None) -> Snapshot:
    """Store the snapshot of one dataset directory, unless the store already holds this exact data for its week.

    `tables` and `cloudtrail` (its daily CloudTrail volume) avoid normalising and scanning again when the caller
    already has them. Returns the stored snapshot.
    """
    from mdcnb.tables import load_tables

    manifest = read_manifest(dataset)
    source = str(manifest.get("source") or "unknown")
    scope = manifest.get("scope") if isinstance(manifest.get("scope"), dict) else {}
    series = series or series_key(source, scope)
    as_of = dataset_as_of(manifest)
    fingerprint = dataset_fingerprint(dataset)
    for snap in store.snapshots(series):
        if snap.week == iso_week(as_of) and snap.fingerprint == fingerprint:
            return snap
    loaded = tables if tables is not None else load_tables(dataset)
    daily = cloudtrail if cloudtrail is not None else cloudtrail_daily_of(dataset)
    return store.save(loaded, extra={"cloudtrail_daily": daily}, as_of=as_of, source=source,
                      scope=scope, series=series, dataset=str(dataset), fingerprint=fingerprint)


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
               cloudtrail: pd.DataFrame | None = None,
               log: Callable[[str], None] = lambda text: print(text, file=sys.stderr)) -> Snapshot | None:
    """What `mdcnb report` and `mdcnb pull` call: seed the dataset's embedded weeks, then store the dataset itself
    (with its `tables` and daily `cloudtrail` volume when the caller has them).

    Weeks already stored with the same content are left alone, so running it again only rewrites what changed.
    A store that cannot be written is reported through `log` and never fails the run (the data is on disk).
    """
    path = Path(store_path) if store_path else default_store_path()
    try:
        with HistoryStore(path) as store:
            current = series_for(dataset)
            for week in embedded_weeks(dataset):
                record_dataset(store, week, series=current)
            snap = record_dataset(store, dataset, tables=tables, cloudtrail=cloudtrail, series=current)
    except (HistoryError, duckdb.Error, OSError) as exc:
        log(f"history: snapshot not stored in {path}: {exc}")
        return None
    log(f"history: {snap.week} of {snap.series} stored in {path}")
    return snap


def series_for(dataset: Path) -> str:
    manifest = read_manifest(dataset)
    scope = manifest.get("scope") if isinstance(manifest.get("scope"), dict) else {}
    return series_key(str(manifest.get("source") or "unknown"), scope)


def dataset_week(dataset: Path) -> str:
    return iso_week(dataset_as_of(read_manifest(dataset)))


# Tables the trends read from every stored week (the full tables are loaded only for the two weeks compared).
TREND_TABLES = ("subscriptions", "connectors", "plans", "secure_scores", "compliance_standards")


@dataclass
class WeeklyHistory:
    """What the summary page shows: the stored weeks of the dataset's estate, the last two in full."""

    series: str
    store: Path
    weeks: dict[str, Tables]                 # every week up to the dataset's, trend tables only, oldest first
    cloudtrail: dict[str, pd.DataFrame]      # CloudTrail daily volume per week
    latest: Tables                           # the dataset's own week, every table
    previous: Tables | None                  # the stored week before it, every table (None on a first run)

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

    def last_two(self) -> dict[str, Tables]:
        """The previous and the latest week in full (for the headline numbers and their change)."""
        pair = {self.week: self.latest}
        return {self.previous_week: self.previous, **pair} if self.previous is not None else pair


def weekly_history(dataset: Path, store_path: Path | str | None = None, *, since: str | None = None,
                   until: str | None = None, tables: Tables | None = None) -> WeeklyHistory:
    """The estate's weeks: those stored for its series, then those the dataset ships (`history/<week>/`) and the
    dataset's own week where the store lacks them. Reading never writes: `record_run` stores a week.

    Weeks run from `since` (an ISO date, its week included) to the dataset's own week, or `until` if earlier.
    `tables` are the dataset's own, already loaded.
    """
    from mdcnb.tables import load_tables

    path = Path(store_path) if store_path else default_store_path()
    last = dataset_week(dataset)
    if until:
        last = min(last, iso_week(pd.Timestamp(until)))
    first = iso_week(pd.Timestamp(since)) if since else ""
    series = series_for(dataset)
    weeks: dict[str, Tables] = {}
    cloudtrail: dict[str, pd.DataFrame] = {}
    full: dict[str, Callable[[], Tables]] = {}
    if path.exists():
        with HistoryStore(path, read_only=True) as store:
            for snap in store.snapshots(series):
                if first <= snap.week <= last:
                    weeks[snap.week] = store.load(snap, TREND_TABLES)
                    cloudtrail[snap.week] = store.load_table(snap, "cloudtrail_daily")
                    full[snap.week] = functools.partial(_stored_tables, path, snap.snapshot_id)
    own = {dataset_week(folder): folder for folder in [*embedded_weeks(dataset), dataset]}
    for week, folder in own.items():
        if first <= week <= last and week not in weeks:
            weeks[week] = load_tables(folder, names=TREND_TABLES)
            cloudtrail[week] = cloudtrail_daily_of(folder)
            full[week] = functools.partial(load_tables, folder)
    if not weeks:
        raise HistoryError(f"no snapshot of {series} between {first or 'the first week'} and {last} in {path}")
    order = sorted(weeks)
    latest_week = order[-1]
    latest = tables if tables is not None and latest_week == dataset_week(dataset) else full[latest_week]()
    previous = full[order[-2]]() if len(order) > 1 else None
    return WeeklyHistory(series, path, {w: weeks[w] for w in order}, {w: cloudtrail[w] for w in order}, latest,
                         previous)


def _stored_tables(path: Path, snapshot_id: int) -> Tables:
    with HistoryStore(path, read_only=True) as store:
        return store.load(snapshot_id)
