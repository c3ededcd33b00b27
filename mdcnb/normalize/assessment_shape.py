"""The plain shape of an assessment record, read by msgspec into typed objects (`Record`) without building a dict per
JSON object: the keys read are spelled as the REST API or Resource Graph spells them, text where text is read; the
inline metadata (read once per recommendation) is kept as its raw JSON text.

`decoded(line)` is a `Record`, or None for a line of any other shape, which the record-by-record reader (orjson, then
`fold`) reads instead. A line is decoded here only where orjson would read it too: msgspec refuses what orjson
refuses (malformed JSON, text that is not UTF-8, lone surrogates, numbers beyond a double written with an exponent),
except an integer of 309 digits or more, refused here, a record nested beyond `fold`'s limit, refused here, and the
raw metadata text, which `metadata_texts` checks with orjson once per distinct text.
"""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
import orjson
import pandas as pd

from mdcnb.normalize.common import MAX_DEPTH

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
    resourceDetails: dict[str, str | None] | None = None
    displayName: str | None = None
    status: Status | None = None
    links: Links | None = None
    metadata: msgspec.Raw = NULL  # read once per distinct text (`metadata_texts`)
    statusPerInitiative: Any = None  # not read
    risk: Any = None
    additionalData: Any = msgspec.UNSET  # its presence matters: it may name the resource type


class Record(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    properties: Properties
    name: str | None = None
    subscriptionId: str | None = None
    type: Any = None  # the rest: not read
    tenantId: Any = None
    kind: Any = None
    location: Any = None
    resourceGroup: Any = None
    managedBy: Any = None
    sku: Any = None
    plan: Any = None
    tags: Any = None
    identity: Any = None
    zones: Any = None
    extendedLocation: Any = None


_DECODER = msgspec.json.Decoder(Record)
_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_HUGE = b"0" * 309  # an integer of this many digits is beyond a double: orjson refuses it, msgspec reads it


def decoded(line: bytes) -> Record | None:
    """The record of a line of the plain shape; None otherwise."""
    if line.count(b"{") + line.count(b"[") > MAX_DEPTH or _HUGE in line.translate(_DIGITS):
        return None  # `fold` refuses a record nested that deep; orjson a huge number: the per-row path says so
    try:
        return _DECODER.decode(line)
    except (msgspec.MsgspecError, ValueError, RecursionError):
        return None


def metadata_texts(raws: list[msgspec.Raw]) -> tuple[np.ndarray, list[Any]]:
    """The records' own metadata (`properties.metadata`) as codes into its distinct texts, and each text read by
    orjson (None for null); an orjson.JSONDecodeError for a text orjson refuses."""
    codes, texts = pd.factorize(np.fromiter(map(bytes, raws), dtype=object, count=len(raws)))
    return codes, [orjson.loads(text) for text in texts]
