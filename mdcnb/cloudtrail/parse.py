"""One CloudTrail log file (or one batch of records) -> per-key counts, ready to merge.

This is the hot path: it runs in worker processes, once per file. It decompresses (gzip detected by magic
bytes), parses with orjson, and aggregates every record twice: by day key (day, account, region, eventSource,
eventName, actor, role) with events, read-only events and bytes, and by hour key (hour, account, region, actor)
with events, read-only events and bytes. Bytes
are the size of the record as compact JSON (UTF-8), which is what a SIEM receives before its own enrichment.
Per event it also keeps a 64-bit hash of `eventID` so the parent can drop duplicates across files.

Nothing here raises on bad input: a file that cannot be read comes back with `skip_reason`, a record that
cannot be placed is counted under `issues` with its reason.
"""

from __future__ import annotations

import gc
import hashlib
import zlib
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

from mdcnb.cloudtrail.identity import MDC_FACTS, RoleMatcher

KNOWN_VERSIONS = frozenset(MDC_FACTS["known_event_versions"])
DEFAULT_MAX_FILE_BYTES = 1 << 30  # decompressed; larger files are skipped instead of exhausting memory
GZIP_MAGIC = b"\x1f\x8b"

# Indices into a key's counters.
EVENTS, READ_ONLY, BYTES, READ_ONLY_BYTES = range(4)


@dataclass
class ScanOptions:
    """What every worker needs to know (picklable)."""

    matcher: RoleMatcher
    since: str | None = None   # first day kept, YYYY-MM-DD (event time, UTC)
    until: str | None = None   # last day kept, YYYY-MM-DD (inclusive)
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES


@dataclass
class DayEvents:
    """Per-event arrays of one event day, for cross-file de-duplication."""

    hashes: array = field(default_factory=lambda: array("q"))
    key_idx: array = field(default_factory=lambda: array("i"))
    hour_idx: array = field(default_factory=lambda: array("i"))
    nbytes: array = field(default_factory=lambda: array("q"))
    read_only: bytearray = field(default_factory=bytearray)


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


def event_hash(event_id: str) -> int:
    """Stable 64-bit hash of an eventID (the same in every process, unlike `hash()`)."""
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "little", signed=True)


def decode(blob: bytes, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> tuple[list | None, str | None]:
    """(records, None) or (None, reason) for one file's bytes: gzip or plain, `{"Records": [...]}` or a bare array."""
    if not blob:
        return None, "empty file"
    if blob[:2] == GZIP_MAGIC:
        try:
            inflater = zlib.decompressobj(wbits=47)
            data = inflater.decompress(blob, max_bytes + 1)
            if len(data) > max_bytes:
                return None, f"larger than {max_bytes} bytes decompressed"
            if not inflater.eof:
                return None, "truncated gzip (end of stream missing)"
        except zlib.error as exc:
            return None, f"corrupt gzip ({exc})"
        if not data.strip():
            return None, "empty file (gzip of nothing)"
    else:
        if len(blob) > max_bytes:
            return None, f"larger than {max_bytes} bytes"
        data = blob
        if not data.strip():
            return None, "empty file"
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return None, f"not JSON ({exc})"
    if type(doc) is dict:
        records = doc.get("Records")
        if records is None:
            return None, "JSON object without a Records array"
        if type(records) is not list:
            return None, f"Records is a {type(records).__name__}, not an array"
        return records, None
    if type(doc) is list:
        return doc, None
    return None, f"JSON {type(doc).__name__}, neither an object with Records nor an array"


def aggregate(source: str, records: list, opts: ScanOptions, path_account: str | None = None) -> FileResult:
    """Aggregate one file's records into a FileResult (the per-record loop: keep it lean)."""
    out = FileResult(source)
    index: dict[tuple, int] = {}
    hour_index: dict[tuple, int] = {}
    keys, counts, days, issues = out.keys, out.counts, out.days, out.issues
    hour_keys, hour_counts = out.hour_keys, out.hour_counts
    seen: set[str] = set()
    since, until = opts.since, opts.until
    classify = opts.matcher.classify_record
    dumps = orjson.dumps
    version_ok = KNOWN_VERSIONS
    for rec in records:
        if type(rec) is not dict:
            issues["record is not a JSON object (skipped)"] += 1
            continue
        when = rec.get("eventTime")
        if type(when) is not str or len(when) < 13:
            issues["no eventTime (skipped)"] += 1
            continue
        day = when[:10]
        if (since and day < since) or (until and day > until):
            out.out_of_range += 1
            continue
        eid = rec.get("eventID")
        if type(eid) is str:
            if eid in seen:
                out.duplicates += 1
                continue
            seen.add(eid)
        else:
            out.without_id += 1
        version = rec.get("eventVersion")
        if version not in version_ok:
            issues[_version_issue(version)] += 1
        if "userIdentity" not in rec:
            issues["no userIdentity (counted as not MDC)"] += 1
        ro = rec.get("readOnly")
        if ro is None:
            issues["no readOnly (counted as not read-only)"] += 1
        ro = ro is True or ro == "true"
        actor, role = classify(rec)
        account = rec.get("recipientAccountId") or path_account or _identity_account(rec)
        region = rec.get("awsRegion")
        key = (day, account, region, rec.get("eventSource"), rec.get("eventName"), actor, role)
        i = index.get(key)
        if i is None:
            i = index[key] = len(keys)
            keys.append(key)
            counts.append([0, 0, 0, 0])
        hkey = (when[:13], account, region, actor)
        h = hour_index.get(hkey)
        if h is None:
            h = hour_index[hkey] = len(hour_keys)
            hour_keys.append(hkey)
            hour_counts.append([0, 0, 0])
        size = len(dumps(rec))
        c = counts[i]
        c[EVENTS] += 1
        c[BYTES] += size
        hc = hour_counts[h]
        hc[EVENTS] += 1
        hc[BYTES] += size
        if ro:
            c[READ_ONLY] += 1
            c[READ_ONLY_BYTES] += size
            hc[READ_ONLY] += 1
        if type(eid) is str:
            d = days.get(day)
            if d is None:
                d = days[day] = DayEvents()
            d.hashes.append(event_hash(eid))
            d.key_idx.append(i)
            d.hour_idx.append(h)
            d.nbytes.append(size)
            d.read_only.append(ro)
    return out


def _version_issue(version: Any) -> str:
    if type(version) is not str:
        return "no eventVersion (parsed best-effort)"
    major = version.split(".", 1)[0]
    if major != "1":
        return f"unknown eventVersion {version} (parsed best-effort)"
    return f"newer eventVersion {version} (parsed best-effort)"


def _identity_account(rec: dict[str, Any]) -> str | None:
    ui = rec.get("userIdentity")
    return ui.get("accountId") if type(ui) is dict else None


def scan_blob(source: str, blob: bytes, opts: ScanOptions, path_account: str | None = None) -> FileResult:
    """Decode and aggregate one file's bytes.

    The cyclic garbage collector is paused meanwhile: parsing creates thousands of dicts per file (none in a
    cycle) and the collector's passes over them cost about a third of the parse time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        records, reason = decode(blob, opts.max_file_bytes)
        if reason:
            return FileResult(source, skip_reason=reason)
        return aggregate(source, records, opts, path_account)
    finally:
        if was_enabled:
            gc.enable()
