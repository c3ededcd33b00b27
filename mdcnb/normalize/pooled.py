"""A big dataset normalised by a pool of worker processes, into exactly the tables one process makes.

Each record type but the assessments is one task, normalised as one process normalises it (`normalise_type`:
those `COLUMNAR` names chunk by chunk, the others record by record). The assessments file
is cut into spans at line starts (`line_spans`), each read by `assessment_columns.read_pieces` in a task of its own
and sent back as codes into its distinct values (small to send; equal strings become one object again here). A
span reads as the file's lines would, except where an earlier span decides: the id of a record already read (a
duplicate) and the metadata of a recommendation (the first record of a key decides). So the spans are joined only
when no id is read twice across them, no later span skipped a record for a reason other than an unreadable line (it
may have been a duplicate), the spans' first records of each key gave the same metadata, and every span was read to
its end; otherwise this process reads the assessments again, as one. Unreadable lines of a later span are numbered
on from the lines of the spans before it.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mdcnb.core import schema
from mdcnb.normalize import (
    NORMALISERS,
    Coded,
    Normalised,
    _metadata_collector,
    _per_row,
    _source,
    apply,
    assessment_columns,
    normalise_type,
    posture,
)
from mdcnb.sources.dataset import (
    RECORD_TYPES,
    Skip,
    Span,
    existing_record_path,
    iter_records,
    line_spans,
)

PROCESSES_ENV = "MDCNB_LOAD_PROCESSES"
MIN_BYTES = 64 << 20  # smaller datasets are read in one process: starting a pool costs more than it saves
ASSESSMENTS = "assessments"
METADATA = "assessmentmetadata"


def processes_for(dataset: Path, processes: int | None = None) -> int:
    """How many processes normalise `dataset`: `processes`, else `$MDCNB_LOAD_PROCESSES`, else the cores this
    process may use; one for a dataset under `MIN_BYTES` or where processes cannot be forked."""
    if processes is None:
        configured = os.environ.get(PROCESSES_ENV, "")
        processes = int(configured) if configured.isdigit() and int(configured) > 0 else len(os.sched_getaffinity(0))
    if processes < 2 or "fork" not in mp.get_all_start_methods():
        return 1
    files = [p for p in (existing_record_path(dataset, t) for t in RECORD_TYPES) if p is not None and p.is_file()]
    return processes if sum(p.stat().st_size for p in files) >= MIN_BYTES else 1


def normalise(dataset: Path, processes: int) -> Normalised | None:
    """The dataset normalised by `processes` worker processes (forked); None when a worker died."""
    out = Normalised()
    metadata: dict[str, dict[str, Any]] = {}
    metadata_skips: list[Skip] = []
    apply(METADATA, _source(dataset, METADATA), iter_records(dataset, METADATA, metadata_skips),
          _metadata_collector(metadata), Normalised(skips=metadata_skips))
    path = existing_record_path(dataset, ASSESSMENTS)
    plain = path is not None and path.suffix == ".jsonl" and path.is_file() and not path.is_symlink()
    spans = line_spans(path, 2 * processes) if plain else []
    others = sorted(NORMALISERS, key=lambda t: _size(dataset, t), reverse=True)  # the longest tasks first
    try:
        with ProcessPoolExecutor(processes, mp_context=mp.get_context("fork")) as pool:
            parts = [pool.submit(_assessment_span, dataset, metadata, span, {}) for span in spans]
            tables = {record_type: pool.submit(_record_type, dataset, record_type) for record_type in others}
            # the spans are joined here while the workers read the other record types (they were submitted first)
            joined = _joined(_redecided(pool, dataset, metadata, spans, [p.result() for p in parts])) if parts else None
            for record_type in NORMALISERS:  # skips in reading order, as one process appends them
                frames, skips = tables.pop(record_type).result()
                out.built.update(frames)
                out.skips.extend(skips)
            out.skips.extend(metadata_skips)
    except BrokenProcessPool:
        return None
    if joined is None:
        normaliser = posture.AssessmentNormaliser(metadata)
        source = _source(dataset, ASSESSMENTS)
        out.built[ASSESSMENTS] = assessment_columns.normalise_assessments(
            dataset, normaliser, out.skips, _per_row(ASSESSMENTS, source, normaliser, out.skips))
    else:
        out.built[ASSESSMENTS], skips, out.codes[ASSESSMENTS] = joined
        out.skips.extend(skips)
    return out


def _size(dataset: Path, record_type: str) -> int:
    path = existing_record_path(dataset, record_type)
    return path.stat().st_size if path is not None and path.is_file() else 0


def _record_type(dataset: Path, record_type: str) -> tuple[dict[str, pd.DataFrame], list[Skip]]:
    """A worker's task: one record type's tables and skips."""
    out = Normalised()
    normalise_type(dataset, record_type, NORMALISERS[record_type], out)
    built = {name: schema.TABLES[name].from_columns(columns) for name, columns in out.columns.items()}
    return built | out.built, out.skips


@dataclass
class _Span:
    """What a worker read from one span of the assessments file."""

    columns: dict[str, Coded]
    skips: list[Skip]
    read: int  # records read (rows and skipped records)
    lines: int
    decided: dict[str | None, dict[str, Any]]  # key -> its metadata columns, as this span's first record decided


def _redecided(pool: ProcessPoolExecutor, dataset: Path, metadata: dict[str, dict[str, Any]], spans: list[Span],
               read: list[_Span]) -> list[_Span]:
    """The spans, those read again where the metadata of a key was decided by a record of an earlier span (the
    first record of a key decides, and each span was read as if it were the file's first)."""
    earlier: dict[str | None, dict[str, Any]] = {}
    again = {}
    for number, span in enumerate(read):
        if any(earlier.get(key, columns) != columns for key, columns in span.decided.items()):
            again[number] = pool.submit(_assessment_span, dataset, metadata, spans[number], dict(earlier))
        for key, columns in span.decided.items():
            earlier.setdefault(key, columns)
    for number, future in again.items():
        read[number] = future.result()
    return read


def _assessment_span(dataset: Path, metadata: dict[str, dict[str, Any]], span: Span,
                     decided: dict[str | None, dict[str, Any]]) -> _Span:
    """A worker's task: the assessments of one span, coded; `decided` is the metadata earlier spans decided."""
    normaliser = posture.AssessmentNormaliser(metadata, decided)
    skips: list[Skip] = []
    per_row = _per_row(ASSESSMENTS, _source(dataset, ASSESSMENTS), normaliser, skips)
    pieces, read = assessment_columns.read_pieces(dataset, normaliser, skips, per_row, span=span)
    columns = {}
    for column in schema.ASSESSMENTS.columns:
        values = np.concatenate([piece.pop(column.name) for piece in pieces]) if pieces else np.empty(0, object)
        columns[column.name] = _coded(values, column.dtype)
    return _Span(columns, skips, read, span.lines, normaliser.decided)


def _coded(values: np.ndarray, dtype: str) -> Coded:
    """A column as codes into its distinct values: texts and lists by identity (equal ones are mostly one object,
    lists are unhashable; `_merged` joins equal texts by value, null among them), the others by value."""
    if dtype in (schema.STRING, schema.LIST):
        codes, first = schema.identity_codes(values)
        return schema.small_codes(codes, len(first)), values[first]
    codes, uniques = pd.factorize(values)
    return schema.small_codes(codes, len(uniques)), np.asarray(uniques, dtype=object)


def _joined(spans: list[_Span]) -> tuple[pd.DataFrame, list[Skip], dict[str, Coded]] | None:
    """The assessments table and skips of the spans, in file order, and the codes of its text columns (`_merged`);
    None when one process would read them otherwise (see the module's docstring)."""
    decided: dict[str | None, dict[str, Any]] = {}
    skips: list[Skip] = []
    lines = 0
    for number, span in enumerate(spans):
        if any(decided.setdefault(key, columns) != columns for key, columns in span.decided.items()):
            return None
        if any(not s.location.startswith("line ") for s in span.skips):
            return None  # a file that ends early or cannot be read: its message counts the whole file's records
        if number and span.read != len(span.columns["assessment_id"][0]):
            return None
        skips += [replace(s, location=f"line {int(s.location[5:]) + lines}") for s in span.skips]
        lines += span.lines
    distinct = _distinct_ids([span.columns.pop("assessment_id") for span in spans])
    if distinct is None:
        return None
    ids, coded_ids = distinct
    data, codes = {}, {}
    for column in schema.ASSESSMENTS.columns:
        data[column.name], coded = (ids, coded_ids) if column.name == "assessment_id" else \
            _merged([span.columns.pop(column.name) for span in spans], column.dtype)
        if coded is not None:
            codes[column.name] = coded
    return pd.DataFrame(data, index=pd.RangeIndex(len(ids)), copy=False), skips, codes


def _distinct_ids(coded: list[Coded]) -> tuple[pd.Series, Coded | None] | None:
    """The assessment id column of the spans, and its codes (each row its own id; None where an id is null); None
    when an id (or null) is read twice. The ids of one span are distinct, so one pass over them checks the spans'
    ids, where joining equal texts (`_merged`) would take another, and the table cache need not code them again."""
    cells = np.concatenate([np.append(values, pd.NA)[codes] for codes, values in coded])  # code -1: null
    if len(set(cells.tolist())) < len(cells):  # a set of texts: faster than pandas' hash table of objects
        return None
    codes = None if pd.isna(cells).any() else (schema.small_codes(np.arange(len(cells)), len(cells)), cells)
    return pd.Series(pd.arrays.StringArray(cells)), codes


def _objects(values: list[Any]) -> np.ndarray:
    return np.fromiter(values, dtype=object, count=len(values))


def _merged(coded: list[Coded], dtype: str) -> tuple[pd.Series, Coded | None]:
    """One column from the spans' codes, typed as the one-process reader types it (equal values as one object), and
    for text its codes into its distinct texts (-1: null), which the table cache writes as they are."""
    uniques = np.concatenate([values for _, values in coded] + [np.full(1, None, dtype=object)])
    offsets = np.cumsum([0] + [len(values) for _, values in coded])
    null = len(uniques) - 1
    codes = np.concatenate([np.where(c < 0, null, c.astype(np.int64) + offset)
                            for (c, _), offset in zip(coded, offsets, strict=False)])
    if dtype == schema.STRING:  # texts: equal ones as their first object (pandas keeps it), null last; the
        merged, distinct = pd.factorize(uniques)  # distinct texts are checked as texts once, not once per row
        rows = schema.small_codes(merged[codes], len(distinct))  # held until the cache is written: small
        return pd.Series(pd.arrays.StringArray(np.append(distinct, pd.NA)).take(rows)), (rows, distinct)
    if dtype == schema.LIST:
        uniques = _objects(schema.shared_lists(uniques))
    return pd.Series(assessment_columns.typed(uniques, dtype).array.take(codes)), None  # each value typed once
