"""The plain shape of an assessment record, read by msgspec into typed objects (`Record`) without building a dict per
JSON object: the keys read are spelled as the REST API or Resource Graph spells them, text where text is read, the
keys not read text or null as Resource Graph and REST give them. The nested objects are kept as their raw JSON text
and read once per distinct text in a chunk: the resource details, status and links typed (`typed_texts`), the risk and
the inline metadata by orjson (`raw_texts`), the per-initiative statuses only checked.

`decoded(line)` is a `Record`, or None for a line of any other shape, which the record-by-record reader (orjson, then
`fold`) reads instead. A record is read here only where orjson and `fold` would read it too. msgspec refuses what
orjson refuses (malformed JSON, text that is not UTF-8, lone surrogates, numbers beyond a double written with an
exponent) in every part it types; what it does not check is checked: the raw texts typed by msgspec or read by
orjson (`raw_texts`, which also bounds their nesting), and a line that carries additional data (free JSON) for
nesting beyond `fold`'s limit and for integers of 309 digits or more (beyond a double, which orjson refuses).
"""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
import orjson
import pandas as pd

from mdcnb.normalize.chunked import Envelope
from mdcnb.normalize.common import MAX_DEPTH, RecordError

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
    status: msgspec.Raw = NULL  # as `STATUS`
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


def raw_texts(raws: list[msgspec.Raw]) -> tuple[np.ndarray, list[Any]]:
    """Raw JSON texts of the records (one field each) as codes into the distinct texts, and each text read by orjson
    (None for null). An orjson.JSONDecodeError for a text orjson refuses, a `RecordError` for one nested deeper than
    `fold` may read."""
    codes, texts = _distinct(raws)
    for text in texts:
        if text.count(b"{") + text.count(b"[") + _FIELD_DEPTH >= MAX_DEPTH:
            raise RecordError(f"nested deeper than {MAX_DEPTH} levels")
    return codes, [orjson.loads(text) for text in texts]


def typed_texts(raws: list[msgspec.Raw], decoder: msgspec.json.Decoder) -> tuple[np.ndarray, list[Any]]:
    """Raw JSON texts of the records (one field each) as codes into the distinct texts, and each text read by
    `decoder`, as msgspec would have read it in the record. A `msgspec.MsgspecError` for a text of another shape."""
    codes, texts = _distinct(raws)
    return codes, [decoder.decode(text) for text in texts]


def _distinct(raws: list[msgspec.Raw]) -> tuple[np.ndarray, list[bytes]]:
    codes, texts = pd.factorize(np.fromiter(map(bytes, raws), dtype=object, count=len(raws)))
    return codes, texts.tolist()
