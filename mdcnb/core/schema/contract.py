"""The machinery of the table contracts: column types, `Table` (build, conform and document a DataFrame of
exactly its columns) and the sharing of equal strings and lists. The declarations live beside it, one module per
feature; `mdcnb.core.schema` gathers them."""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

STRING = "string"
INT = "Int64"
FLOAT = "float64"
BOOL = "boolean"
TIME = "datetime64[ns, UTC]"
LIST = "list[str]"
JSON = "json"  # a dict kept as-is (object dtype)

PANDAS_DTYPE = {STRING: "string", INT: "Int64", FLOAT: "float64", BOOL: "boolean", TIME: TIME,
                 LIST: "object", JSON: "object"}


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str
    doc: str


@dataclass(frozen=True)
class Table:
    """A named table contract: ordered columns with types and meaning."""

    name: str
    doc: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def frame(self, rows: Iterable[Mapping[str, Any]] = ()) -> pd.DataFrame:
        """Build a DataFrame with exactly this table's columns and types from dict rows.

        Keys not in the contract are ignored; missing keys become nulls (empty lists for list columns).
        """
        rows = list(rows)
        return self.from_columns({col.name: [row.get(col.name) for row in rows] for col in self.columns},
                                 length=len(rows))

    def from_columns(self, columns: Mapping[str, list[Any]], length: int | None = None) -> pd.DataFrame:
        """Build a DataFrame of this table from value lists per column (cheaper than dict rows for big tables).

        Columns not in the contract are ignored; missing ones become nulls. `length` is needed only when
        `columns` holds none of the contract's columns.
        """
        if length is None:
            length = next((len(v) for name, v in columns.items() if name in self.names), 0)
        data = {col.name: _series(columns.get(col.name, [None] * length), col.dtype) for col in self.columns}
        return pd.DataFrame(data, index=pd.RangeIndex(length))

    def conform(self, df: pd.DataFrame) -> pd.DataFrame:
        """Return `df` restricted to, ordered by and typed as this contract (missing columns become null)."""
        return self.frame(df.to_dict("records")) if len(df) else self.frame()

    def markdown(self) -> str:
        lines = [f"### `{self.name}`", "", self.doc, "", "| column | type | meaning |", "|---|---|---|"]
        lines += [f"| `{c.name}` | {c.dtype} | {c.doc} |" for c in self.columns]
        return "\n".join(lines)


def shared_strings(values: Iterable[Any]) -> list[Any]:
    """The values with equal strings as one object. A big tenant repeats a few hundred ids, names and states over
    a million assessments: one object per distinct string instead of one per row keeps the tables (and every
    process that loads them) several times smaller; the values and the dtype are unchanged."""
    seen: dict[str, str] = {}
    return [seen.setdefault(v, v) if isinstance(v, str) else v for v in values]


def value_codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The column as codes into its distinct values, -1 for a missing cell: a categorical's own (what DuckDB gives
    for an ENUM), else factorised."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy(), np.asarray(column.cat.categories, dtype=object)
    return pd.factorize(column.to_numpy(dtype=object))


def by_code(codes: np.ndarray, values: Iterable[Any], missing: Any) -> np.ndarray:
    """`values[code]` for each code, `missing` for -1: every cell of one value is the same object (as
    `shared_strings` and `shared_lists` share them), and a value is built once per distinct value, not per row."""
    values = list(values)
    table = np.empty(len(values) + 1, dtype=object)
    for i, value in enumerate(values):  # one by one: a list value must stay one cell
        table[i] = value
    table[-1] = missing
    return table[codes]


def identity_codes(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of object cells by identity (in order of first appearance), and the row of each code's first cell: list
    and dict cells are shared objects (`shared_lists`) and unhashable, so the same object is the same value; equal
    strings are one object too (`shared_strings`), and hashing identities is faster than hashing text."""
    codes, distinct = pd.factorize(_addresses(cells))
    first = np.empty(len(distinct), dtype=np.int64)
    first[codes[::-1]] = np.arange(len(cells) - 1, -1, -1)  # the last write of each code is its first row
    return codes, first


def per_object(column: pd.Series, fn: Callable[[Any], Any]) -> pd.Series:
    """`fn` of each cell, called once per distinct cell object (`identity_codes`): list cells are shared objects
    (`shared_lists`), so a million assessments repeat a few dozen lists, and their texts are shared too."""
    cells = column.to_numpy(dtype=object)
    codes, first = identity_codes(cells)
    distinct = np.fromiter((fn(v) for v in cells[first]), dtype=object, count=len(first))
    return pd.Series(distinct[codes], dtype=object, index=column.index, name=column.name)


def _addresses(cells: np.ndarray) -> np.ndarray:
    """The identity (`id`, in CPython the object's address) of each cell, read as the object array's pointers at
    once: `map(id, cells)` over a million cells costs a Python call each."""
    cells = np.ascontiguousarray(cells, dtype=object)
    if not len(cells):
        return np.empty(0, dtype=np.int64)
    pointers = (ctypes.c_ssize_t * len(cells)).from_address(cells.ctypes.data)
    return np.frombuffer(pointers, dtype=np.intp).astype(np.int64)  # a copy, taken while `cells` holds the objects


def small_codes(codes: np.ndarray, distinct: int) -> np.ndarray:
    """Codes into `distinct` values in the smallest integers that hold them and -1 (null): less to hold and send."""
    return codes.astype(np.int8 if distinct < 2**7 else np.int16 if distinct < 2**15 else np.int32, copy=False)


def shared_lists(values: Iterable[Any]) -> list[list[str]]:
    """`list[str]` cells with equal lists as one list object (as `shared_strings`; cells are read, never mutated)."""
    seen: dict[tuple[str, ...], list[str]] = {}
    out = []
    for value in values:
        items = tuple(value) if isinstance(value, (list, tuple)) else ()
        try:
            out.append(seen.setdefault(items, list(items)))
        except TypeError:  # an unhashable item (not a string): its own list
            out.append(list(items))
    return out


def _series(values: list[Any], dtype: str) -> pd.Series:
    if dtype == LIST:
        return pd.Series(shared_lists(values), dtype="object")
    if dtype == JSON:
        return pd.Series([v if isinstance(v, dict) else None for v in values], dtype="object")
    if dtype == TIME:
        return pd.to_datetime(pd.Series(values, dtype="object"), utc=True, errors="coerce",
                              format="ISO8601").astype(TIME)
    if dtype == FLOAT:
        return pd.to_numeric(pd.Series(values, dtype="object"), errors="coerce").astype("float64")
    if dtype == INT:
        return pd.to_numeric(pd.Series(values, dtype="object"), errors="coerce").astype("Int64")
    if dtype == STRING:
        return pd.Series(shared_strings(values), dtype="string")
    return pd.Series(values, dtype=PANDAS_DTYPE[dtype])


def table(name: str, doc: str, *columns: tuple[str, str, str]) -> Table:
    """A contract from (name, dtype, meaning) triples: how every declaration module writes its tables."""
    return Table(name, doc, tuple(Column(*c) for c in columns))
