"""Assessments normalised column by column: the rows of `posture.AssessmentNormaliser`, with a few Python steps per
distinct value instead of a few dozen per record.

A big tenant holds a million assessments of a few hundred recommendations, some thousand resources and dates. The
records are read in chunks; each field of a chunk becomes integer codes into its distinct values
(`pandas.factorize`; a nested object by its raw JSON text, read once per distinct text), every derived column
(lower-cased ids, canonical states, the assessed resource's columns, the joined metadata) is computed once per
distinct value by the per-row path's own functions, and spread back to the rows by the codes. Equal strings end up
as one object.

Only a chunk whose every record has the plain shape of `assessment_shape` (read by its native scanner or by msgspec,
handed on as codes into each field's distinct values, no dict per JSON object) takes this path: each key that is read
spelled as the REST API or Resource Graph spells it, text where text is read, nesting shallow enough for `fold`, no
id read before and no record the per-row path would skip. Any other chunk goes record by record through the per-row
path (`PerRow`, its lines read by orjson), so odd input gives the same rows and the same skips in the same order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from msgspec import UNSET, MsgspecError

from mdcnb.core import schema
from mdcnb.normalize.assessment_shape import (
    DETAILS,
    LINKS,
    STATUS_FIELDS,
    CodedField,
    Fields,
    Links,
    PlainReader,
    raw_texts,
    typed_texts,
)
from mdcnb.normalize.chunked import CHUNK, Item, NotPlain, PerRow, filled, objects, read_chunks
from mdcnb.normalize.common import RecordError, fold, last_segment, lower, subscription_of, text
from mdcnb.normalize.posture import AssessmentNormaliser, portal_link, resource_columns, risk_columns, status_code
from mdcnb.sources.dataset import Skip, Span, existing_record_path

RECORD_TYPE = "assessments"
BLOCK = 16 << 20  # bytes of a span the native scanner reads at a time

# The keys of `resourceDetails` a plain record may have: PascalCase (Resource Graph) or camelCase (REST), one
# spelling per record; any other sends its chunk to the per-row path, whose `fold` reads every spelling.
_RISK = frozenset({"level", "riskFactors", "attackPathsReferences", "isContextualRisk"})
_PASCAL = ("Source", "Id", "ConnectorId", "NativeResourceId", "NativeCloudUniqueIdentifier", "AwsResourceId",
           "GcpResourceId", "AzureResourceId", "ResourceName", "ResourceType", "ResourceProvider", "HierarchyId",
           "Region")
_CAMEL = tuple(k[:1].lower() + k[1:] for k in _PASCAL)
_SPELLINGS = (frozenset(_PASCAL), frozenset(_CAMEL))
_META = ("severity", "categories", "threats", "user_impact", "implementation_effort", "preview", "assessment_type",
         "policy_definition_id", "remediation")
_EMPTY: list[str] = []


def normalise_assessments(dataset: Path, normaliser: AssessmentNormaliser, skips: list[Skip], per_row: PerRow,
                          *, columnar: bool = True) -> pd.DataFrame:
    """The `assessments` table of a dataset; its skips (unreadable lines, skipped records) appended to `skips`.

    `columnar=False` sends every chunk through `per_row` (the reference the columnar path is tested against).
    """
    return _frame(read_pieces(dataset, normaliser, skips, per_row, columnar=columnar)[0])


def read_pieces(dataset: Path, normaliser: AssessmentNormaliser, skips: list[Skip], per_row: PerRow, *,
                columnar: bool = True, span: Span | None = None) -> tuple[list[dict[str, np.ndarray]], int]:
    """The columns of each chunk (object arrays) of the file, or of its `span`, and the number of records read. A
    span is read by the native scanner alone (`_scanned`) up to its first chunk that is not plain, the rest as any
    file is read."""
    reader = PlainReader()
    pieces: list[dict[str, np.ndarray]] = []
    seen: dict[str, int | str] = {}
    rest, path = span, existing_record_path(dataset, RECORD_TYPE)
    if span is not None and path is not None and columnar and reader.scanner is not None:
        rest = _scanned(path, span, reader, normaliser, seen, pieces)
    more, read = read_chunks(dataset, RECORD_TYPE, reader.decode,
                             lambda chunk, seen: _columns(chunk, reader, normaliser, seen), skips, per_row,
                             columnar=columnar, span=rest, chunk=CHUNK, seen=seen)
    if span is not None and rest is not None:
        span.lines = rest.lines
    return pieces + more, read + sum(len(piece["assessment_id"]) for piece in pieces)


def _scanned(path: Path, span: Span, reader: PlainReader, normaliser: AssessmentNormaliser,
             seen: dict[str, int | str], pieces: list[dict[str, np.ndarray]]) -> Span:
    """The chunks of a span read by the native scanner alone, `BLOCK` bytes at a time (no Python object per line),
    appended to `pieces`, for as long as each line is blank or plain and each chunk plain; returns the rest of the
    span, from the first chunk that is not, its lines numbered on (the general reader reads it)."""
    scanner = reader.scanner
    start, lines = span.start, span.lines  # where the chunk being read starts
    pos, count, numbers = start, lines, []
    buffer, base, size = bytearray(BLOCK), start, 0  # buffer[:size]: the bytes of the file from `base` on
    with path.open("rb", buffering=0) as fh:
        fh.seek(start)
        while True:
            final = base + size >= span.stop
            end, count, added, refused = scanner.scan(buffer, pos - base, size, CHUNK - len(numbers), count, final)
            pos = base + end
            numbers += np.frombuffer(added, np.int32).tolist()
            if refused:
                break
            done, starved = final and end == size, not final and len(numbers) < CHUNK  # (a line goes on past size)
            if numbers and (len(numbers) == CHUNK or done):
                try:
                    pieces.append(_coded_columns(reader.taken(), numbers, normaliser, seen))
                except NotPlain:
                    break
                start, lines, numbers = pos, count, []
            if done:
                break
            if starved:
                left = size - end  # the start of a line: moved to the front, the buffer doubled for a long line
                buffer[:left] = buffer[end:size]
                if left > len(buffer) // 2:
                    buffer.extend(bytes(len(buffer)))
                read = fh.readinto(memoryview(buffer)[left:left + min(len(buffer) - left, span.stop - pos - left)])
                if not read:
                    break  # the file ends before the span: the general reader says so
                base, size = pos, left + read
    reader.taken()  # the lines of a chunk left unread: the general reader reads them again
    return Span(start, span.stop, lines)


# ---------------------------------------------------------------- one chunk, column by column

def _columns(chunk: list[Item], reader: PlainReader, normaliser: AssessmentNormaliser,
             seen: dict[str, int | str]) -> dict[str, Any]:
    """The contract's columns of a plain chunk (object arrays), its ids entered into `seen`; `NotPlain` for a chunk
    the per-row path must read."""
    return _coded_columns(reader.fields(chunk), [item[0] for item in chunk], normaliser, seen)


def _coded_columns(fields: Fields, lines: list[int], normaliser: AssessmentNormaliser,
                   seen: dict[str, int | str]) -> dict[str, Any]:
    """The columns of a chunk's `fields` (its records' `lines`), its ids entered into `seen`; `NotPlain` for a chunk
    the per-row path must read."""
    share = normaliser.share
    coded = fields.coded
    try:
        ids, unique_ids = coded["id"]
        assessment_id = objects([i.strip().lower() or None for i in unique_ids])[ids]  # `lower` (ids are unique)
        id_list = assessment_id.tolist()
        if None in id_list or len(set(id_list)) < len(lines) or not seen.keys().isdisjoint(id_list):
            raise NotPlain  # a missing or repeated id: the per-row path says which
        key = filled(_Codes.of(coded["name"]).spread(lower, share), assessment_id,
                      lambda aid: share(lower(last_segment(aid))))
        meta = _metadata(key, coded, normaliser)
        columns = {
            "assessment_id": assessment_id,
            "assessment_key": key,
            "subscription_id": filled(_Codes.of(coded["subscriptionId"]).spread(lower, share), assessment_id,
                                       lambda aid: share(subscription_of(aid))),
            **_resource(fields, assessment_id, share),
            "display_name": _or(_Codes.of(coded["displayName"]).spread(text, share),
                                meta.pop("metadata_display_name")),
            **_status(coded, share),
            "portal_link": _portal_links(coded["links"], share),
            **_risks(coded["risk"]),
            **meta,
        }
    except (RecordError, TypeError, ValueError, AttributeError, MsgspecError):
        raise NotPlain from None  # a record the per-row path skips (with its reason) or reads otherwise
    seen.update(zip(id_list, lines, strict=True))
    return columns


def _folded_details(value: dict[str, str | None] | None) -> dict[str, str | None]:
    """A distinct `resourceDetails` with its keys in lower case ({} for null), when they are all of one spelling
    (`_SPELLINGS`); `NotPlain` otherwise."""
    value = value or {}
    if not any(value.keys() <= keys for keys in _SPELLINGS):
        raise NotPlain
    return {name.lower(): v for name, v in value.items()}


_NO_LINKS = Links()


def _status(coded: dict[str, CodedField], share: Callable[[Any], Any]) -> dict[str, np.ndarray]:
    """The status columns, each computed once per distinct text of the status's fields (`STATUS_FIELDS`)."""
    code, cause, description, first, change = (_Codes.of(coded[name]) for name in STATUS_FIELDS)
    return {"status": code.spread(status_code), "cause": cause.spread(text, share),
            "status_description": description.spread(text, share), "first_evaluation": first.spread(text, share),
            "status_change": change.spread(text, share)}


def _portal_links(raw: CodedField, share: Callable[[Any], Any]) -> np.ndarray:
    codes, distinct = typed_texts(raw, LINKS)
    return objects([_shared(portal_link({"azurePortal": link.azurePortal, "azurePortalUri": link.azurePortalUri}),
                            share) for link in (d or _NO_LINKS for d in distinct)])[codes]


class _Codes:
    """One text field of a chunk as codes into its distinct values (-1: null); `NotPlain` if a value is not text."""

    def __init__(self, values: Sequence[Any]) -> None:
        try:
            codes, uniques = pd.factorize(objects(values))
        except TypeError:  # an object or a list where text belongs
            raise NotPlain from None
        self.codes, self.uniques = codes, uniques.tolist()
        if any(type(u) is not str for u in self.uniques):
            raise NotPlain

    @classmethod
    def of(cls, field: CodedField) -> _Codes:
        """A text field of `Fields` (its values are texts)."""
        column = cls.__new__(cls)
        column.codes, column.uniques = field
        return column

    def value(self, row: int) -> Any:
        code = self.codes[row]
        return self.uniques[code] if code >= 0 else None

    def spread(self, fn: Callable[[Any], Any], share: Callable[[Any], Any] | None = None) -> np.ndarray:
        """`fn` of each row's value (shared), called once per distinct value: an object array. The codes index
        the values, null (-1) the last."""
        values = [_shared(fn(value), share) for value in self.uniques]
        if len(self.codes) and self.codes.min() < 0:
            values.append(_shared(fn(None), share))
        return objects(values)[self.codes]


def _shared(value: Any, share: Callable[[Any], Any] | None) -> Any:
    return share(value) if share is not None and type(value) is str else value


def _combined(column: _Codes) -> tuple[np.ndarray, np.ndarray]:
    """(code of each row's value, null among them, and the first row of each) over a column's codes, in code order."""
    _, first, key = np.unique(column.codes, return_index=True, return_inverse=True)
    return key, first


def _or(values: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    missing = pd.isna(values)
    values[missing] = fallback[missing]
    return values


def _metadata(key: np.ndarray, coded: dict[str, CodedField], normaliser: AssessmentNormaliser) -> dict[str, Any]:
    """The metadata columns (`metadata_display_name` among them) joined per key, the record's own metadata deciding
    for a key met first (as in the per-row path: the first record of a key decides)."""
    keys = _Codes(key.tolist())
    code, first = _combined(keys)
    texts, inline = raw_texts(coded["metadata"])
    raw_texts(coded["statusPerInitiative"])  # not read, but checked as orjson and `fold` would
    metas = [normaliser.metadata_columns(keys.value(row), inline[texts[row]]) for row in first.tolist()]
    return {name: objects([m[name] for m in metas])[code] for name in ("metadata_display_name", *_META)}


_RESOURCE_COLUMNS = ("environment", "resource_id", "resource_name", "resource_type", "native_resource_id",
                     "connector_id", "hierarchy_id", "region")


def _resource(fields: Fields, assessment_id: np.ndarray, share: Callable[[Any], Any]) -> dict[str, np.ndarray]:
    """`resource_columns` once per distinct `resourceDetails`; per record where it needs the assessment id (no
    resource id given) or `additionalData` (which may name the resource type)."""
    codes, distinct = typed_texts(fields.coded["resourceDetails"], DETAILS)
    details = [_folded_details(value) for value in distinct]

    def own(value: dict[str, str | None]) -> dict[str, Any]:
        try:
            return resource_columns("", value, {})
        except RecordError:
            return dict.fromkeys(_RESOURCE_COLUMNS)  # no resource id without the assessment's own id: per row

    results = [own(value) for value in details]
    columns = {name: objects([_shared(r[name], share) for r in results])[codes] for name in _RESOURCE_COLUMNS}
    lonely = pd.isna(columns["resource_id"])
    lonely[list(fields.extra)] = True
    for row in np.flatnonzero(lonely).tolist():
        extra = fields.extra.get(row, UNSET)
        record = resource_columns(assessment_id[row], details[codes[row]], {"additionaldata": fold(extra)})
        for name in _RESOURCE_COLUMNS:
            columns[name][row] = _shared(record[name], share)
    return columns


def _risks(raw: CodedField) -> dict[str, np.ndarray]:
    """`risk_columns` once per distinct raw risk text (`raw_texts`); none for the records without a risk."""
    codes, risks = raw_texts(raw)
    lists: dict[tuple[str, ...], list[str]] = {}
    levels, factors = [], []
    for risk in risks:
        if risk is None:
            columns = {"risk_level": None, "risk_factors": _EMPTY}
        elif type(risk) is not dict or not risk.keys() <= _RISK:
            raise NotPlain
        else:
            columns = risk_columns({"level": risk.get("level"), "riskfactors": risk.get("riskFactors")})
        levels.append(columns["risk_level"])
        factors.append(lists.setdefault(tuple(columns["risk_factors"]), columns["risk_factors"]))
    return {"risk_level": objects(levels)[codes], "risk_factors": objects(factors)[codes]}


# ---------------------------------------------------------------- the table

def _frame(pieces: list[dict[str, np.ndarray]]) -> pd.DataFrame:
    """The contract's frame from the chunks' object arrays (each column concatenated, then typed once)."""
    rows = sum(len(piece["assessment_id"]) for piece in pieces)
    data = {}
    for column in schema.ASSESSMENTS.columns:
        values = np.concatenate([piece.pop(column.name) for piece in pieces]) if pieces else objects([])
        data[column.name] = typed(values, column.dtype)
    return pd.DataFrame(data, index=pd.RangeIndex(rows), copy=False)


def typed(values: np.ndarray, dtype: str) -> pd.Series:
    """A column as `schema.Table.from_columns` types it. Strings are already shared and lists already lists; times
    are converted once per distinct text."""
    if dtype == schema.STRING:
        return pd.Series(values, dtype="string")
    if dtype == schema.LIST:
        return pd.Series(values, dtype="object")
    if dtype == schema.TIME:
        codes, uniques = pd.factorize(values)
        single = schema.Table("t", "", (schema.Column("t", dtype, ""),))
        return pd.Series(single.from_columns({"t": uniques.tolist()})["t"].array.take(codes, allow_fill=True))
    return schema.Table("t", "", (schema.Column("t", dtype, ""),)).from_columns({"t": values.tolist()})["t"]
