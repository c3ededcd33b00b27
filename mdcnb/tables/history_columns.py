"""Contract columns <-> DuckDB columns of the history store: how each contract type is written and read back
exactly (times as UTC nanoseconds, lists and JSON objects as JSON text, strings shared on the way back)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson
import pandas as pd

from mdcnb.core import schema

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
    if dtype == schema.TIME:
        return pd.to_datetime(column).dt.tz_localize("UTC").astype(schema.TIME)
    if dtype == schema.INT or dtype == schema.FLOAT or dtype == schema.BOOL:
        return column.astype(schema.PANDAS_DTYPE[dtype])
    cells = column.to_numpy(dtype=object)  # iterated as an array: a Series yields its cells several times slower
    if dtype == schema.JSON:
        return pd.Series([orjson.loads(v) if isinstance(v, str) else None for v in cells], dtype="object")
    if dtype == schema.LIST:
        return pd.Series(schema.shared_lists([[str(x) for x in v] if isinstance(v, (list, tuple, np.ndarray)) else []
                                              for v in cells]), dtype="object")
    return pd.Series(schema.shared_strings(cells), dtype="string")


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
