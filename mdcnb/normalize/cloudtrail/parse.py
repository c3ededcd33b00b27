"""One CloudTrail log file (or one batch of records) -> per-key counts, ready to merge.

This is the hot path: it runs in worker processes, once per file, and is built to cost about as much as the
file's decompression (benchmarks/cloudtrail_scan.py). Three steps:

1. `inflate`: gzip (detected by magic bytes) or plain, bounded by a size limit.
2. `read_log`: the text becomes `Columns`, the records column-wise, each text field as codes into the file's few
   distinct texts. A file as CloudTrail writes it (compact JSON) is read by the native reader (`_jsonscan.c`) in
   one pass without a Python object per record; a record in it that the native reader cannot read is handed to
   msgspec alone (`_with_odd_records`); a file it declines (not compact, not JSON) msgspec reads whole
   (MDCNB_NATIVE=0 sends every file there): it cuts the text into one raw JSON text per record and decodes from
   each only the fields the counts need (`Record`). A record's size is its text as delivered, compact:
   CloudTrail writes compact JSON, so that is the raw length; a file in another form, or with a record the
   strict decoder rejects (a missing or odd field), takes the general path (`read_raw_records`), which compacts
   each record and reads the odd ones best-effort, counting what it could not read. Both readers give the same
   Columns for a file both can read (tested).
3. `aggregate`: NumPy on the codes (no per-record Python) counts by a fine key (hour, account, region,
   eventSource, eventName, actor and role), rolled up into day keys (day, account, region, eventSource,
   eventName, actor, role ARN) with events, read-only events, bytes and read-only bytes, and hour keys (hour,
   account, region, actor) with events, read-only events and bytes. Each event's eventID is kept as a 64-bit
   hash, by day, so the parent can drop duplicates across files (and `aggregate` those within one file).

Nothing here raises on bad input: a file that cannot be read comes back with `skip_reason`, a record that cannot
be placed is counted under `issues` with its reason.
"""

from __future__ import annotations

import gc
import hashlib
import os
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from operator import attrgetter
from typing import Annotated, Any

import msgspec
import numpy as np
import orjson
import pandas as pd

from mdcnb.normalize.cloudtrail import _jsonscan  # built from _jsonscan.c by `pip install` (setup.py)
from mdcnb.normalize.cloudtrail.damaged import salvage
from mdcnb.normalize.cloudtrail.identity import ACTORS, MDC_FACTS, RoleMatcher, session_name
from mdcnb.sources.cloudtrail.layout import GZIP_MAGIC

KNOWN_VERSIONS = frozenset(MDC_FACTS["known_event_versions"])
DEFAULT_MAX_FILE_BYTES = 1 << 30  # decompressed; larger files are skipped instead of exhausting memory
DEFLATE_MAX_RATIO = 1032  # the most deflate can expand its input (zlib's technical notes)
ASSUME_ROLE_WEB = "AssumeRoleWithWebIdentity"
TRUNCATED, CORRUPT = "truncated gzip (end of stream missing)", "corrupt gzip"

# A day key's counters: events, read-only events, bytes, read-only bytes; an hour key's: the first three.
DAY_COUNTERS, HOUR_COUNTERS = 4, 3

# The text fields of Columns, in the native reader's order (_jsonscan.c): eventTime to the hour, then as named,
# the identity ARN None only for a record without userIdentity (general path).
FIELDS = ("hour", "eventVersion", "recipientAccountId", "awsRegion", "eventSource", "eventName",
          "userIdentity.sessionContext.sessionIssuer.arn", "userIdentity.arn", "userIdentity.principalId",
          "userIdentity.accountId", "requestParameters.roleArn", "requestParameters.roleSessionName")
(HOUR, VERSION, ACCOUNT, REGION, SOURCE, NAME, ISSUER, IDENTITY_ARN, PRINCIPAL, IDENTITY_ACCOUNT, ROLE_ARN,
 ROLE_SESSION) = range(len(FIELDS))
NONE, EMPTY = 0, 1  # the codes of None and "" in every Columns
NATIVE = os.environ.get("MDCNB_NATIVE", "1") != "0"  # MDCNB_NATIVE=0: msgspec reads every file (tests, comparisons)


# ---- what a record is read as: only the fields the counts need (the rest is skipped unparsed) ----------------
class _Issuer(msgspec.Struct, frozen=True, gc=False):
    arn: str = ""


class _Context(msgspec.Struct, frozen=True, gc=False):
    sessionIssuer: _Issuer = _Issuer()


class _Identity(msgspec.Struct, frozen=True, gc=False):
    sessionContext: _Context = _Context()
    arn: str = ""
    principalId: str = ""
    accountId: str | None = None


NO_IDENTITY = _Identity()  # what the general path gives a record without userIdentity


class _Params(msgspec.Struct, frozen=True, gc=False):
    roleArn: str = ""
    roleSessionName: str = ""


class Record(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """The fields of a CloudTrail record that place and classify it (names as CloudTrail spells them). The strict
    decoder requires eventTime (to the hour), userIdentity and readOnly; the general path reads records without."""

    eventTime: Annotated[str, msgspec.Meta(min_length=13)] | None
    eventID: str | None = None
    eventVersion: str | None = None
    userIdentity: _Identity
    readOnly: bool  # None only from the general path (`_best_effort`), for a record without it
    recipientAccountId: str | None = None
    awsRegion: str | None = None
    eventSource: str | None = None
    eventName: str | None = None
    requestParameters: _Params | None = None


class _RawLog(msgspec.Struct, gc=False):
    Records: list[msgspec.Raw]


_RAW_LOG = msgspec.json.Decoder(_RawLog | list[msgspec.Raw])
_RECORD = msgspec.json.Decoder(Record)
_WRAPPER_BYTES = {True: len('{"Records":[]}'), False: len("[]")}  # text around the records, compact

HOUR_CHARS = 13  # YYYY-MM-DDTHH


def _hour(rec: Record) -> str | None:
    return None if rec.eventTime is None else rec.eventTime[:HOUR_CHARS]


def _identity_arn(rec: Record) -> str | None:
    return None if rec.userIdentity is NO_IDENTITY else rec.userIdentity.arn


def _params(name: str) -> Callable[[Record], str]:
    def get(rec: Record) -> str:
        return "" if rec.requestParameters is None else getattr(rec.requestParameters, name)
    return get


_RECORD_FIELDS: tuple[Callable[[Record], str | None], ...] = (
    _hour, *map(attrgetter, FIELDS[VERSION:IDENTITY_ARN]), _identity_arn, *map(attrgetter, FIELDS[PRINCIPAL:ROLE_ARN]),
    _params("roleArn"), _params("roleSessionName"))
_READ_ONLY_CODE = {True: 1, False: 0, None: -1}


@dataclass
class ScanOptions:
    """What every worker needs to know (picklable)."""

    matcher: RoleMatcher
    since: str | None = None   # first day kept, YYYY-MM-DD (event time, UTC)
    until: str | None = None   # last day kept, YYYY-MM-DD (inclusive)
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES


@dataclass
class DayEvents:
    """The events with an eventID of one event day, column-wise, for cross-file de-duplication."""

    hashes: np.ndarray     # int64 eventID hashes (`event_hashes`)
    key_idx: np.ndarray    # each event's day key (index into FileResult.keys)
    hour_idx: np.ndarray   # each event's hour key (index into FileResult.hour_keys)
    nbytes: np.ndarray
    read_only: np.ndarray


@dataclass
class FileResult:
    """Aggregated content of one file, or of several read together (or why one was skipped): day keys with
    [events, read_only, bytes, read_only_bytes], hour keys with [events, read_only, bytes]."""

    source: str
    skip_reason: str | None = None
    keys: list[tuple] = field(default_factory=list)
    counts: np.ndarray = field(default_factory=lambda: np.zeros((0, DAY_COUNTERS), dtype=np.int64))
    hour_keys: list[tuple] = field(default_factory=list)
    hour_counts: np.ndarray = field(default_factory=lambda: np.zeros((0, HOUR_COUNTERS), dtype=np.int64))
    days: dict[str, DayEvents] = field(default_factory=dict)
    files: int = 1  # files whose records it counts
    lost: int = 0   # records estimated lost in a damaged file (its skip)
    duplicates: int = 0
    without_id: int = 0
    out_of_range: int = 0
    issues: Counter = field(default_factory=Counter)


# ---- 1. bytes -> text -----------------------------------------------------------------------------------------
def inflate(blob: bytes, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> tuple[bytes | None, str | None]:
    """(text, None) or (None, reason) for one file's bytes, gzip or plain.

    A gzip file too small to inflate past `max_bytes` (deflate expands at most DEFLATE_MAX_RATIO times) is inflated
    in one call into a buffer of the size its trailer states, which is kept as the text: less work than growing the
    output in blocks and joining them (benchmarks/cloudtrail_scan.py). That call reads only the first gzip member:
    when the text is not the size the file's last trailer states, the file holds more (concatenated gzip files are
    one valid gzip file; a last member that happens to state the first one's size is not noticed). That, anything
    else, or anything the call rejects is inflated member by member with the limit enforced, which also names what
    is wrong."""
    if not blob:
        return None, "empty file"
    if blob[:2] != GZIP_MAGIC:
        if len(blob) > max_bytes:
            return None, f"larger than {max_bytes} bytes"
        return _text_or_empty(blob, "empty file")
    most = len(blob) * DEFLATE_MAX_RATIO
    if most <= max_bytes:
        stated = int.from_bytes(blob[-4:], "little")  # modulo 2**32; a lie only sizes the buffer (capped)
        try:
            data = zlib.decompress(blob, wbits=47, bufsize=min(stated, most))
        except zlib.error:
            pass
        else:
            if len(data) % (1 << 32) == stated:
                return _text_or_empty(data)
    return _inflate_members(blob, max_bytes)


def _inflate_members(blob: bytes, max_bytes: int) -> tuple[bytes | None, str | None]:
    """Every gzip member of `blob` in turn (zero bytes after the last are padding), at most `max_bytes` in all."""
    parts, size, rest = [], 0, blob
    while True:
        inflater = zlib.decompressobj(wbits=47)
        try:
            part = inflater.decompress(rest, max_bytes - size + 1)
        except zlib.error as exc:
            return None, f"{CORRUPT} ({exc})"
        parts.append(part)
        size += len(part)
        if size > max_bytes:
            return None, f"larger than {max_bytes} bytes decompressed"
        if not inflater.eof:
            return None, TRUNCATED
        rest = inflater.unused_data
        if not rest.strip(b"\0"):
            return _text_or_empty(b"".join(parts))
        if rest[:2] != GZIP_MAGIC:
            return None, f"{CORRUPT} (data after the end of the gzip stream)"


def _text_or_empty(data: bytes, empty: str = "empty file (gzip of nothing)") -> tuple[bytes | None, str | None]:
    return (None, empty) if not data or data.isspace() else (data, None)


# ---- 2. text -> columns ---------------------------------------------------------------------------------------
@dataclass
class Columns:
    """A file's records column-wise, one row per record: each text field (FIELDS) as a code into `texts`, the
    file's distinct texts (NONE and EMPTY first); the size of each record; readOnly as 1, 0 or -1 (no readOnly
    field, general path only); the eventID as a 64-bit hash (`event_hashes`) where `has_id`. `strict` says every
    record passed the strict reader; otherwise `issues` counts what was odd."""

    texts: list[str | None]
    codes: np.ndarray      # int32, (records, FIELDS)
    sizes: np.ndarray      # int64
    read_only: np.ndarray  # int8
    has_id: np.ndarray     # bool
    id_hashes: np.ndarray  # int64, 0 where not has_id
    strict: bool = True
    issues: Counter = field(default_factory=Counter)

    def __len__(self) -> int:
        return len(self.sizes)

    def rows(self, keep: np.ndarray) -> Columns:
        """The records where `keep` is True."""
        return replace(self, codes=self.codes[keep], sizes=self.sizes[keep], read_only=self.read_only[keep],
                       has_id=self.has_id[keep], id_hashes=self.id_hashes[keep])


@dataclass
class ParsedRecords:
    """The general path's records (None where an element could not be read as one) and the size of each."""

    records: list[Record | None]
    sizes: list[int]
    strict: bool = True
    issues: Counter = field(default_factory=Counter)


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
    parsed = _read_with_msgspec(data)
    return parsed if type(parsed) is str else columns_of(parsed)


def _with_odd_records(data: bytes, cols: Columns, odd: bytes, scanner: _jsonscan.Scanner) -> Columns:
    """`cols` with the records the native reader left to the general path (`odd`: row, offset, length) read by it,
    in their rows, coded by `scanner`; a record it cannot read at all is dropped and counted, as it would be if
    the general path read the whole file."""
    rows, starts, lengths = np.frombuffer(odd, dtype=np.int64).reshape(-1, 3).T
    parsed = _general_records([data[s:s + n] for s, n in zip(starts.tolist(), lengths.tolist(), strict=True)])
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


def _read_with_msgspec(data: bytes) -> ParsedRecords | str:
    try:
        doc = _RAW_LOG.decode(data)
    except msgspec.ValidationError:  # valid JSON of another shape, or a wrong shape that is not JSON after all
        try:
            return _shape_problem(orjson.loads(data))
        except orjson.JSONDecodeError as exc:
            return f"not JSON ({exc})"
    except msgspec.DecodeError as exc:
        return f"not JSON ({exc})"
    except RecursionError:
        return "nested too deeply to read (Python's recursion limit)"
    raws = doc.Records if type(doc) is _RawLog else doc
    if not _is_compact(data, raws, _WRAPPER_BYTES[type(doc) is _RawLog]):
        return read_raw_records(raws)
    return _general_records(raws)


def _general_records(raws: Sequence[bytes | msgspec.Raw]) -> ParsedRecords:
    """Compact records as the general path reads them: all by the strict decoder, sized as written, or (one of them
    is odd) each on its own (`read_raw_records`)."""
    try:
        return ParsedRecords(list(map(_RECORD.decode, raws)), list(map(len, raws)))
    except (msgspec.ValidationError, UnicodeDecodeError):
        return read_raw_records(raws)


def _is_compact(data: bytes, raws: list[msgspec.Raw], wrapper: int) -> bool:
    """Whether the file is written as CloudTrail writes it: no whitespace between records (their lengths, commas
    and the wrapper add up to the text's) and none inside the first (one serializer wrote them all)."""
    if not raws:
        return True
    between = sum(map(len, raws)) + len(raws) - 1 + wrapper == len(data.strip())
    return between and len(msgspec.json.format(raws[0], indent=-1)) == len(raws[0])


def _shape_problem(doc: Any) -> str:
    if type(doc) is dict:
        records = doc.get("Records")
        if records is None:
            return "JSON object without a Records array"
        return f"Records is a {type(records).__name__}, not an array"
    return f"JSON {type(doc).__name__}, neither an object with Records nor an array"


def read_raw_records(raws: Iterable[bytes | msgspec.Raw], what: str = "record") -> ParsedRecords:
    """The general path: each record's JSON text read on its own, sized compacted (strings as delivered); None for
    one that is not JSON."""
    out = ParsedRecords([], [], strict=False)
    for raw in raws:
        try:
            compact = msgspec.json.format(raw, indent=-1)
        except (msgspec.DecodeError, RecursionError):
            out.issues[f"{what} is not JSON (skipped)"] += 1
            out.records.append(None)
            out.sizes.append(0)
            continue
        out.sizes.append(len(compact))
        try:
            out.records.append(_RECORD.decode(compact))
        except (msgspec.ValidationError, UnicodeDecodeError):
            out.records.append(_best_effort(compact, out.issues, what))
    return out


def _best_effort(text: bytes, issues: Counter, what: str) -> Record | None:
    """A Record from a record the strict decoder rejects: missing or wrong-typed fields are read as missing."""
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:  # msgspec passes over a string's bytes without checking they are UTF-8
        issues[f"{what} is not UTF-8 text (skipped)"] += 1
        return None
    if type(doc) is not dict:
        issues[f"{what} is not a JSON object (skipped)"] += 1
        return None
    ui, params = doc.get("userIdentity"), doc.get("requestParameters")
    ctx = ui.get("sessionContext") if type(ui) is dict else None
    issuer = ctx.get("sessionIssuer") if type(ctx) is dict else None
    when, ro = _text(doc.get("eventTime")), doc.get("readOnly")
    return Record(
        eventTime=when if when and len(when) >= HOUR_CHARS else None,
        **{k: _text(doc.get(k)) for k in ("eventID", "eventVersion", "recipientAccountId", "awsRegion", "eventSource",
                                          "eventName")},
        userIdentity=NO_IDENTITY if "userIdentity" not in doc else _Identity(
            sessionContext=_Context(_Issuer(_text(issuer.get("arn")) or "") if type(issuer) is dict else _Issuer()),
            **{k: _text(ui.get(k)) or "" for k in ("arn", "principalId")} if type(ui) is dict else {},
            accountId=_text(ui.get("accountId")) if type(ui) is dict else None),
        readOnly=None if ro is None else (ro is True or ro == "true"),
        requestParameters=_Params(**{k: _text(params.get(k)) or "" for k in ("roleArn", "roleSessionName")})
        if type(params) is dict else None)


def _text(value: Any) -> str | None:
    return value if type(value) is str else None


def _code_table() -> dict[str | None, int]:
    return {None: NONE, "": EMPTY}


def _encode(texts: Iterable[str | None], code_of: dict[str | None, int]) -> list[int]:
    """The code of each text in `code_of`, a text not yet in it taking the next number."""
    return [code_of.setdefault(text, len(code_of)) for text in texts]


def columns_of(parsed: ParsedRecords) -> Columns:
    """Columns from msgspec's records; the elements that were no record are left out (already counted)."""
    pairs = [(rec, size) for rec, size in zip(parsed.records, parsed.sizes, strict=True) if rec is not None]
    records = [rec for rec, _ in pairs]
    code_of = _code_table()
    codes = np.array([_encode(map(get, records), code_of) for get in _RECORD_FIELDS],
                     dtype=np.int32).reshape(len(FIELDS), len(records)).T
    ids = [rec.eventID for rec in records]
    has_id = np.array([i is not None for i in ids], dtype=bool)
    hashes = np.zeros(len(records), dtype=np.int64)
    hashes[has_id] = event_hashes([i for i in ids if i is not None])
    return Columns(list(code_of), codes, np.array([size for _, size in pairs], dtype=np.int64),
                   np.array([_READ_ONLY_CODE[rec.readOnly] for rec in records], dtype=np.int8), has_id, hashes,
                   parsed.strict, parsed.issues)


# ---- 3. columns -> counts -----------------------------------------------------------------------------------
Who = tuple[str, str | None]  # (actor, role ARN)


def aggregate(source: str, cols: Columns, opts: ScanOptions) -> FileResult:
    """Count one file's records into a FileResult, grouping the records' codes with NumPy: by day key (day,
    account, region, eventSource, eventName, (actor, role ARN)) and by hour key (hour, account, region, actor).
    Python touches only the distinct keys."""
    out = FileResult(source, issues=cols.issues)
    cols = _countable(out, cols, opts)
    if not len(cols):
        return out
    _note_odd_fields(out.issues, cols)
    texts, codes, (who_idx, who) = cols.texts, cols.codes, _classify(cols, opts.matcher)
    hours, accounts = codes[:, HOUR], _accounts(cols)
    day_names: dict[str, int] = {}
    day_of_hour = np.zeros(len(texts), dtype=np.intp)
    for code in np.flatnonzero(np.bincount(hours)).tolist():
        day_of_hour[code] = day_names.setdefault(texts[code][:10], len(day_names))
    days, day_of_row = list(day_names), day_of_hour[hours]
    actor_of_row = np.array([ACTORS.index(actor) for actor, _ in who], dtype=np.intp)[who_idx]
    day_columns = (day_of_row, accounts, codes[:, REGION], codes[:, SOURCE], codes[:, NAME], who_idx)
    day_idx, first = _group(day_columns)
    out.keys = [(days[d], texts[a], texts[r], texts[s], texts[n], *who[w])
                for d, a, r, s, n, w in _values_at(day_columns, first)]
    hour_columns = (hours, accounts, codes[:, REGION], actor_of_row)
    hour_idx, first = _group(hour_columns)
    out.hour_keys = [(texts[h], texts[a], texts[r], ACTORS[actor])
                     for h, a, r, actor in _values_at(hour_columns, first)]
    read_only = cols.read_only == 1  # no readOnly field counts as not read-only
    sums = (None, read_only, cols.sizes, np.where(read_only, cols.sizes, 0))
    out.counts = _sum_by(day_idx, len(out.keys), sums)
    out.hour_counts = _sum_by(hour_idx, len(out.hour_keys), sums[:HOUR_COUNTERS])
    out.days = _by_day(days, day_of_row, day_idx, hour_idx, cols, read_only)
    return out


def _values_at(columns: Sequence[np.ndarray], rows: np.ndarray) -> Iterator[tuple[int, ...]]:
    """The columns' values at `rows`, row by row, as Python ints."""
    return zip(*(c[rows].tolist() for c in columns), strict=True)


def _countable(out: FileResult, cols: Columns, opts: ScanOptions) -> Columns:
    """The records to count: drops (and counts) those without eventTime, outside the window or with an eventID
    seen before in the file (by hash, as the parent does across files)."""
    hours = cols.codes[:, HOUR]
    keep = hours != NONE
    if not keep.all():
        out.issues["no eventTime (skipped)"] += int(len(cols) - keep.sum())
    if opts.since or opts.until:
        in_window = np.zeros(len(cols.texts), dtype=bool)
        for code in np.flatnonzero(np.bincount(hours[keep])).tolist():
            day = cols.texts[code][:10]
            in_window[code] = (not opts.since or day >= opts.since) and (not opts.until or day <= opts.until)
        out.out_of_range += int((keep & ~in_window[hours]).sum())
        keep &= in_window[hours]
    out.without_id += int((keep & ~cols.has_id).sum())
    with_id = np.flatnonzero(keep & cols.has_id)
    repeated = _jsonscan.IdSet().add(cols.id_hashes[with_id])  # every occurrence after the first (as the parent's)
    if repeated is not None:
        repeated = np.frombuffer(repeated, dtype=bool)
        keep[with_id[repeated]] = False
        out.duplicates += int(repeated.sum())
    return cols if keep.all() else cols.rows(keep)


def _note_odd_fields(issues: Counter, cols: Columns) -> None:
    """Count records read best-effort: unknown eventVersion, and (only the general path lets them through) no
    userIdentity, no readOnly."""
    counts = np.bincount(cols.codes[:, VERSION])
    for code, times in zip(np.flatnonzero(counts).tolist(), counts[counts > 0].tolist(), strict=True):
        if cols.texts[code] not in KNOWN_VERSIONS:
            issues[_version_issue(cols.texts[code])] += times
    if cols.strict:
        return
    no_identity = int((cols.codes[:, IDENTITY_ARN] == NONE).sum())
    if no_identity:
        issues["no userIdentity (counted as not MDC)"] += no_identity
    no_read_only = int((cols.read_only < 0).sum())
    if no_read_only:
        issues["no readOnly (counted as not read-only)"] += no_read_only


def _version_issue(version: str | None) -> str:
    if version is None:
        return "no eventVersion (parsed best-effort)"
    if version.split(".", 1)[0] != "1":
        return f"unknown eventVersion {version} (parsed best-effort)"
    return f"newer eventVersion {version} (parsed best-effort)"


def with_path_account(cols: Columns, path_account: str | None) -> Columns:
    """`cols` with the account in the file's path for records without recipientAccountId. (A path account new to
    the texts gives `cols` a list of its own, which `concat` merges.)"""
    missing = cols.codes[:, ACCOUNT] == NONE
    if not path_account or not missing.any():
        return cols
    texts = cols.texts if path_account in cols.texts else [*cols.texts, path_account]
    codes = cols.codes.copy()
    codes[missing, ACCOUNT] = texts.index(path_account)
    return replace(cols, texts=texts, codes=codes)


def _accounts(cols: Columns) -> np.ndarray:
    """Each record's account code: recipientAccountId (or the path's, `with_path_account`), else the caller's."""
    accounts = cols.codes[:, ACCOUNT]
    return np.where(accounts == NONE, cols.codes[:, IDENTITY_ACCOUNT], accounts)


def concat(parts: list[Columns]) -> Columns:
    """The records of several files as one Columns, their texts merged (one code per distinct text) unless they
    share them already (one scanner read them)."""
    if len(parts) == 1:
        return parts[0]
    if all(cols.texts is parts[0].texts for cols in parts):
        texts, codes = parts[0].texts, [cols.codes for cols in parts]
    else:
        code_of = _code_table()
        codes = [np.array(_encode(cols.texts, code_of), dtype=np.int32)[cols.codes] for cols in parts]
        texts = list(code_of)
    return Columns(texts, np.concatenate(codes),
                   *(np.concatenate([getattr(cols, name) for cols in parts])
                     for name in ("sizes", "read_only", "has_id", "id_hashes")),
                   strict=all(cols.strict for cols in parts), issues=sum((cols.issues for cols in parts), Counter()))


def _classify(cols: Columns, matcher: RoleMatcher) -> tuple[np.ndarray, list[Who]]:
    """(index into the distinct (actor, role ARN) per record, those distinct values). The issuing role decides for
    nearly all; the session name only for roles that MDC's session prefix could mark; AssumeRoleWithWebIdentity
    by the role it asks for. Each distinct issuer, session or asked-for role is decided once."""
    codes = cols.codes
    who: dict[Who, int] = {}
    issuers = codes[:, ISSUER]
    distinct = np.flatnonzero(np.bincount(issuers))
    by_issuer = np.full(len(cols.texts), -1, dtype=np.intp)
    by_issuer[distinct] = [-1 if w is None else who.setdefault(w, len(who))
                           for w in matcher.classify_issuers([cols.texts[c] for c in distinct.tolist()])]
    who_idx = by_issuer[issuers]

    def by_session(issuers: list[str], arns: list[str | None], principals: list[str]) -> list[Who]:
        return matcher.classify_sessions(issuers, [session_name(a or p) for a, p in zip(arns, principals, strict=True)])

    def by_asked_role(roles: list[str], sessions: list[str]) -> list[Who]:
        return list(map(matcher.classify_assume_role, roles, sessions))

    undecided = np.flatnonzero(who_idx < 0)
    if len(undecided):
        who_idx[undecided] = _decide(cols, undecided, (ISSUER, IDENTITY_ARN, PRINCIPAL), who, by_session)
    web = np.flatnonzero(np.isin(codes[:, NAME], [i for i, t in enumerate(cols.texts) if t == ASSUME_ROLE_WEB])
                         & (issuers == EMPTY) & (codes[:, ROLE_ARN] > EMPTY))
    if len(web):
        who_idx[web] = _decide(cols, web, (ROLE_ARN, ROLE_SESSION), who, by_asked_role)
    return who_idx, list(who)


def _decide(cols: Columns, rows: np.ndarray, fields: tuple[int, ...], who: dict[Who, int],
            decide: Callable[..., list[Who]]) -> np.ndarray:
    """`decide` (given one list of texts per field) called on the distinct combinations of `fields` among `rows`;
    each row's answer as an index into `who` (extended with new answers)."""
    codes = cols.codes[rows]
    group, first = _group([codes[:, f] for f in fields])
    answers = decide(*([cols.texts[c] for c in codes[first, f].tolist()] for f in fields))
    return np.array([who.setdefault(w, len(who)) for w in answers], dtype=np.intp)[group]


def _group(columns: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(each row's group number, the first row of each group) for rows grouped by equal values in all of the
    integer `columns`, groups numbered in order of first appearance. The columns are combined into one int64 key,
    renumbered densely whenever the next would overflow it; numbering is pandas' hash table (a few times faster
    than sorting)."""
    key = np.asarray(columns[0], dtype=np.int64)
    for column in columns[1:]:
        width = int(column.max(initial=0)) + 1
        if int(key.max(initial=0)) >= (1 << 62) // width:
            key = pd.factorize(key)[0]
        key = key * width + column
    group = pd.factorize(key)[0]
    first = np.flatnonzero(np.diff(np.maximum.accumulate(group), prepend=-1) > 0)  # where a new number appears
    return group, first


def _sum_by(idx: np.ndarray, n: int, columns: Iterable[np.ndarray | None]) -> np.ndarray:
    """Per key (n rows), the sum of each column over the items with that key index; None counts the items.
    Sums are taken in float64, exact for integers below 2**53."""
    return np.stack([np.bincount(idx, weights=w, minlength=n) for w in columns], axis=1).astype(np.int64)


def _by_day(days: list[str], day_of_row: np.ndarray, key_idx: np.ndarray, hour_idx: np.ndarray, cols: Columns,
            read_only: np.ndarray) -> dict[str, DayEvents]:
    """Events with an eventID grouped by event day (a file spans one day, two around midnight)."""
    if len(days) == 1 and cols.has_id.all():
        return {days[0]: DayEvents(cols.id_hashes, key_idx, hour_idx, cols.sizes, read_only)}
    result = {}
    for d, day in enumerate(days):
        mask = (day_of_row == d) & cols.has_id
        result[day] = DayEvents(cols.id_hashes[mask], key_idx[mask], hour_idx[mask], cols.sizes[mask], read_only[mask])
    return result


UUID_CHARS = 36


def event_hashes(ids: list[str]) -> np.ndarray:
    """64-bit hashes of eventIDs, the same in every process and run and whatever else a file holds. CloudTrail's
    eventIDs are 36-character UUIDs: those are hashed by the native reader's hash (splitmix64's finaliser over
    their bytes), all in one call; any other id by BLAKE2b."""
    lengths = np.fromiter(map(len, ids), dtype=np.intp, count=len(ids))
    uuid_shaped = (lengths == UUID_CHARS) & np.fromiter(map(str.isascii, ids), dtype=bool, count=len(ids))
    hashes = np.empty(len(ids), dtype=np.int64)
    shaped = np.flatnonzero(uuid_shaped).tolist()
    hashes[uuid_shaped] = np.frombuffer(_jsonscan.uuid_hashes("".join(map(ids.__getitem__, shaped)).encode()),
                                        dtype=np.int64)
    for i in np.flatnonzero(~uuid_shaped).tolist():
        hashes[i] = _blake2b(ids[i])
    return hashes


def _blake2b(event_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "little", signed=True)


# ---- entry points -----------------------------------------------------------------------------------------------
@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: reading and merging counts create many objects (none in a cycle), and
    the collector's passes over them, and over the growing totals, cost time for nothing."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


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
