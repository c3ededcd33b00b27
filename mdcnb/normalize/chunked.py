"""A record file read in chunks, each chunk column by column where a reader of its plain shape can, else record by
record: the loop the columnar readers (`assessment_columns`, `compliance_columns`, `resource_columns`,
`score_columns`, `pricing_columns`) share.

Lines of the plain shape are decoded by msgspec (`decode`); a chunk whose every record decoded, and which the
columnar reader accepts, becomes columns at once. Any other chunk goes through the per-row path (`PerRow`, its lines
read by orjson), so odd input gives the same rows and the same skips in the same order.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Iterable, Iterator, MutableSequence, Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import orjson
import pandas as pd

from mdcnb.core.schema import Table
from mdcnb.normalize.common import MAX_DEPTH
from mdcnb.sources.dataset import Skip, Span, existing_record_path, iter_raw_records, line_object

# Lines per chunk. The assessments reader (`assessment_columns`) reads 8,192: the distinct values it reads once per
# chunk repeat less often in a big chunk. The other readers read 512: they pass over a chunk's decoded records
# several times (a column each), and 512 records stay in the processor's cache between passes where 8,192 (some 25
# MB of objects for resources) do not; 2,000 subscriptions' resources took 2.8 s CPU in chunks of 8,192 and 2.2 s
# in chunks of 512. What they read once per distinct value is kept across chunks (`each`'s `done`).
CHUNK = 8192
RECORDS_CHUNK = 512

# (line, record) pairs -> the contracts' columns of the rows they give (`column_key`); its skips are appended in line
# order and the ids it reads are entered into the shared `seen` (id -> line), as `mdcnb.normalize.apply` does.
PerRow = Callable[[Iterable[tuple[int, dict[str, Any]]], dict[str, int | str]], dict[str, list[Any]]]

# (line, record (a decoded plain record, else a dict), its text, the reader's skips (unreadable lines) between the
# previous record and this one)
Item = tuple[int, Any, bytes, tuple[Skip, ...]]

# A plain chunk -> its columns, its ids entered into `seen`; `NotPlain` for a chunk the per-row path must read.
Columns = Callable[[list[Item], dict[str, int | str]], dict[str, Any]]


class Envelope(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The fields of the ARM resource envelope a plain record may carry beside its `id` and `properties` (a REST
    list item or a Resource Graph `securityresources` row): the readers' record structs add what they read."""

    name: str | None = None
    subscriptionId: str | None = None
    type: str | None = None  # the rest: not read
    tenantId: str | None = None
    kind: str | None = None
    location: str | None = None
    resourceGroup: str | None = None
    managedBy: str | None = None
    sku: None = None  # (null in Resource Graph's securityresources)
    plan: None = None
    tags: None = None
    identity: None = None
    zones: None = None
    extendedLocation: None = None


class NotPlain(Exception):
    """A chunk the columnar path does not read; the per-row path reads it."""


def read_chunks(dataset: Path, record_type: str, decode: Callable[[bytes], Any], columns: Columns,
                skips: list[Skip], per_row: PerRow, *, columnar: bool = True, span: Span | None = None,
                chunk: int | None = None, seen: dict[str, int | str] | None = None) -> tuple[list[dict[str, Any]], int]:
    """The columns of each chunk of the file, or of its `span`, and the number of records read. Plain chunks give
    what `columns` gives; the others (all of them when not `columnar`) what `per_row` gives, as object arrays.
    `seen`: the ids read before (id -> line), when the span is the rest of one partly read otherwise."""
    seen = {} if seen is None else seen
    source = str(existing_record_path(dataset, record_type))
    pieces: list[dict[str, Any]] = []
    reader: list[Skip] = []
    read = 0
    records = iter_raw_records(dataset, record_type, reader, span, decode if columnar else None)
    for items in _chunks(records, reader, chunk or RECORDS_CHUNK):
        read += len(items)
        try:
            if not columnar:
                raise NotPlain
            piece = columns(items, seen)
            for item in items:
                skips.extend(item[3])
        except NotPlain:
            refused: list[int] = []
            records = _interleaved(items, skips, source, record_type, refused)
            piece = {name: objects(values) for name, values in per_row(records, seen).items()}
            read -= len(refused)  # lines, not records (as the reader counts them)
        pieces.append(piece)
    skips.extend(reader)  # after the last record: unreadable lines, a file that ends early
    return pieces, read


def _chunks(records: Iterator[tuple[int, Any, bytes]], reader: list[Skip], size: int) -> Iterator[list[Item]]:
    chunk: list[Item] = []
    for line, record, raw in records:
        chunk.append((line, record, raw, tuple(reader) if reader else ()))
        reader.clear()
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _interleaved(chunk: list[Item], skips: list[Skip], source: str, record_type: str, refused: list[int]
                 ) -> Iterator[tuple[int, dict[str, Any]]]:
    """The chunk's records as the per-row path reads them (dicts), the reader's skips before each. A line msgspec
    read but orjson refuses (text that is not UTF-8 in a part kept raw) is skipped as the reader skips it
    (`line_object`), and its number appended to `refused`."""
    for line, record, raw, before in chunk:
        skips.extend(before)
        read = record if type(record) is dict else line_object(raw, source, line, record_type, skips)
        if read is None:
            refused.append(line)
        else:
            yield line, read


def objects(values: Sequence[Any]) -> np.ndarray:
    return np.fromiter(values, dtype=object, count=len(values))


def filled(values: MutableSequence[Any], ids: Sequence[str], fallback: Callable[[str], Any]) -> MutableSequence[Any]:
    """`values` (changed in place), with `fallback(id)` of the row's id where a value is null."""
    for row in np.flatnonzero(pd.isna(values)).tolist():
        values[row] = fallback(ids[row])
    return values


def each(values: list[Hashable], fn: Callable[[Any], Any], done: dict[Any, Any] | None = None) -> list[Any]:
    """`fn` of each value, called once per distinct value; `done`: the values `fn` gave before (a reader keeps them
    across its chunks), added to."""
    done = {} if done is None else done
    return [done[v] if v in done else done.setdefault(v, fn(v)) for v in values]


def frame(table: Table, pieces: list[dict[str, list[Any]]], tables: tuple[str, ...] = ()) -> pd.DataFrame:
    """The table of the chunks' columns (lists, or object arrays from the per-row path), typed by its contract;
    `tables`: those of a record type that gives several (`column_key`)."""
    return table.from_columns({name: list(itertools.chain.from_iterable(
        piece[column_key(table.name, name, tables)] for piece in pieces)) for name in table.names})


def column_key(table: str, column: str, tables: tuple[str, ...]) -> str:
    """The key of a column in a chunk's columns: its name in the record type's first (or only) table of `tables`,
    `table.column` in another."""
    return column if not tables or table == tables[0] else f"{table}.{column}"


# The top-level keys of a Resource Graph row, as it spells them: a plain record read by orjson has no other.
ROW_KEYS = frozenset({*Envelope.__struct_fields__, "id", "properties"})


def plain_rows(chunk: list[Item], seen: dict[str, int | str]) -> tuple[list[dict[str, Any]], list[str]]:
    """The records of a chunk read by orjson (`json_object`) and their lower-cased ids, when every record has only
    `ROW_KEYS`, is shallow enough for `fold` and has a text id not read before; `NotPlain` otherwise (the per-row path
    says what is wrong)."""
    records: list[dict[str, Any]] = [item[1] for item in chunk]
    if not set().union(*records) <= ROW_KEYS or any(raw.count(b"{") + raw.count(b"[") >= MAX_DEPTH
                                                     for _, _, raw, _ in chunk):
        raise NotPlain
    ids = [record.get("id") for record in records]
    if not all(type(i) is str for i in ids):
        raise NotPlain
    lowered = [i.strip().lower() for i in ids]  # `lower` of each id, as `apply` reads it
    if not all(lowered) or len(set(lowered)) < len(ids) or not seen.keys().isdisjoint(lowered):
        raise NotPlain
    return records, lowered


def json_object(line: bytes) -> dict[str, Any] | None:
    """The line's JSON object (orjson, as the per-row path reads it); None for anything else, which the reader reads
    again and skips with its reason."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return record if type(record) is dict else None
