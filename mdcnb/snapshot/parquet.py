"""DataFrames as Parquet files, each described in the snapshot's manifest so that it reads back exactly.

DuckDB writes and reads the files (pyarrow is not installed: with it pandas would change the storage of every
string column). Parquet has no pandas dtypes, so each frame's entry in the manifest keeps its columns, their dtypes
(categories and their order included), its index when it is not 0..n-1, its row count, and the file's size and
SHA-256. A column is stored as DuckDB's natural type for its dtype, except: zone-aware times as naive UTC times
(the zone is in the dtype), categoricals as their codes, and object columns (lists, dicts) as JSON text, one cell
each. Equal files are written once and shared. Reading checks every file against its entry and says in one line
what is wrong (`SnapshotError`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pandas as pd

from mdcnb.core import duck, schema
from mdcnb.tables.history_columns import COLUMNWISE_ROWS

INDEX = "__index__"  # the column that holds a frame's index when it is not 0..n-1
# Rows per Parquet row group as written. DuckDB holds a row group's strings while it encodes them, per thread: with
# its defaults (122,880 rows, one writer per core) writing a million assessments took 1.2-1.4 GB more memory, and
# the report's peak was that write; one thread and 20,000 rows take about 70 MB, in no more time.
ROW_GROUP_ROWS = 20_000
_PYTHON_STRINGS = pd.StringDtype("python")  # the tables' text dtype (`string`)


class SnapshotError(ValueError):
    """A snapshot folder that cannot be read as written, in one line naming the file."""


def json_text(value: Any, *, indent: bool = False) -> str:
    """`value` as JSON, refusing what JSON would not give back as it was (times, numpy arrays, non-string keys)."""
    option = orjson.OPT_PASSTHROUGH_DATETIME | (orjson.OPT_INDENT_2 if indent else 0)
    try:
        return orjson.dumps(value, option=option).decode()
    except TypeError as exc:
        raise TypeError(f"cannot be written to a snapshot as JSON: {exc}") from None


def _categories(dtype: pd.CategoricalDtype) -> dict[str, Any]:
    """What a categorical dtype is besides its name: its categories, their order and their dtype."""
    return {"values": dtype.categories.tolist(), "ordered": bool(dtype.ordered),
            "dtype": str(dtype.categories.dtype)}


def _stored(column: pd.Series) -> pd.Series:
    """The column as DuckDB should store it."""
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return pd.Series(column.cat.codes, name=column.name)
    if isinstance(dtype, pd.DatetimeTZDtype):
        return column.dt.tz_convert("UTC").dt.tz_localize(None)
    if pd.api.types.is_object_dtype(dtype):
        return schema.per_object(column, lambda v: None if v is None else json_text(v)).astype("string")
    return column


def _restored(column: pd.Series, dtype_name: str, categories: dict[str, Any] | None) -> pd.Series:
    """A column read back, with the dtype and the values it was written with."""
    if categories is not None:
        kind = pd.CategoricalDtype(pd.Index(categories["values"], dtype=categories["dtype"]), categories["ordered"])
        return pd.Series(pd.Categorical.from_codes(column.to_numpy().astype("int64"), dtype=kind))
    dtype = pd.api.types.pandas_dtype(dtype_name)
    if isinstance(dtype, pd.DatetimeTZDtype):
        return pd.to_datetime(column).dt.tz_localize("UTC").astype(dtype)  # astype converts to the zone
    if pd.api.types.is_object_dtype(dtype):  # JSON cells parsed, equal cells as one object (as the contracts share
        codes, texts = schema.value_codes(column)  # their lists; cells are never mutated)
        return pd.Series(schema.by_code(codes, [orjson.loads(t) for t in texts], None), dtype=object)
    if isinstance(dtype, pd.StringDtype):
        return pd.Series(_strings(column, dtype))
    return column.astype(dtype)


def _strings(column: pd.Series, dtype: pd.StringDtype) -> pd.api.extensions.ExtensionArray:
    """A text column with equal strings as one object, as `schema.shared_strings` gives them, except in a big
    table's column that is not stored as a dictionary: its values are nearly all distinct (ids)."""
    if isinstance(column.dtype, pd.CategoricalDtype) or len(column) <= COLUMNWISE_ROWS:
        codes, texts = schema.value_codes(column)
        values = schema.by_code(codes, list(texts), dtype.na_value)
    else:
        values = column.to_numpy(dtype=object, na_value=dtype.na_value, copy=True)  # StringArray writes NAs in
    if dtype == _PYTHON_STRINGS:
        return pd.arrays.StringArray(values)  # checks the cells, not copying them (several times quicker)
    return pd.array(values, dtype=dtype)


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _plain_index(frame: pd.DataFrame) -> bool:
    index = frame.index
    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1 and index.name is None


@dataclass
class FrameWriter:
    """Writes frames under `folder`. An empty frame needs no file (its entry says it all); a frame object written
    before is not written again (its first name is returned); a frame whose file would be the same as one written
    before (a week that did not change) shares that file."""

    folder: Path
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    _names: dict[int, tuple[str, pd.DataFrame]] = field(default_factory=dict)
    _files: dict[str, str] = field(default_factory=dict)  # SHA-256 -> the file written with it
    _con: duckdb.DuckDBPyConnection = field(default_factory=lambda: duck.connect(threads=1))

    def frame(self, name: str, frame: pd.DataFrame) -> str:
        """Write `frame` as `<name>.parquet`; the name to find it by in the manifest."""
        if id(frame) in self._names:
            return self._names[id(frame)][0]
        if not all(isinstance(c, str) for c in frame.columns) or frame.columns.has_duplicates or INDEX in frame:
            raise TypeError(f"frame {name}: columns must be distinct strings other than {INDEX}")
        whole = frame if _plain_index(frame) else frame.assign(**{INDEX: frame.index})
        entry: dict[str, Any] = {"rows": len(frame), "columns": {c: str(whole[c].dtype) for c in whole.columns}}
        categorical = {c: _categories(whole[c].dtype) for c in whole.columns
                       if isinstance(whole[c].dtype, pd.CategoricalDtype)}
        if categorical:
            entry["categories"] = categorical
        if whole is not frame:
            entry["index_name"] = frame.index.name
        if len(frame):
            entry.update(self._file(f"{name}.parquet", whole))
        self.entries[name] = entry
        self._names[id(frame)] = (name, frame)  # the frame kept alive: its id is not reused
        return name

    def close(self) -> None:
        """Close DuckDB now (a connection left to the garbage collector may be collected in a forked child)."""
        self._con.close()

    def copied(self, name: str, columns: dict[str, str], rows: int, write: Callable[[Path, int], None]) -> str:
        """List a frame of `rows` rows and these columns (name -> dtype) whose Parquet file `write(path,
        row_group_rows)` writes as `frame` would (a table copied from the history store by DuckDB); its name."""
        entry: dict[str, Any] = {"rows": rows, "columns": columns}
        if rows:
            entry.update(self._placed(f"{name}.parquet", lambda path: write(path, ROW_GROUP_ROWS)))
        self.entries[name] = entry
        return name

    def _file(self, relative: str, whole: pd.DataFrame) -> dict[str, Any]:
        """Write the frame's Parquet file (unless the same file exists already); its entry's file, size and digest."""
        stored = pd.DataFrame({c: _stored(whole[c]).reset_index(drop=True) for c in whole.columns}, copy=False)
        return self._placed(relative, lambda path: self._con.from_df(stored).write_parquet(
            str(path), compression="zstd", row_group_size=ROW_GROUP_ROWS))

    def _placed(self, relative: str, write: Callable[[Path], None]) -> dict[str, Any]:
        """`write` a file beside the others, then move it to `relative`, or drop it when an equal one was written
        before; its entry's file, size and digest."""
        written = self.folder / ".frame.parquet"
        write(written)
        digest, size = _digest(written), written.stat().st_size
        if digest in self._files:
            written.unlink()
        else:
            path = self.folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(written, 0o600)
            os.replace(written, path)
            self._files[digest] = relative
        return {"file": self._files[digest], "bytes": size, "sha256": digest}


@dataclass
class FrameReader:
    """Reads the frames a `FrameWriter` wrote, each once, checked against its manifest entry."""

    folder: Path
    entries: dict[str, dict[str, Any]]
    frames_read: dict[str, pd.DataFrame] = field(default_factory=dict)  # name -> the frame read
    _encodings: dict[str, dict[str, bool]] = field(default_factory=dict)  # file -> column -> stored as a dictionary
    _con: duckdb.DuckDBPyConnection = field(default_factory=lambda: duck.connect(threads=1))

    def frame(self, name: str, leave_out: Collection[str] = ()) -> pd.DataFrame:
        """The frame `name`, read once: without the columns in `leave_out` when its first read leaves them out."""
        if name not in self.frames_read:
            entry = self._entry(name)
            self.frames_read[name] = self._read(entry, [c for c in entry["columns"] if c not in leave_out])
        return self.frames_read[name]

    def columns(self, name: str, columns: Sequence[str]) -> Iterator[tuple[str, pd.Series]]:
        """Some columns of the frame `name`, each restored as `frame` would: what a reader that left them out
        before adds back."""
        entry = self._entry(name)
        for column, raw in self._raw(entry, columns):
            yield column, _restored(raw, entry["columns"][column], entry.get("categories", {}).get(column))

    def _entry(self, name: str) -> dict[str, Any]:
        if name not in self.entries:
            raise SnapshotError(f"snapshot {self.folder}: manifest.json names no frame {name!r}")
        return self.entries[name]

    def close(self) -> None:
        """Close DuckDB now (as `FrameWriter.close`)."""
        self._con.close()

    def _read(self, entry: dict[str, Any], names: list[str]) -> pd.DataFrame:
        columns, categories = entry["columns"], entry.get("categories", {})
        raw = self._raw(entry, names)
        # copy=False: each restored column is the frame's own (a dict's columns are otherwise copied, which took
        # 180 MB more while a million assessments were read)
        frame = pd.DataFrame({c: _restored(column, columns[c], categories.get(c)) for c, column in raw},
                             index=pd.RangeIndex(entry["rows"]), columns=names, copy=False)
        if "index_name" in entry:
            frame = frame.set_index(INDEX).rename_axis(entry["index_name"])
        return frame

    def _raw(self, entry: dict[str, Any], wanted: Sequence[str]) -> Iterator[tuple[str, pd.Series]]:
        """The file's columns `wanted` as DuckDB reads them, after checking it is the file the manifest lists. A big
        table is read column by column, each restored before the next is read: DuckDB's result and the raw cells
        stay small. An empty frame has no file."""
        if not entry["rows"]:
            yield from ((c, pd.Series([], dtype=object)) for c in wanted)
            return
        path = str(self.file(entry))
        names = list(entry["columns"])
        whole = entry["rows"] <= COLUMNWISE_ROWS
        try:
            cursor = self._con.execute(f"SELECT * FROM read_parquet(?){'' if whole else ' LIMIT 0'}", [path])
            found = [d[0] for d in cursor.description]
            if found != names:
                raise SnapshotError(f"snapshot {self.folder}: {entry['file']} holds other columns than manifest.json "
                                    f"lists ({', '.join(found[:3])}, ... instead of {', '.join(names[:3])}, ...)")
            columns = cursor.df()[list(wanted)].items() if whole else ((n, self._column(path, n)) for n in wanted)
            for name, column in columns:
                if len(column) != entry["rows"]:
                    raise SnapshotError(f"snapshot {self.folder}: {entry['file']} holds {len(column)} rows, "
                                        f"manifest.json says {entry['rows']}")
                yield name, column.reset_index(drop=True)
        except duckdb.Error as exc:
            reason = str(exc).splitlines()[0]
            raise SnapshotError(f"snapshot {self.folder}: {entry['file']} cannot be read as Parquet: {reason}") \
                from None

    def _column(self, path: str, name: str) -> pd.Series:
        """One column of a big table. A column the file stores as a dictionary (a few hundred ids, names or states
        over a million rows) is read as an ENUM of its distinct values, which DuckDB gives as a categorical: one
        Python string per distinct value instead of one per row."""
        column = '"' + name.replace('"', '""') + '"'
        if not self._dictionary(path, name):
            return self._con.execute(f"SELECT {column} FROM read_parquet(?)", [path]).df()[name]
        source = "read_parquet('" + path.replace("'", "''") + "')"
        self._con.execute(f"CREATE OR REPLACE TYPE mdcnb_values AS ENUM "
                          f"(SELECT DISTINCT {column} FROM {source} WHERE {column} IS NOT NULL)")
        return self._con.execute(f"SELECT {column}::mdcnb_values AS {column} FROM {source}").df()[name]

    def _dictionary(self, path: str, name: str) -> bool:
        """Whether every row group stores the text column `name` as a dictionary of distinct values."""
        if path not in self._encodings:
            self._encodings[path] = dict(self._con.execute(
                "SELECT path_in_schema, bool_and(contains(encodings, 'DICTIONARY') AND type = 'BYTE_ARRAY') "
                "FROM parquet_metadata(?) GROUP BY path_in_schema", [path]).fetchall())
        return bool(self._encodings[path].get(name))

    def file(self, entry: dict[str, Any]) -> Path:
        """The file of an entry, inside the folder, present and with the size and digest it was written with."""
        return checked_file(self.folder, entry)


def checked_file(folder: Path, entry: dict[str, Any]) -> Path:
    """`folder/entry["file"]` after checking that it stays inside the folder, exists, and has the size and SHA-256
    the manifest lists (a truncated, damaged or replaced file is refused before anything parses it)."""
    relative = Path(entry["file"])
    if relative.is_absolute() or ".." in relative.parts:
        raise SnapshotError(f"snapshot {folder}: manifest.json names a file outside the folder ({relative})")
    path = folder / relative
    if not path.is_file():
        raise SnapshotError(f"snapshot {folder}: {relative} is missing")
    size = path.stat().st_size
    if size != entry["bytes"]:
        raise SnapshotError(f"snapshot {folder}: {relative} has {size} bytes, {entry['bytes']} were written "
                            "(truncated or replaced)")
    if _digest(path) != entry["sha256"]:
        raise SnapshotError(f"snapshot {folder}: {relative} is not the file that was written (its SHA-256 differs)")
    return path


def write_file(folder: Path, name: str, data: bytes) -> dict[str, Any]:
    """Write `data` to `folder/name` (owner-only); its manifest entry (file, size, SHA-256)."""
    path = folder / name
    path.write_bytes(data)
    os.chmod(path, 0o600)
    return {"file": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
