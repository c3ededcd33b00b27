"""Tables for the history store tests: every contract filled with every kind of value its dtypes allow.

Values include nulls, non-ASCII text, Azure's 7-digit fractional seconds, empty and non-empty lists and nested
JSON, so a round trip through the store proves each column type comes back exactly.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from mdcnb.core import schema
from mdcnb.tables.history_schema import SNAPSHOT_TABLES


def _value(dtype: str, name: str, i: int, week: int) -> Any:
    if i % 4 == 3:
        return None
    return {
        schema.STRING: f"{name}-{week}-{i}-ünïcødé <b>",
        schema.INT: i * 7 - 3,
        schema.FLOAT: i / 3 + week,
        schema.BOOL: (i + week) % 2 == 0,
        schema.TIME: f"2026-11-{10 + i % 9:02d}T10:11:12.123456{i % 10}Z",
        schema.LIST: [f"a{i}", "b"] if i % 2 else [],
        schema.JSON: {"k": i, "week": week, "nested": {"x": [1, 2, None]}},
    }[dtype]


def filled_frames(rows: int = 6, week: int = 1, big: dict[str, int] | None = None) -> dict[str, pd.DataFrame]:
    """Every table a snapshot holds, each with `rows` rows (or `big[name]` rows) of varied values."""
    return {name: table.frame([{c.name: _value(c.dtype, c.name, i, week) for c in table.columns}
                               for i in range((big or {}).get(name, rows))])
            for name, table in SNAPSHOT_TABLES.items()}
