"""DuckDB connections as mdcnb opens them: without DuckDB's progress bar, which in a notebook kernel becomes an
ipywidgets `FloatProgress` in the cell's output whenever a query runs long (under load), so an executed report
notebook would depend on the machine's load."""

from __future__ import annotations

import duckdb


def connect(path: str = ":memory:", *, read_only: bool = False,
            threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """A connection to `path` (in memory by default), limited to `threads` when given, with no progress bar."""
    con = duckdb.connect(path, read_only=read_only, config={"threads": threads} if threads else {})
    con.execute("SET enable_progress_bar = false")
    return con
