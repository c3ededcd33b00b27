"""Contract columns <-> DuckDB columns of the history store: how each contract type is written and read back
exactly (times as UTC nanoseconds, lists and JSON objects as JSON text, strings shared on the way back)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import orjson
import pandas as pd

from mdcnb.core import schema

# Tables with more rows are read one column at a time: a million assessments read at once hold DuckDB's result,
# its pandas copy and the converted table together (4 GB); column by column the converted table dominates.
COLUMNWISE_ROWS = 100_000
REPEATED = 8  # a text column with at most one distinct value in this many rows is read as an ENUM
COPY_MEMORY = "500MB"  # DuckDB's memory while it copies a stored table to Parquet (`copy_parquet`)
_ENUM = "mdcnb_values"  # the temporary ENUM type a repeated text column is read as
SQL_TYPE = {schema.STRING: "VARCHAR", schema.INT: "BIGINT", schema.FLOAT: "DOUBLE", schema.BOOL: "BOOLEAN",
            schema.TIME: "TIMESTAMP_NS", schema.LIST: "VARCHAR[]", schema.JSON: "VARCHAR"}


def to_store(column: pd.Series, dtype: str) -> pd.Series:
    if dtype == schema.TIME:
        times = pd.to_datetime(column, utc=True)
        return times.dt.tz_convert(None).astype("datetime64[ns]")
    if dtype == schema.JSON:
        return schema.per_object(column, lambda v: _json_text(v) if isinstance(v, dict) else None)
    if dtype == schema.LIST:  # as JSON text: DuckDB would guess a list's type from a sample of rows
        return schema.per_object(column, lambda v: _json_text(list(v)) if isinstance(v, (list, tuple)) and len(v)
                                 else "[]")
    if dtype == schema.STRING:
        return column.astype("string")
    return column.astype(schema.PANDAS_DTYPE[dtype])


def _json_text(value: Any) -> str:
    """Compact JSON (orjson: the per-row cost dominates a large snapshot); json for what orjson refuses."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, default=str)


def from_store(column: pd.Series, dtype: str) -> pd.Series:
    """A column as `select_sql` read it, back in its contract dtype: each distinct text converted once, and every
    cell of one value the same object (`schema.by_code`)."""
    if dtype == schema.TIME:
        return pd.to_datetime(column).dt.tz_localize("UTC").astype(schema.TIME)
    if dtype == schema.INT or dtype == schema.FLOAT or dtype == schema.BOOL:
        return column.astype(schema.PANDAS_DTYPE[dtype])
    codes, texts = schema.value_codes(column)
    if dtype == schema.JSON:
        return pd.Series(schema.by_code(codes, (orjson.loads(t) for t in texts), None), dtype="object")
    if dtype == schema.LIST:  # JSON text of a VARCHAR[] (`select_sql`); a null list is empty
        return pd.Series(schema.by_code(codes, ([str(x) for x in orjson.loads(t)] for t in texts), []), dtype="object")
    return pd.Series(pd.arrays.StringArray(schema.by_code(codes, texts, pd.NA)))


def read_columns(con: duckdb.DuckDBPyConnection, table: schema.Table, snapshot_id: int,
                 rows: int) -> dict[str, pd.Series]:
    """The table's columns of one stored snapshot, in row order, in their contract dtypes. A big table (over
    `COLUMNWISE_ROWS` rows) is read one column at a time, each converted before the next is read, and a text column
    that repeats a few values (states, names, ids of a few thousand resources over a million assessments) is read
    as an ENUM of its distinct values, which DuckDB gives as a categorical: one Python string per distinct value
    instead of one per row (about 0.1 s a column instead of 0.5-1.1 s at a million rows)."""
    where = _rows_of(table, snapshot_id)
    if rows <= COLUMNWISE_ROWS:
        raw = con.execute(f"SELECT {', '.join(select_sql(c) for c in table.columns)} {where} ORDER BY row_no").df()
        return {c.name: from_store(raw.pop(c.name), c.dtype) for c in table.columns}
    repeated = _repeated_texts(con, table, where, rows)
    order = order_by(con, table, snapshot_id)
    columns: dict[str, pd.Series] = {}
    for c in table.columns:  # each column converted before the next is read
        if c.name in repeated:
            con.execute(f'CREATE OR REPLACE TEMP TYPE {_ENUM} AS ENUM (SELECT DISTINCT "{c.name}" {where} '
                        f'AND "{c.name}" IS NOT NULL)')
        raw = con.execute(f"SELECT {select_sql(c, c.name in repeated)} {where} {order}").df()
        columns[c.name] = from_store(raw[c.name], c.dtype)
    return columns


def copy_parquet(con: duckdb.DuckDBPyConnection, table: schema.Table, snapshot_id: int, target: Path,
                 row_group_rows: int) -> None:
    """Write the table of one stored snapshot to a Parquet file, rows in order, a list as JSON text (`select_sql`),
    through DuckDB alone: a previous week's million assessments never become Python objects. A sort by row (a
    store written before its rows were kept in order, `order_by`) spills to DuckDB's temporary folder beside the
    store beyond `COPY_MEMORY` (unbounded it held 1.6 GB at a million assessments)."""
    select = ", ".join(select_sql(c) for c in table.columns)
    quoted = str(target).replace("'", "''")
    order = order_by(con, table, snapshot_id)
    con.execute(f"SET memory_limit = '{COPY_MEMORY}'")
    try:
        con.execute(f"COPY (SELECT {select} {_rows_of(table, snapshot_id)} {order}) TO '{quoted}' "
                    f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {int(row_group_rows)})")
    finally:
        con.execute("RESET memory_limit")


def order_by(con: duckdb.DuckDBPyConnection, table: schema.Table, snapshot_id: int) -> str:
    """"" when the store gives the snapshot's rows of `table` in row order (the store keeps insertion order on this
    connection, and writes rows in order), else the ORDER BY that sorts them: at a million assessments the sort
    took half of `copy_parquet`'s time."""
    con.execute("SET preserve_insertion_order = true")
    rows = con.execute(f"SELECT row_no {_rows_of(table, snapshot_id)}").fetchnumpy()["row_no"]
    return "" if np.array_equal(rows, np.arange(len(rows))) else "ORDER BY row_no"


def select_sql(col: schema.Column, enum: bool = False) -> str:
    """The SELECT expression of a stored column: a list as JSON text (one Python string per row, parsed once per
    distinct list, instead of a NumPy array of strings per row), a repeated text as the ENUM just created."""
    if col.dtype == schema.LIST:
        return f'to_json("{col.name}")::VARCHAR AS "{col.name}"'
    return f'"{col.name}"::{_ENUM} AS "{col.name}"' if enum else f'"{col.name}"'


def _rows_of(table: schema.Table, snapshot_id: int) -> str:
    """The FROM and WHERE of one stored snapshot's rows of `table`."""
    return f"FROM snap_{table.name} WHERE snapshot_id = {int(snapshot_id)} "


def _repeated_texts(con: duckdb.DuckDBPyConnection, table: schema.Table, where: str, rows: int) -> set[str]:
    """The text columns with at most one distinct value in `REPEATED` rows (DuckDB's approximate count, one scan)."""
    texts = [c.name for c in table.columns if c.dtype == schema.STRING]
    if not texts:
        return set()
    counts = con.execute("SELECT " + ", ".join(f'approx_count_distinct("{c}")' for c in texts) + f" {where}").fetchone()
    return {c for c, n in zip(texts, counts, strict=True) if n * REPEATED <= rows}


def store_frame(table: schema.Table, frame: pd.DataFrame) -> pd.DataFrame:
    """The contract's columns in order, converted for DuckDB, and `row_no` (each row's place); columns the frame
    lacks become null."""
    out = {"row_no": np.arange(len(frame), dtype=np.int64)}
    for col in table.columns:
        source = frame[col.name] if col.name in frame.columns else table.frame()[col.name].reindex(frame.index)
        out[col.name] = to_store(source, col.dtype).reset_index(drop=True)
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)), copy=False)


def cast_sql(col: schema.Column) -> str:
    """The SELECT expression that turns a converted column back into its contract's DuckDB type."""
    if col.dtype == schema.LIST:
        return f'from_json(stored."{col.name}", \'["VARCHAR"]\')'
    return f'CAST(stored."{col.name}" AS {SQL_TYPE[col.dtype]})'
