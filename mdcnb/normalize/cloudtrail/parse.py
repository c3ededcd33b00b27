"""One CloudTrail log file (or one batch of records) -> per-key counts, ready to merge: the entry points the
scan's worker processes call (`scan_blobs`, `read_blob`, `aggregate_texts`, `aggregate_dicts`) and `read_log`,
which picks the reader for a file's text.

This is the hot path: it runs in worker processes, once per file, and is built to cost about as much as the
file's decompression (benchmarks/cloudtrail_scan.py). Three steps:

1. `inflate` (inflate.py): gzip (detected by magic bytes) or plain, bounded by a size limit.
2. `read_log` (here): the text becomes `Columns` (columns.py), the records column-wise, each text field as codes
   into the file's few distinct texts. A file as CloudTrail writes it (compact JSON) is read by the native reader
   (`_jsonscan.c`) in one pass without a Python object per record; a record in it that the native reader cannot
   read is handed to msgspec alone (`_with_odd_records`); a file it declines (not compact, not JSON) msgspec
   reads whole (fallback.py; MDCNB_NATIVE=0 sends every file there). A record's size is its text as delivered,
   compact. Both readers give the same Columns for a file both can read (tested).
3. `aggregate` (counts.py): NumPy on the codes (no per-record Python) counts them by day key and hour key, with
   each call's actor decided once per distinct issuer, session or asked-for role (classify.py).

Nothing here raises on bad input: a file that cannot be read comes back with `skip_reason`, a record that cannot
be placed is counted under `issues` with its reason.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import numpy as np
import orjson

from mdcnb.core.gc import gc_paused
from mdcnb.normalize.cloudtrail import _jsonscan  # built from _jsonscan.c by `pip install` (setup.py)
from mdcnb.normalize.cloudtrail.columns import FIELDS, UUID_CHARS, Columns, concat, event_hashes, with_path_account
from mdcnb.normalize.cloudtrail.counts import FileResult, ScanOptions, aggregate
from mdcnb.normalize.cloudtrail.damaged import salvage
from mdcnb.normalize.cloudtrail.fallback import columns_of, general_records, read_msgspec, read_raw_records
from mdcnb.normalize.cloudtrail.inflate import CORRUPT, TRUNCATED, inflate

NATIVE = os.environ.get("MDCNB_NATIVE", "1") != "0"  # MDCNB_NATIVE=0: msgspec reads every file (tests, comparisons)


def read_log(data: bytes, native: bool = NATIVE, scanner: _jsonscan.Scanner | None = None) -> Columns | str:
    """The records of one log file's text, or the reason it holds none: `{"Records": [...]}` or a bare array.
    The native reader first (`native=False` skips it), msgspec for the records or the file it declines. Files
    read with one `scanner` share its texts (and codes)."""
    if native:
        scanner = scanner or _jsonscan.Scanner()
        scanned = scanner.scan(data)
        if scanned is not None:
            *columns, odd = scanned
            cols = _native_columns(data, *columns)
            return _with_odd_records(data, cols, odd, scanner) if odd else cols
    parsed = read_msgspec(data)
    return parsed if type(parsed) is str else columns_of(parsed)


def _with_odd_records(data: bytes, cols: Columns, odd: bytes, scanner: _jsonscan.Scanner) -> Columns:
    """`cols` with the records the native reader left to the general path (`odd`: row, offset, length) read by it,
    in their rows, coded by `scanner`; a record it cannot read at all is dropped and counted, as it would be if
    the general path read the whole file."""
    rows, starts, lengths = np.frombuffer(odd, dtype=np.int64).reshape(-1, 3).T
    parsed = general_records([data[s:s + n] for s, n in zip(starts.tolist(), lengths.tolist(), strict=True)])
    read = np.array([rec is not None for rec in parsed.records], dtype=bool)
    general = columns_of(parsed)
    out = replace(cols, strict=parsed.strict, issues=parsed.issues, **{
        name: getattr(cols, name).copy() for name in ("codes", "sizes", "read_only", "has_id", "id_hashes")})
    at = rows[read]
    out.codes[at] = np.array(scanner.codes(general.texts), dtype=np.int32)[general.codes]
    for name in ("sizes", "read_only", "has_id", "id_hashes"):
        getattr(out, name)[at] = getattr(general, name)
    return out if read.all() else out.rows(np.isin(np.arange(len(out)), rows[~read], invert=True))


def _native_columns(data: bytes, texts: list[str | None], codes: bytes, sizes: bytes, id_hashes: bytes,
                    id_offsets: bytes, id_lengths: bytes, read_only: bytes) -> Columns:
    """Columns from the native reader's output, its byte strings viewed as arrays. It hashed the UUID-shaped
    eventIDs; any other is hashed here (`event_hashes`)."""
    sizes_ = np.frombuffer(sizes, dtype=np.int64)
    lengths = np.frombuffer(id_lengths, dtype=np.int32)
    has_id = lengths >= 0
    hashes = np.frombuffer(id_hashes, dtype=np.int64)
    odd = has_id & (lengths != UUID_CHARS)
    if odd.any():
        hashes = hashes.copy()
        starts = np.frombuffer(id_offsets, dtype=np.int64)
        hashes[odd] = event_hashes([data[s:s + n].decode() for s, n in zip(starts[odd].tolist(),
                                                                           lengths[odd].tolist(), strict=True)])
    return Columns(texts, np.frombuffer(codes, dtype=np.int32).reshape(len(sizes_), len(FIELDS)), sizes_,
                   np.frombuffer(read_only, dtype=np.int8), has_id, hashes)


# ---- entry points -----------------------------------------------------------------------------------------------
def read_blob(source: str, blob: bytes, opts: ScanOptions, path_account: str | None = None,
              scanner: _jsonscan.Scanner | None = None) -> tuple[Columns | None, FileResult | None]:
    """One file's bytes as Columns (the path's account for records without one), and the skip that says why when
    it is not read whole: a damaged gzip file gives the records before the damage and a skip with the estimate of
    those lost (`damaged`)."""
    data, reason = inflate(blob, opts.max_file_bytes)
    skip = None
    if reason is not None:
        damaged = reason.startswith((TRUNCATED, CORRUPT))
        saved = salvage(blob, opts.max_file_bytes, reason == TRUNCATED) if damaged else None
        if saved is None:
            return None, FileResult(source, skip_reason=reason)
        skip = FileResult(source, skip_reason=saved.note(reason), files=0, lost=saved.lost)
        if not saved.records:
            return None, skip
        data = saved.text
    cols = read_log(data, scanner=scanner)  # a salvaged text is a valid log: it always gives Columns
    if type(cols) is str:
        return None, FileResult(source, skip_reason=cols)
    return with_path_account(cols, path_account), skip


def scan_blobs(items: Iterable[tuple[str, bytes | str, str | None]], opts: ScanOptions) -> list[FileResult]:
    """Count several files, given as (source, bytes or the reason they could not be fetched, account in the path):
    one FileResult per file skipped (or damaged), and one for all the records read, counted together (each step's
    fixed cost paid once for the lot)."""
    out, parts, sources, scanner = [], [], [], _jsonscan.Scanner()
    with gc_paused():
        for source, blob, path_account in items:
            cols, skip = (None, FileResult(source, skip_reason=blob)) if type(blob) is str else read_blob(
                source, blob, opts, path_account, scanner)
            if skip is not None:
                out.append(skip)
            if cols is not None:
                parts.append(cols)
                sources.append(source)
        if parts:
            res = aggregate(sources[0], concat(parts), opts)
            res.files = len(parts)
            out.append(res)
    return out


def aggregate_texts(source: str, texts: Iterable[bytes | str], opts: ScanOptions, what: str = "record") -> FileResult:
    """Aggregate records given as JSON texts (LookupEvents' CloudTrailEvent, records already in memory)."""
    return aggregate(source, columns_of(read_raw_records((t.encode() if type(t) is str else t for t in texts), what)),
                     opts)


def aggregate_dicts(source: str, records: Iterable[Any], opts: ScanOptions) -> FileResult:
    """Aggregate records already decoded (tests, callers holding dicts): sized as compact JSON."""
    return aggregate_texts(source, map(orjson.dumps, records), opts)
