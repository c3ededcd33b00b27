"""Assessments normalised column by column: the rows of `posture.AssessmentNormaliser`, with a few Python steps per
distinct value instead of a few dozen per record.

A big tenant holds a million assessments of a few hundred recommendations, some thousand resources and dates. The
records are read in chunks; each field of a chunk becomes integer codes into its distinct values
(`pandas.factorize`), every derived column (lower-cased ids, canonical states, the assessed resource's columns, the
joined metadata) is computed once per distinct value, or distinct combination of values, by the per-row path's own
functions, and spread back to the rows by the codes. Equal strings end up as one object.

Only a chunk whose every record has a plain shape takes this path: each key that is read spelled as the REST API or
Resource Graph spells it, text where text is read, nesting shallow enough for `fold`, no id read before and no
record the per-row path would skip. Any other chunk goes record by record through the per-row path (`PerRow`), so
odd input gives the same rows and the same skips in the same order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mdcnb.core import schema
from mdcnb.normalize.common import MAX_DEPTH, RecordError, fold, last_segment, lower, subscription_of, text
from mdcnb.normalize.posture import AssessmentNormaliser, portal_link, resource_columns, risk_columns, status_code
from mdcnb.sources.dataset import Skip, iter_raw_records

CHUNK = 8192
RECORD_TYPE = "assessments"

# The keys a plain record may have, one spelling each: any other key or spelling sends its chunk to the per-row
# path, whose `fold` reads every spelling. `resourceDetails` is spelled in PascalCase (Resource Graph) or camelCase
# (REST); `_DETAILS` are the folded names `resource_columns` reads, in the order of both spellings.
_TOP = frozenset({"id", "name", "type", "tenantId", "kind", "location", "resourceGroup", "subscriptionId",
                  "managedBy", "sku", "plan", "properties", "tags", "identity", "zones", "extendedLocation"})
_PROPS = frozenset({"resourceDetails", "displayName", "status", "links", "metadata", "statusPerInitiative", "risk",
                    "additionalData"})
_NESTED = {"status": frozenset({"code", "cause", "description", "firstEvaluationDate", "statusChangeDate"}),
           "links": frozenset({"azurePortal", "azurePortalUri"}),
           "risk": frozenset({"level", "riskFactors", "attackPathsReferences", "isContextualRisk"})}
_PASCAL = ("Source", "Id", "ConnectorId", "NativeResourceId", "NativeCloudUniqueIdentifier", "AwsResourceId",
           "GcpResourceId", "AzureResourceId", "ResourceName", "ResourceType", "ResourceProvider", "HierarchyId",
           "Region")
_CAMEL = tuple(k[:1].lower() + k[1:] for k in _PASCAL)
_SPELLINGS = (frozenset(_PASCAL), frozenset(_CAMEL))
_META = ("severity", "categories", "threats", "user_impact", "implementation_effort", "preview", "assessment_type",
         "policy_definition_id", "remediation")
_EMPTY: list[str] = []

# (line, record) pairs -> the contract's columns of the rows they give; its skips are appended in line order and
# the ids it reads are entered into the shared `seen` (id -> line), as `mdcnb.normalize.apply` does.
PerRow = Callable[[Iterable[tuple[int, dict[str, Any]]], dict[str, int | str]], dict[str, list[Any]]]


class _NotPlain(Exception):
    """A chunk the columnar path does not read; the per-row path reads it."""


# (line, record, its text, the reader's skips (unreadable lines) between the previous record and this one)
_Item = tuple[int, dict[str, Any], bytes, tuple[Skip, ...]]


def normalise_assessments(dataset: Path, normaliser: AssessmentNormaliser, skips: list[Skip], per_row: PerRow,
                          *, columnar: bool = True) -> pd.DataFrame:
    """The `assessments` table of a dataset; its skips (unreadable lines, skipped records) appended to `skips`.

    `columnar=False` sends every chunk through `per_row` (the reference the columnar path is tested against).
    """
    seen: dict[str, int | str] = {}
    pieces: list[dict[str, np.ndarray]] = []
    reader: list[Skip] = []
    for chunk in _chunks(iter_raw_records(dataset, RECORD_TYPE, reader), reader):
        try:
            if not columnar:
                raise _NotPlain
            columns = _columns(chunk, normaliser, seen)
            for item in chunk:
                skips.extend(item[3])
        except _NotPlain:
            columns = {name: _objects(values) for name, values in per_row(_interleaved(chunk, skips), seen).items()}
        pieces.append(columns)
    skips.extend(reader)  # after the last record: unreadable lines, a file that ends early
    return _frame(pieces)


def _chunks(records: Iterator[tuple[int, dict[str, Any], bytes]], reader: list[Skip]) -> Iterator[list[_Item]]:
    chunk: list[_Item] = []
    for line, record, raw in records:
        chunk.append((line, record, raw, tuple(reader) if reader else ()))
        reader.clear()
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _interleaved(chunk: list[_Item], skips: list[Skip]) -> Iterator[tuple[int, dict[str, Any]]]:
    for line, record, _, before in chunk:
        skips.extend(before)
        yield line, record


def _objects(values: Sequence[Any]) -> np.ndarray:
    return np.fromiter(values, dtype=object, count=len(values))


# ---------------------------------------------------------------- one chunk, column by column

def _columns(chunk: list[_Item], normaliser: AssessmentNormaliser, seen: dict[str, int | str]) -> dict[str, Any]:
    """The contract's columns of a plain chunk (object arrays), its ids entered into `seen`; `_NotPlain` otherwise."""
    props = [_plain_properties(record, raw) for _, record, raw, _ in chunk]
    share = normaliser.share
    try:
        ids = [item[1].get("id") for item in chunk]
        if not all(type(i) is str for i in ids):
            raise _NotPlain
        assessment_id = _objects([i.strip().lower() or None for i in ids])  # `lower`, once per row (ids are unique)
        if pd.isna(assessment_id).any() or len(set(assessment_id.tolist())) < len(chunk) \
                or not seen.keys().isdisjoint(assessment_id):
            raise _NotPlain  # a missing or repeated id: the per-row path says which
        key = _filled(_Codes([item[1].get("name") for item in chunk]).spread(lower, share), assessment_id,
                      lambda aid: share(lower(last_segment(aid))))
        meta = _metadata(key, props, normaliser)
        columns = {
            "assessment_id": assessment_id,
            "assessment_key": key,
            "subscription_id": _filled(_Codes([item[1].get("subscriptionId") for item in chunk]).spread(lower, share),
                                       assessment_id, lambda aid: share(subscription_of(aid))),
            **_resource(props, assessment_id, share),
            "display_name": _or(_Codes([p.get("displayName") for p in props]).spread(text, share),
                                meta.pop("metadata_display_name")),
            **_status(props, share),
            "portal_link": _portal_links(props, share),
            **_risks(props),
            **meta,
        }
    except (RecordError, TypeError, ValueError, AttributeError):
        raise _NotPlain from None  # a record the per-row path skips, with its reason
    seen.update(zip(assessment_id.tolist(), (item[0] for item in chunk), strict=True))
    return columns


def _plain_properties(record: dict[str, Any], raw: bytes) -> dict[str, Any]:
    """The `properties` of a plain record; `_NotPlain` for a record whose nesting `fold` may refuse or with a key
    that is not read as spelled."""
    if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH or not record.keys() <= _TOP:
        raise _NotPlain
    props = record.get("properties")
    if type(props) is not dict or not props.keys() <= _PROPS:
        raise _NotPlain
    return props


def _items(value: Any) -> tuple[tuple[str, Any], ...]:
    """A nested object as a hashable value (codes are taken over it); none for null or empty."""
    if type(value) is dict:
        return tuple(value.items())
    if value:
        raise _NotPlain
    return ()


def _plain(items: tuple[tuple[str, Any], ...], *spellings: frozenset[str]) -> dict[str, Any]:
    """A distinct nested object whose keys are all of one spelling and whose values are text or null."""
    value = dict(items)
    if not any(value.keys() <= keys for keys in spellings) \
            or not all(v is None or type(v) is str for v in value.values()):
        raise _NotPlain
    return value


def _nested(props: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """The object `name` of each record's properties (empty when null); `_NotPlain` unless each is an object with
    keys as spelled."""
    values = [p.get(name) or _NO_OBJECT for p in props]
    keys = _NESTED[name]
    if not all(type(v) is dict and v.keys() <= keys for v in values):
        raise _NotPlain
    return values


_NO_OBJECT: dict[str, Any] = {}


def _status(props: list[dict[str, Any]], share: Callable[[Any], Any]) -> dict[str, np.ndarray]:
    status = _nested(props, "status")
    return {"status": _Codes([s.get("code") for s in status]).spread(status_code),
            "cause": _Codes([s.get("cause") for s in status]).spread(text, share),
            "status_description": _Codes([s.get("description") for s in status]).spread(text, share),
            "first_evaluation": _Codes([s.get("firstEvaluationDate") for s in status]).spread(text, share),
            "status_change": _Codes([s.get("statusChangeDate") for s in status]).spread(text, share)}


def _portal_links(props: list[dict[str, Any]], share: Callable[[Any], Any]) -> np.ndarray:
    links = _nested(props, "links")
    return _spread(lambda portal, uri: _shared(portal_link({"azurePortal": portal, "azurePortalUri": uri}), share),
                   _Codes([link.get("azurePortal") for link in links]),
                   _Codes([link.get("azurePortalUri") for link in links]))


class _Codes:
    """One field of a chunk as codes into its distinct values (-1: null); `_NotPlain` if a value is not of `kind`
    (text, or `tuple` for a nested object from `_items`)."""

    def __init__(self, values: Sequence[Any], kind: type = str) -> None:
        try:
            self.codes, uniques = pd.factorize(_objects(values))
        except TypeError:  # an object or a list where text belongs
            raise _NotPlain from None
        self.uniques: list[Any] = uniques.tolist()
        if any(type(u) is not kind for u in self.uniques):
            raise _NotPlain

    def value(self, row: int) -> Any:
        code = self.codes[row]
        return self.uniques[code] if code >= 0 else None

    def spread(self, fn: Callable[[Any], Any], share: Callable[[Any], Any] | None = None) -> np.ndarray:
        return _spread(lambda value: _shared(fn(value), share), self)


def _shared(value: Any, share: Callable[[Any], Any] | None) -> Any:
    return share(value) if share is not None and type(value) is str else value


def _combined(columns: Sequence[_Codes], rows: int) -> tuple[np.ndarray, np.ndarray]:
    """(combination code of each row, first row of each combination) over the columns' codes."""
    key = np.zeros(rows, dtype=np.int64)
    first = np.zeros(min(rows, 1), dtype=np.int64)
    for column in columns:
        if column.uniques or not len(first):  # an all-null column distinguishes no rows
            key = key * (len(column.uniques) + 1) + (column.codes + 1)
            _, first, key = np.unique(key, return_index=True, return_inverse=True)
    return key, first


def _spread(fn: Callable[..., Any], *columns: _Codes) -> np.ndarray:
    """`fn` of each row's values, called once per distinct combination of them (an object array)."""
    key, first = _combined(columns, len(columns[0].codes))
    return _objects([fn(*(column.value(row) for column in columns)) for row in first.tolist()])[key]


def _fields(fn: Callable[[Any], dict[str, Any]], names: Sequence[str], column: _Codes,
            share: Callable[[Any], Any]) -> dict[str, np.ndarray]:
    """The columns `names` of `fn`'s dict, called once per distinct value of `column`."""
    key, first = _combined([column], len(column.codes))
    results = [fn(column.value(row)) for row in first.tolist()]
    return {name: _objects([_shared(r[name], share) for r in results])[key] for name in names}


def _filled(values: np.ndarray, assessment_id: np.ndarray, fallback: Callable[[str], Any]) -> np.ndarray:
    """`values`, with `fallback(assessment id)` for the rows where it is null."""
    for row in np.flatnonzero(pd.isna(values)).tolist():
        values[row] = fallback(assessment_id[row])
    return values


def _or(values: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    missing = pd.isna(values)
    values[missing] = fallback[missing]
    return values


def _metadata(key: np.ndarray, props: list[dict[str, Any]], normaliser: AssessmentNormaliser) -> dict[str, Any]:
    """The metadata columns (`metadata_display_name` among them) joined per key, the record's own metadata deciding
    for a key met first (as in the per-row path: the first record of a key decides)."""
    keys = _Codes(key.tolist())
    code, first = _combined([keys], len(key))
    metas = [normaliser.metadata_columns(keys.value(row), props[row].get("metadata")) for row in first.tolist()]
    return {name: _objects([m[name] for m in metas])[code] for name in ("metadata_display_name", *_META)}


_RESOURCE_COLUMNS = ("environment", "resource_id", "resource_name", "resource_type", "native_resource_id",
                     "connector_id", "hierarchy_id", "region")


def _resource(props: list[dict[str, Any]], assessment_id: np.ndarray,
              share: Callable[[Any], Any]) -> dict[str, np.ndarray]:
    """`resource_columns` once per distinct `resourceDetails`; per record where it needs the assessment id (no
    resource id given) or `additionalData` (which may name the resource type)."""
    details = _Codes([_items(p.get("resourceDetails")) for p in props], tuple)

    def distinct(items: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
        folded = {name.lower(): value for name, value in _plain(items, *_SPELLINGS).items()}
        try:
            return resource_columns("", folded, {})
        except RecordError:
            return dict.fromkeys(_RESOURCE_COLUMNS)  # no resource id without the assessment's own id: per row

    columns = _fields(distinct, _RESOURCE_COLUMNS, details, share)
    lonely = pd.isna(columns["resource_id"]) | np.fromiter(("additionalData" in p for p in props), bool, len(props))
    for row in np.flatnonzero(lonely).tolist():
        extra = props[row].get("additionalData")
        folded = {name.lower(): value for name, value in dict(details.value(row)).items()}
        own = resource_columns(assessment_id[row], folded, {"additionaldata": fold(extra)})
        for name in _RESOURCE_COLUMNS:
            columns[name][row] = _shared(own[name], share)
    return columns


def _risks(props: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """`risk_columns` of the records that carry a risk (a few); the others have none."""
    level = np.full(len(props), None, dtype=object)
    factors = _objects([_EMPTY] * len(props))
    lists: dict[tuple[str, ...], list[str]] = {}
    for row, p in enumerate(props):
        risk = p.get("risk")
        if risk is not None:
            if type(risk) is not dict or not risk.keys() <= _NESTED["risk"]:
                raise _NotPlain
            columns = risk_columns({"level": risk.get("level"), "riskfactors": risk.get("riskFactors")})
            level[row] = columns["risk_level"]
            factors[row] = lists.setdefault(tuple(columns["risk_factors"]), columns["risk_factors"])
    return {"risk_level": level, "risk_factors": factors}


# ---------------------------------------------------------------- the table

def _frame(pieces: list[dict[str, np.ndarray]]) -> pd.DataFrame:
    """The contract's frame from the chunks' object arrays (each column concatenated, then typed once)."""
    rows = sum(len(piece["assessment_id"]) for piece in pieces)
    data = {}
    for column in schema.ASSESSMENTS.columns:
        values = np.concatenate([piece.pop(column.name) for piece in pieces]) if pieces else _objects([])
        data[column.name] = _typed(values, column.dtype)
    return pd.DataFrame(data, index=pd.RangeIndex(rows))


def _typed(values: np.ndarray, dtype: str) -> pd.Series:
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
