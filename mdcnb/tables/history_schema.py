"""The history store's own schema: the catalogue, one table per contract a snapshot holds (`SNAPSHOT_TABLES`),
its version (`SCHEMA_VERSION`, kept in the `meta` table), the migrations that bring an older store to it in place
(`MIGRATIONS`; a contract that gained columns gets them, null in the older snapshots), and the transaction every
change to the store runs in.

    meta(key, value)                      schema_version, created_by
    snapshots(snapshot_id, series, week, as_of, recorded_at, source, scope, dataset, fingerprint,
              tool_version, row_counts, cloud, tenant_id, scope_kind, scope_id, complete)
                                          the catalogue: a snapshot exists only once its row is here
    snap_<table>(snapshot_id, row_no, <the contract's columns>)   one per contract in `SNAPSHOT_TABLES`
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator

import duckdb

from mdcnb import __version__
from mdcnb.core import schema
from mdcnb.tables.history_columns import SQL_TYPE
from mdcnb.tables.history_keys import key_of, migrate_2_to_3

SCHEMA_VERSION = 3

# What one snapshot holds: every table of `Tables` (`mdcnb.core.schema.TABLES`), plus the CloudTrail daily volume.
# Besides the dataset's tables, each week keeps its daily CloudTrail volume and its AWS readiness audit.
SNAPSHOT_TABLES: dict[str, schema.Table] = {**schema.TABLES, **{t.name: t for t in (schema.CLOUDTRAIL_DAILY,
                                                                                     schema.AWS_AUDIT)}}

# The catalogue as schema 2 made it; a new store is created so and brought to the current schema by `MIGRATIONS`.
_CATALOGUE_V2_DDL = """
CREATE TABLE IF NOT EXISTS snapshots (
    snapshot_id BIGINT PRIMARY KEY, series VARCHAR NOT NULL, week VARCHAR NOT NULL, as_of TIMESTAMP_NS NOT NULL,
    recorded_at TIMESTAMP_NS NOT NULL, source VARCHAR, scope VARCHAR, dataset VARCHAR, fingerprint VARCHAR,
    tool_version VARCHAR, row_counts VARCHAR)
"""


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The store's schema version (0: a new, empty file)."""
    has_meta = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'"
                           ).fetchone()[0]
    if not has_meta:
        return 0
    row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def _stored_columns(con: duckdb.DuckDBPyConnection, name: str) -> list[str]:
    rows = con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                       "ORDER BY ordinal_position", [f"snap_{name}"]).fetchall()
    return [r[0] for r in rows]


def missing_columns(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether a contract gained columns its stored table lacks."""
    return any(set(t.names) - set(_stored_columns(con, t.name)) for t in SNAPSHOT_TABLES.values())


def migrate(con: duckdb.DuckDBPyConnection, version: int) -> None:
    """Bring the store to `SCHEMA_VERSION` in one transaction (a killed migration leaves the old store)."""
    with transaction(con):
        if version == 0:  # a new store starts as schema 2 and takes the migrations after it
            con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
            con.execute(_CATALOGUE_V2_DDL)
            version = 2
        for step in range(version, SCHEMA_VERSION):
            MIGRATIONS[step](con)
        _sync_contract_tables(con)
        con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?), ('written_by', ?)",
                    [str(SCHEMA_VERSION), f"mdcnb {__version__}"])


def _sync_contract_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create a table per contract; add columns a contract gained since the store was written."""
    for table in SNAPSHOT_TABLES.values():
        stored = _stored_columns(con, table.name)
        if not stored:
            cols = ", ".join(f'"{c.name}" {SQL_TYPE[c.dtype]}' for c in table.columns)
            con.execute(f"CREATE TABLE snap_{table.name} (snapshot_id BIGINT NOT NULL, "
                        f"row_no BIGINT NOT NULL, {cols})")
            continue
        for col in table.columns:
            if col.name not in stored:
                con.execute(f'ALTER TABLE snap_{table.name} ADD COLUMN "{col.name}" {SQL_TYPE[col.dtype]}')


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """BEGIN ... COMMIT, rolled back on any error. The error raised is the one that broke the transaction: a
    failed COMMIT (a full disk) has already ended it, and the ROLLBACK's own complaint would hide the cause."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise


# --- migrations: MIGRATIONS[v] brings a store from schema v to v + 1 -------------------------------------------

def _migrate_1_to_2(con: duckdb.DuckDBPyConnection) -> None:
    """Schema 1 keyed snapshots by week alone and kept row order implicit.

    Schema 2 adds the series (a sample and a live tenant in one store no longer replace each other's weeks), the
    data's `as_of` beside the time of recording, a content fingerprint, row counts, and an explicit `row_no`.
    """
    rows = con.execute("SELECT snapshot_id, source, scope FROM snapshots").fetchall()
    con.execute("ALTER TABLE snapshots RENAME TO snapshots_v1")
    con.execute(_CATALOGUE_V2_DDL)
    con.execute("INSERT INTO snapshots SELECT snapshot_id, '', week, taken_at, taken_at, source, scope, dataset, "
                "NULL, tool_version, '{}' FROM snapshots_v1")
    for snapshot_id, source, scope in rows:
        con.execute("UPDATE snapshots SET series = ? WHERE snapshot_id = ?",
                    [str(key_of(source or "", json.loads(scope or "{}"))), snapshot_id])
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


MIGRATIONS: dict[int, Callable[[duckdb.DuckDBPyConnection], None]] = {1: _migrate_1_to_2, 2: migrate_2_to_3}
