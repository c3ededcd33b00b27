"""The plain shape of an assessment record, read by the native scanner (`_assessscan.c`) or by msgspec into typed
objects (`Record`) without building a dict per JSON object: the keys read are spelled as the REST API or Resource Graph
spells them, text where text is read, the keys not read text or null as Resource Graph and REST give them. The nested
objects are kept as their raw JSON text and read once per distinct text in a chunk: the resource details, status and
links typed (`typed_texts`; the status then handed on as its texts, as the native scanner reads it), the risk and the
inline metadata by orjson (`raw_texts`), the per-initiative statuses only checked.

A chunk of plain records is handed on field by field (`Fields`): codes into the distinct values of each field the
columnar reader reads. `PlainReader` reads each line with the native scanner where it can (a line it takes is only
`SCANNED` in the chunk, its fields are in the scanner until the chunk is taken) and with msgspec otherwise; a chunk
with a line the scanner did not take is read by msgspec whole. Without the extension, or with `MDCNB_NATIVE=0`,
msgspec reads every line.

`decoded(line)` is a `Record`, or None for a line of any other shape, which the record-by-record reader (orjson, then
`fold`) reads instead. A record is read here only where orjson and `fold` would read it too. msgspec refuses what
orjson refuses (malformed JSON, text that is not UTF-8, lone surrogates, numbers beyond a double written with an
exponent) in every part it types; what it does not check is checked: the raw texts typed by msgspec or read by
orjson (`raw_texts`, which also bounds their nesting), and a line that carries additional data (free JSON) for
nesting beyond `fold`'s limit and for integers of 309 digits or more (beyond a double, which orjson refuses).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np
import orjson
import pandas as pd

from mdcnb.normalize.chunked import Envelope, Item, NotPlain
from mdcnb.normalize.common import MAX_DEPTH, RecordError

try:
    from mdcnb.normalize import _assessscan  # built from _assessscan.c by `pip install` (setup.py)
except ImportError:  # a build without the extension: msgspec reads every line
    _assessscan = None  # type: ignore[assignment]

NATIVE = os.environ.get("MDCNB_NATIVE", "1") != "0" and _assessscan is not None  # MDCNB_NATIVE=0: msgspec only

NULL = msgspec.Raw(b"null")


class Status(msgspec.Struct, forbid_unknown_fields=True):
    code: str | None = None
    cause: str | None = None
    description: str | None = None
    firstEvaluationDate: str | None = None
    statusChangeDate: str | None = None


class Links(msgspec.Struct, forbid_unknown_fields=True):
    azurePortal: str | None = None
    azurePortalUri: str | None = None


class Properties(msgspec.Struct, forbid_unknown_fields=True):
    resourceDetails: msgspec.Raw = NULL  # read once per distinct text (`typed_texts`, as `DETAILS`)
    displayName: str | None = None
    status: msgspec.Raw = NULL  # as `STATUS`, into its texts (`STATUS_FIELDS`)
    links: msgspec.Raw = NULL  # as `LINKS`
    metadata: msgspec.Raw = NULL  # read once per distinct text (`raw_texts`)
    statusPerInitiative: msgspec.Raw = NULL  # not read (checked once per distinct text)
    risk: msgspec.Raw = NULL  # read once per distinct text (`raw_texts`)
    additionalData: Any = msgspec.UNSET  # its presence matters: it may name the resource type


class Record(Envelope, forbid_unknown_fields=True):
    id: str
    properties: Properties


_DECODER = msgspec.json.Decoder(Record)
DETAILS = msgspec.json.Decoder(dict[str, str | None] | None)
STATUS = msgspec.json.Decoder(Status | None)
LINKS = msgspec.json.Decoder(Links | None)
_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_HUGE = b"0" * 309  # an integer of this many digits is beyond a double: orjson refuses it, msgspec reads it
_FIELD_DEPTH = 2  # the raw texts' depth in a record (record -> properties -> field)


def decoded(line: bytes) -> Record | None:
    """The record of a line of the plain shape; None otherwise."""
    try:
        record = _DECODER.decode(line)
    except (msgspec.MsgspecError, ValueError, RecursionError):
        return None
    props = record.properties
    if props.additionalData is not msgspec.UNSET and (  # free JSON: checked as orjson would check it
            line.count(b"{") + line.count(b"[") > MAX_DEPTH or _HUGE in line.translate(_DIGITS)):
        return None  # `fold` refuses a record nested that deep; orjson a huge number: the per-row path says so
    return record


# The fields the columnar reader reads, in the scanner's order: the record's own (`_TOP`), then its properties', the
# status as its texts (`STATUS_FIELDS`). Text fields are coded into their distinct texts (-1: null), the others into
# their distinct raw JSON texts (bytes; an absent field is `null`, as the struct's default).
STATUS_FIELDS = tuple(f"status.{name}" for name in Status.__struct_fields__)
FIELDS = ("id", "name", "subscriptionId", "resourceDetails", "displayName", *STATUS_FIELDS, "links", "metadata",
          "statusPerInitiative", "risk")
_TOP = frozenset({"id", "name", "subscriptionId"})
_TEXTS = frozenset({"id", "name", "subscriptionId", "displayName"})
_NO_STATUS = Status()
CodedField = tuple[np.ndarray, list[Any]]  # codes of the rows, the distinct values


@dataclass
class Fields:
    """A plain chunk field by field (`FIELDS`), and the additional data of the rows that carry it (free JSON)."""

    coded: dict[str, CodedField]
    extra: dict[int, Any]


SCANNED = object()  # a chunk's line the native scanner took: its fields are in the scanner


class PlainReader:
    """Reads the lines of one file (`decode`) and gives each plain chunk's `Fields` (`fields`)."""

    def __init__(self, native: bool | None = None) -> None:
        self.scanner = _assessscan.Scanner() if (NATIVE if native is None else native) else None

    def decode(self, line: bytes) -> Any:
        """`SCANNED` for a line the scanner took, else `decoded(line)`."""
        return SCANNED if self.scanner is not None and self.scanner.add(line) else decoded(line)

    def fields(self, chunk: list[Item]) -> Fields:
        """The fields of a chunk: as the scanner read them when it took every line, else by msgspec (`NotPlain` for
        a line not of the plain shape). Every chunk read is taken from the scanner, in reading order."""
        taken = self.taken() if self.scanner is not None else None
        if taken is not None and all(item[1] is SCANNED for item in chunk):
            return taken
        records = [decoded(item[2]) if item[1] is SCANNED else item[1] for item in chunk]
        if not all(type(record) is Record for record in records):
            raise NotPlain
        return _fields(records)

    def taken(self) -> Fields:
        """The fields of the lines the scanner took since the last take."""
        return Fields({name: (np.frombuffer(codes, np.int32), values)
                       for name, (codes, values) in zip(FIELDS, self.scanner.take(), strict=True)}, {})


def _fields(records: list[Record]) -> Fields:
    """The fields of records read by msgspec; `NotPlain` for a status of another shape."""
    props = [record.properties for record in records]
    coded = {}
    for name in FIELDS:
        if name not in STATUS_FIELDS:
            values = [getattr(holder, name) for holder in (records if name in _TOP else props)]
            coded[name] = _texts(values) if name in _TEXTS else _distinct(values)
    try:
        codes, statuses = typed_texts(_distinct([p.status for p in props]), STATUS)  # once per distinct status
    except (msgspec.MsgspecError, ValueError):  # another shape, text that is not UTF-8: the per-row path says
        raise NotPlain from None
    for name in STATUS_FIELDS:
        texts, distinct = _texts([getattr(status or _NO_STATUS, name[7:]) for status in statuses])
        coded[name] = texts[codes], distinct
    extra = {row: p.additionalData for row, p in enumerate(props) if p.additionalData is not msgspec.UNSET}
    return Fields(coded, extra)


def raw_texts(field: CodedField) -> tuple[np.ndarray, list[Any]]:
    """A raw field's codes, and each distinct text read by orjson (None for null). An orjson.JSONDecodeError for a
    text orjson refuses, a `RecordError` for one nested deeper than `fold` may read."""
    codes, texts = field
    for text in texts:
        if text.count(b"{") + text.count(b"[") + _FIELD_DEPTH >= MAX_DEPTH:
            raise RecordError(f"nested deeper than {MAX_DEPTH} levels")
    return codes, [orjson.loads(text) for text in texts]


def typed_texts(field: CodedField, decoder: msgspec.json.Decoder) -> tuple[np.ndarray, list[Any]]:
    """A raw field's codes, and each distinct text read by `decoder`, as msgspec would have read it in the record. A
    `msgspec.MsgspecError` for a text of another shape."""
    codes, texts = field
    return codes, [decoder.decode(text) for text in texts]


def _texts(values: list[str | None]) -> CodedField:
    codes, uniques = pd.factorize(np.fromiter(values, dtype=object, count=len(values)))
    return codes, uniques.tolist()


def _distinct(raws: list[msgspec.Raw]) -> CodedField:
    codes, texts = pd.factorize(np.fromiter(map(bytes, raws), dtype=object, count=len(raws)))
    return codes, texts.tolist()
