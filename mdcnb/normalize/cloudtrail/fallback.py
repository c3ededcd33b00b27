"""The msgspec reader: the fallback for a file the native reader declines (not compact, not JSON; every file when
MDCNB_NATIVE=0) and the general path for the records it leaves (a missing or odd field). It cuts the text into one
raw JSON text per record and decodes from each only the fields the counts need (`Record`); a record the strict
decoder rejects is compacted and read best-effort (`read_raw_records`), counting what could not be read."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Annotated, Any

import msgspec
import numpy as np
import orjson

from mdcnb.normalize.cloudtrail.columns import (
    FIELDS,
    IDENTITY_ARN,
    PRINCIPAL,
    ROLE_ARN,
    VERSION,
    Columns,
    code_table,
    encode,
    event_hashes,
)


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
class ParsedRecords:
    """The general path's records (None where an element could not be read as one) and the size of each."""

    records: list[Record | None]
    sizes: list[int]
    strict: bool = True
    issues: Counter = field(default_factory=Counter)


def read_msgspec(data: bytes) -> ParsedRecords | str:
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
    return general_records(raws)


def general_records(raws: Sequence[bytes | msgspec.Raw]) -> ParsedRecords:
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


def columns_of(parsed: ParsedRecords) -> Columns:
    """Columns from msgspec's records; the elements that were no record are left out (already counted)."""
    pairs = [(rec, size) for rec, size in zip(parsed.records, parsed.sizes, strict=True) if rec is not None]
    records = [rec for rec, _ in pairs]
    code_of = code_table()
    codes = np.array([encode(map(get, records), code_of) for get in _RECORD_FIELDS],
                     dtype=np.int32).reshape(len(FIELDS), len(records)).T
    ids = [rec.eventID for rec in records]
    has_id = np.array([i is not None for i in ids], dtype=bool)
    hashes = np.zeros(len(records), dtype=np.int64)
    hashes[has_id] = event_hashes([i for i in ids if i is not None])
    return Columns(list(code_of), codes, np.array([size for _, size in pairs], dtype=np.int64),
                   np.array([_READ_ONLY_CODE[rec.readOnly] for rec in records], dtype=np.int8), has_id, hashes,
                   parsed.strict, parsed.issues)
