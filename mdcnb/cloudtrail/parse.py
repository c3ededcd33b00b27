"""One CloudTrail log file (or one batch of records) -> per-key counts, ready to merge.

This is the hot path: it runs in worker processes, once per file, and is built to cost about as much as the
file's decompression (benchmarks/cloudtrail_scan.py). Three steps:

1. `inflate`: gzip (detected by magic bytes) or plain, bounded by a size limit.
2. `read_log`: msgspec cuts the text into one raw JSON text per record, then decodes from each only the fields the
   counts need (`Record`), skipping the rest in C without building Python objects. A record's size is its text as
   delivered, compact: CloudTrail writes compact JSON, so that is the raw length; a file in another form, or with a
   record the strict decoder rejects (a missing or odd field), takes the general path (`read_raw_records`), which
   compacts each record and reads the odd ones best-effort, counting what it could not read.
3. `aggregate`: column by column (C-level maps, one dict pass, NumPy bincount; no per-record Python in the common
   case) counts by a fine key (hour, account, region, eventSource, eventName, actor and role), rolled up into day
   keys (day, account, region, eventSource, eventName, actor, role ARN) with events, read-only events, bytes and
   read-only bytes, and hour keys (hour, account, region, actor) with events, read-only events and bytes. Each
   event's eventID is kept as a 64-bit hash, by day, so the parent can drop duplicates across files.

Nothing here raises on bad input: a file that cannot be read comes back with `skip_reason`, a record that cannot
be placed is counted under `issues` with its reason.
"""

from __future__ import annotations

import gc
import hashlib
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import compress, count, repeat
from operator import attrgetter, is_, itemgetter, not_
from typing import Annotated, Any

import msgspec
import numpy as np
import orjson

from mdcnb.cloudtrail.identity import MDC_FACTS, RoleMatcher, session_name

KNOWN_VERSIONS = frozenset(MDC_FACTS["known_event_versions"])
DEFAULT_MAX_FILE_BYTES = 1 << 30  # decompressed; larger files are skipped instead of exhausting memory
GZIP_MAGIC = b"\x1f\x8b"
ASSUME_ROLE_WEB = "AssumeRoleWithWebIdentity"

# Indices into a key's counters (hour keys have the first three).
EVENTS, READ_ONLY, BYTES, READ_ONLY_BYTES = range(4)


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

_TIME, _ID, _VERSION, _IDENTITY, _READ_ONLY = (attrgetter(a) for a in (
    "eventTime", "eventID", "eventVersion", "userIdentity", "readOnly"))
_ACCOUNT, _REGION, _SOURCE, _NAME = (attrgetter(a) for a in (
    "recipientAccountId", "awsRegion", "eventSource", "eventName"))
_ISSUER_ARN = attrgetter("userIdentity.sessionContext.sessionIssuer.arn")
_IDENTITY_ARN, _IDENTITY_ACCOUNT = attrgetter("userIdentity.arn"), attrgetter("userIdentity.accountId")
_HOUR, _LAST = itemgetter(slice(0, 13)), itemgetter(-1)


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
    """Aggregated content of one file: day keys with [events, read_only, bytes, read_only_bytes], hour keys with
    [events, read_only, bytes]."""

    source: str
    skip_reason: str | None = None
    keys: list[tuple] = field(default_factory=list)
    counts: list[list[int]] = field(default_factory=list)
    hour_keys: list[tuple] = field(default_factory=list)
    hour_counts: list[list[int]] = field(default_factory=list)
    days: dict[str, DayEvents] = field(default_factory=dict)
    duplicates: int = 0
    without_id: int = 0
    out_of_range: int = 0
    issues: Counter = field(default_factory=Counter)


# ---- 1. bytes -> text -----------------------------------------------------------------------------------------
def inflate(blob: bytes, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> tuple[bytes | None, str | None]:
    """(text, None) or (None, reason) for one file's bytes, gzip or plain."""
    if not blob:
        return None, "empty file"
    if blob[:2] != GZIP_MAGIC:
        if len(blob) > max_bytes:
            return None, f"larger than {max_bytes} bytes"
        return (blob, None) if blob.strip() else (None, "empty file")
    try:
        inflater = zlib.decompressobj(wbits=47)
        data = inflater.decompress(blob, max_bytes + 1)
    except zlib.error as exc:
        return None, f"corrupt gzip ({exc})"
    if len(data) > max_bytes:
        return None, f"larger than {max_bytes} bytes decompressed"
    if not inflater.eof:
        return None, "truncated gzip (end of stream missing)"
    return (data, None) if data.strip() else (None, "empty file (gzip of nothing)")


# ---- 2. text -> records and their sizes ---------------------------------------------------------------------
@dataclass
class ParsedRecords:
    """A file's records (None where an element could not be read as one) and the size of each. `strict` says
    every record passed the strict decoder; otherwise `issues` counts what was odd."""

    records: list[Record | None]
    sizes: list[int]
    strict: bool = True
    issues: Counter = field(default_factory=Counter)


def read_log(data: bytes) -> ParsedRecords | str:
    """The records of one log file's text, or the reason it holds none: `{"Records": [...]}` or a bare array."""
    try:
        doc = _RAW_LOG.decode(data)
    except msgspec.ValidationError:
        return _shape_problem(orjson.loads(data))
    except msgspec.DecodeError as exc:
        return f"not JSON ({exc})"
    raws = doc.Records if type(doc) is _RawLog else doc
    if not _is_compact(data, raws, _WRAPPER_BYTES[type(doc) is _RawLog]):
        return read_raw_records(raws)
    try:
        return ParsedRecords(list(map(_RECORD.decode, raws)), list(map(len, raws)))
    except msgspec.ValidationError:
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
    """The general path: each record's JSON text read on its own, sized compacted (strings as delivered)."""
    out = ParsedRecords([], [], strict=False)
    for raw in raws:
        try:
            compact = msgspec.json.format(raw, indent=-1)
        except msgspec.DecodeError:
            out.issues[f"{what} is not JSON (skipped)"] += 1
            continue
        out.sizes.append(len(compact))
        try:
            out.records.append(_RECORD.decode(compact))
        except msgspec.ValidationError:
            out.records.append(_best_effort(orjson.loads(compact), out.issues))
    return out


def _best_effort(doc: Any, issues: Counter) -> Record | None:
    """A Record from a record the strict decoder rejects: missing or wrong-typed fields are read as missing."""
    if type(doc) is not dict:
        issues["record is not a JSON object (skipped)"] += 1
        return None
    ui, params = doc.get("userIdentity"), doc.get("requestParameters")
    ctx = ui.get("sessionContext") if type(ui) is dict else None
    issuer = ctx.get("sessionIssuer") if type(ctx) is dict else None
    when, ro = _text(doc.get("eventTime")), doc.get("readOnly")
    return Record(
        eventTime=when if when and len(when) >= 13 else None,
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


# ---- 3. records -> counts -----------------------------------------------------------------------------------
def aggregate(source: str, parsed: ParsedRecords, opts: ScanOptions, path_account: str | None = None) -> FileResult:
    """Count one file's records column-wise into a FileResult: first by a fine key (hour, account, region,
    eventSource, eventName, (actor, role ARN)), then the few distinct fine keys roll up into day and hour keys."""
    out = FileResult(source, issues=parsed.issues)
    records, sizes, ids = _countable(out, parsed.records, parsed.sizes, opts)
    if not records:
        return out
    read_only_flags = list(map(_READ_ONLY, records))
    _note_odd_fields(out.issues, records, read_only_flags, parsed.strict)
    names = list(map(_NAME, records))
    fine_idx, fine = _index(zip(map(_HOUR, map(_TIME, records)), _accounts(records, path_account),
                                map(_REGION, records), map(_SOURCE, records), names,
                                _classify(records, names, opts.matcher), strict=True), len(records))
    nbytes = np.array(sizes, dtype=np.int64)
    read_only = np.array(read_only_flags, dtype=bool)  # None (missing) counts as not read-only
    sums = _sum_by(fine_idx, len(fine), (None, read_only, nbytes, np.where(read_only, nbytes, 0)))
    day_of, out.keys = _index([(hour[:10], *where, *who) for hour, *where, who in fine], len(fine))
    hour_of, out.hour_keys = _index([(hour, acct, region, who[0]) for hour, acct, region, _s, _n, who in fine],
                                    len(fine))
    out.counts = _sum_by(day_of, len(out.keys), sums.T).tolist()
    out.hour_counts = _sum_by(hour_of, len(out.hour_keys), sums.T[:READ_ONLY_BYTES]).tolist()
    out.days = _by_day(out.keys, day_of[fine_idx], hour_of[fine_idx], ids, nbytes, read_only)
    return out


def _countable(out: FileResult, records: list[Record | None], sizes: list[int],
               opts: ScanOptions) -> tuple[list[Record], list[int], list[str | None]]:
    """(records, sizes, eventIDs) to count: drops unreadable records, those without eventTime, outside the window
    or repeated in the file (each counted). Whole-column checks first; the per-record pass runs only when one
    fails."""
    if not records:
        return [], [], []
    if None not in records and None not in map(_TIME, records):
        ids = list(map(_ID, records))
        with_id = len(ids) - ids.count(None)
        if len(set(ids)) - (None in ids) == with_id and _in_window(records, opts):
            out.without_id = len(ids) - with_id
            return records, sizes, ids
    keep, seen = [], set()
    for rec in records:
        keep.append(_keep(out, rec, seen, opts))
    records = list(compress(records, keep))
    return records, list(compress(sizes, keep)), list(map(_ID, records))


def _in_window(records: list[Record], opts: ScanOptions) -> bool:
    if not (opts.since or opts.until):
        return True
    first, last = min(map(_TIME, records))[:10], max(map(_TIME, records))[:10]
    return (not opts.since or first >= opts.since) and (not opts.until or last <= opts.until)


def _keep(out: FileResult, rec: Record | None, seen: set[str], opts: ScanOptions) -> bool:
    if rec is None:
        return False
    if rec.eventTime is None:
        out.issues["no eventTime (skipped)"] += 1
        return False
    day = rec.eventTime[:10]
    if (opts.since and day < opts.since) or (opts.until and day > opts.until):
        out.out_of_range += 1
        return False
    if rec.eventID is None:
        out.without_id += 1
    elif rec.eventID in seen:
        out.duplicates += 1
        return False
    else:
        seen.add(rec.eventID)
    return True


def _note_odd_fields(issues: Counter, records: list[Record], read_only: list[bool | None], strict: bool) -> None:
    """Count records read best-effort: unknown eventVersion, and (only the general path lets them through) no
    userIdentity, no readOnly."""
    for version, n in Counter(map(_VERSION, records)).items():
        if version not in KNOWN_VERSIONS:
            issues[_version_issue(version)] += n
    if strict:
        return
    no_identity = sum(map(is_, map(_IDENTITY, records), repeat(NO_IDENTITY)))
    if no_identity:
        issues["no userIdentity (counted as not MDC)"] += no_identity
    if None in read_only:
        issues["no readOnly (counted as not read-only)"] += read_only.count(None)


def _version_issue(version: str | None) -> str:
    if version is None:
        return "no eventVersion (parsed best-effort)"
    if version.split(".", 1)[0] != "1":
        return f"unknown eventVersion {version} (parsed best-effort)"
    return f"newer eventVersion {version} (parsed best-effort)"


def _accounts(records: list[Record], path_account: str | None) -> list[str | None]:
    """recipientAccountId, else the account in the file's path, else the caller's account."""
    accounts = list(map(_ACCOUNT, records))
    if None in accounts:
        fallback = repeat(path_account) if path_account else map(_IDENTITY_ACCOUNT, records)
        accounts = [a if a is not None else f for a, f in zip(accounts, fallback, strict=False)]
    return accounts


def _classify(records: list[Record], names: list[str | None], matcher: RoleMatcher) -> list[tuple[str, str | None]]:
    """(actor, role ARN) per record. The issuing role decides for nearly all; the session name only for roles
    that MDC's session prefix could mark; AssumeRoleWithWebIdentity by the role it asks for."""
    issuers = list(map(_ISSUER_ARN, records))
    who = matcher.classify_issuers(issuers)
    if None in who:
        who = matcher.classify_sessions(issuers, _session_names(records, issuers))
    if ASSUME_ROLE_WEB in names:
        for i, (rec, name) in enumerate(zip(records, names, strict=True)):
            params = rec.requestParameters
            if name == ASSUME_ROLE_WEB and not issuers[i] and params is not None and params.roleArn:
                who[i] = matcher.classify_assume_role(params.roleArn, params.roleSessionName)
    return who


def _session_names(records: list[Record], issuers: list[str]) -> list[str]:
    """Session names column-wise from `arn:aws:sts::<acct>:assumed-role/<role>/<session>`; a role session whose
    identity ARN is not of that form takes it from the principal id (`session_name`), one by one."""
    arns = list(map(_IDENTITY_ARN, records))
    has_slash = list(map(str.__contains__, arns, repeat("/")))
    sessions = list(map(_LAST, map(str.rpartition, arns, repeat("/"))))
    if False in has_slash:
        for i in compress(range(len(arns)), map(not_, has_slash)):
            if issuers[i]:
                sessions[i] = session_name(arns[i] or records[i].userIdentity.principalId)
    return sessions


def _index(keys: Iterable[tuple], n: int) -> tuple[np.ndarray, list[tuple]]:
    """(position of each of the n keys among the distinct keys, the distinct keys in first-seen order), in one
    dict pass: each key maps to the index of its first occurrence, then those are numbered densely."""
    first: dict[tuple, int] = {}
    at = np.fromiter(map(first.setdefault, keys, count()), dtype=np.intp, count=n)
    dense = np.empty(n, dtype=np.intp)
    dense[np.fromiter(first.values(), dtype=np.intp, count=len(first))] = np.arange(len(first))
    return dense[at], list(first)


def _sum_by(idx: np.ndarray, n: int, columns: Iterable[np.ndarray | None]) -> np.ndarray:
    """Per key (n rows), the sum of each column over the items with that key index; None counts the items.
    Sums are taken in float64, exact for integers below 2**53."""
    return np.stack([np.bincount(idx, weights=w, minlength=n) for w in columns], axis=1).astype(np.int64)


def _by_day(day_keys: list[tuple], key_idx: np.ndarray, hour_idx: np.ndarray, ids: list[str | None],
            nbytes: np.ndarray, read_only: np.ndarray) -> dict[str, DayEvents]:
    """Events with an eventID grouped by event day (a file spans one day, two around midnight)."""
    days = {key[0] for key in day_keys}
    if len(days) == 1 and None not in ids:
        return {days.pop(): DayEvents(event_hashes(ids), key_idx, hour_idx, nbytes, read_only)}
    has_id = ~np.fromiter(map(is_, ids, repeat(None)), dtype=bool, count=len(ids))
    day_of_key = np.array([key[0] for key in day_keys])
    result = {}
    for day in sorted(days):
        mask = (day_of_key[key_idx] == day) & has_id
        result[day] = DayEvents(event_hashes(list(compress(ids, mask.tolist()))), key_idx[mask], hour_idx[mask],
                                nbytes[mask], read_only[mask])
    return result


_MIX = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))


def event_hashes(ids: list[str]) -> np.ndarray:
    """64-bit hashes of eventIDs, the same in every process and run. CloudTrail's eventIDs are 36-character UUIDs:
    those are hashed together, their bytes mixed with splitmix64's finaliser in NumPy; any other id by BLAKE2b."""
    text = "".join(ids).encode()
    if not (text.isascii() and len(text) == 36 * len(ids) and max(map(len, ids), default=36) == 36):
        return np.array([_blake2b(i) for i in ids], dtype=np.int64)
    chars = np.frombuffer(text, dtype=np.uint8).reshape(len(ids), 36)
    words = np.ascontiguousarray(np.pad(chars, ((0, 0), (0, 4)))).view(np.uint64)  # 40 bytes: 5 words per id
    h = np.zeros(len(ids), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(words.shape[1]):
            h = _splitmix(h ^ words[:, j] ^ np.uint64(j))
    return h.view(np.int64)


def _splitmix(x: np.ndarray) -> np.ndarray:
    x = (x ^ (x >> np.uint64(30))) * _MIX[0]
    x = (x ^ (x >> np.uint64(27))) * _MIX[1]
    return x ^ (x >> np.uint64(31))


def _blake2b(event_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "little", signed=True)


# ---- entry points -----------------------------------------------------------------------------------------------
def scan_blob(source: str, blob: bytes, opts: ScanOptions, path_account: str | None = None) -> FileResult:
    """Inflate, read and aggregate one file's bytes.

    The cyclic garbage collector is paused meanwhile: reading creates thousands of objects per file (none in a
    cycle) and the collector's passes over them cost time for nothing."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        data, reason = inflate(blob, opts.max_file_bytes)
        if reason is None:
            parsed = read_log(data)
            reason = parsed if type(parsed) is str else None
        if reason is not None:
            return FileResult(source, skip_reason=reason)
        return aggregate(source, parsed, opts, path_account)
    finally:
        if was_enabled:
            gc.enable()


def aggregate_texts(source: str, texts: Iterable[bytes | str], opts: ScanOptions, what: str = "record") -> FileResult:
    """Aggregate records given as JSON texts (LookupEvents' CloudTrailEvent, records already in memory)."""
    return aggregate(source, read_raw_records((t.encode() if type(t) is str else t for t in texts), what), opts)


def aggregate_dicts(source: str, records: Iterable[Any], opts: ScanOptions) -> FileResult:
    """Aggregate records already decoded (tests, callers holding dicts): sized as compact JSON."""
    return aggregate_texts(source, map(orjson.dumps, records), opts)
