"""Regulatory compliance controls and assessments normalised chunk by chunk from msgspec's typed records: the rows of
`posture.compliance_control` / `posture.compliance_assessment`, without a dict per JSON object, key folding or a
lookup per field per record.

A big tenant holds some hundred thousand of each, a few kilobytes of JSON apiece, of which the normaliser reads the
id and a few properties. A line of the plain shape (`Record`: every key spelled as the REST API or Resource Graph
spells it, text where text is read, whole numbers where counts are read, the keys not read text or null) is decoded
by msgspec; msgspec refuses what orjson refuses in every part it types (malformed JSON, text that is not UTF-8, lone
surrogates). A chunk of plain records with new, distinct ids and no record the per-row path would skip becomes
columns here (an id's scope cut per record, the rest of it parsed by the per-row path's own `compliance_id` once per
distinct rest, `_parsed_ids`; each other text and count converted once per distinct value); any other chunk goes
record by record through the per-row path (`chunked`), so odd input gives the same rows and the same skips in the
same order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pandas as pd

from mdcnb.core import schema
from mdcnb.normalize.chunked import Envelope, Item, NotPlain, PerRow, each, frame, read_chunks
from mdcnb.normalize.common import RecordError, canonical, subscription_of, text, to_int
from mdcnb.normalize.posture import COMPLIANCE_PROVIDER, COMPLIANCE_STATES, compliance_id
from mdcnb.sources.dataset import Skip


class Properties(msgspec.Struct, forbid_unknown_fields=True):
    description: str | None = None
    state: str | None = None
    assessmentType: str | None = None
    assessmentDetailsLink: str | None = None  # the rest: not read
    scope: str | None = None
    passedResources: int | None = None
    failedResources: int | None = None
    skippedResources: int | None = None
    passedAssessments: int | None = None
    failedAssessments: int | None = None
    skippedAssessments: int | None = None
    unsupportedAssessments: int | None = None


class Record(Envelope, forbid_unknown_fields=True):
    id: str
    properties: Properties | None = None


_DECODER = msgspec.json.Decoder(Record)


def decoded(line: bytes) -> Record | None:
    """The record of a line of the plain shape; None otherwise."""
    try:
        return _DECODER.decode(line)
    except (msgspec.MsgspecError, ValueError, RecursionError):
        return None


@dataclass(frozen=True)
class Kind:
    """One compliance record type: its table, the levels of its id and the properties it reads (column, key)."""

    record_type: str
    table: str
    depth: int
    texts: tuple[tuple[str, str], ...]
    counts: tuple[tuple[str, str], ...]


KINDS = {kind.record_type: kind for kind in (
    Kind("regulatorycompliancecontrols", "compliance_controls", 2, (("description", "description"),),
         (("passed_assessments", "passedAssessments"), ("failed_assessments", "failedAssessments"),
          ("skipped_assessments", "skippedAssessments"), ("unsupported_assessments", "unsupportedAssessments"))),
    Kind("regulatorycomplianceassessments", "compliance_assessments", 3,
         (("description", "description"), ("assessment_type", "assessmentType")),
         (("passed_resources", "passedResources"), ("failed_resources", "failedResources"),
          ("skipped_resources", "skippedResources"))),
)}


def normalise(dataset: Path, skips: list[Skip], per_row: PerRow, *, kind: Kind) -> dict[str, pd.DataFrame]:
    """The table of one compliance record type; its skips (unreadable lines, skipped records) appended to `skips`."""
    names: dict[str, list[str]] = {}  # the names of each distinct part after the scope, kept across chunks
    pieces, _ = read_chunks(dataset, kind.record_type, decoded,
                            lambda chunk, seen: _columns(kind, chunk, seen, names), skips, per_row)
    return {kind.table: frame(schema.TABLES[kind.table], pieces)}


_NO_PROPERTIES = Properties()


def _columns(kind: Kind, chunk: list[Item], seen: dict[str, int | str], named: dict[str, list[str]]
             ) -> dict[str, list[Any]]:
    """The columns of a plain chunk, its ids entered into `seen` (`named`: the names of the ids' parts read before);
    `NotPlain` otherwise."""
    records: list[Record] = [item[1] for item in chunk]
    if not all(type(record) is Record for record in records):
        raise NotPlain
    ids = [record.id.strip().lower() for record in records]  # `lower` of each id, as `apply` reads it
    if not all(ids) or len(set(ids)) < len(ids) or not seen.keys().isdisjoint(ids):
        raise NotPlain  # a missing or repeated id: the per-row path says which
    props = [record.properties or _NO_PROPERTIES for record in records]
    try:
        scopes, parsed = _parsed_ids([record.id for record in records], ids, kind.depth, named)
        columns: dict[str, list[Any]] = {
            "scope_id": scopes,
            "subscription_id": each(scopes, subscription_of),
            "standard": [names[0] for names in parsed],
            "control": [names[1] for names in parsed],
        }
        if kind.depth == 3:
            columns["assessment_key"] = [names[2].lower() for names in parsed]
        for column, key in kind.texts:
            columns[column] = each([getattr(p, key) for p in props], text)
        columns["state"] = each([p.state for p in props], lambda state: canonical(state, COMPLIANCE_STATES))
        for column, key in kind.counts:
            columns[column] = each([getattr(p, key) for p in props], to_int)  # whole numbers (msgspec: no bool)
    except RecordError:
        raise NotPlain from None  # a record the per-row path skips, with its reason
    seen.update(zip(ids, (item[0] for item in chunk), strict=True))
    return columns


_MARKER = f"/providers/{COMPLIANCE_PROVIDER}/"
_MARKER_LOWER = _MARKER.lower()


def _parsed_ids(raw: list[str], lowered: list[str], depth: int, named: dict[str, list[str]]
                ) -> tuple[list[str], list[list[str]]]:
    """The scope ids and the names of a chunk's ids (`raw`, and each stripped and lower-cased), as `compliance_id`
    gives them, with `compliance_id` called once per distinct part after the scope (a standard, control and
    assessment repeat across subscriptions; `named` keeps them). An id's scope ends where its last `_MARKER` (any
    case) starts; its names are those of `_MARKER` and the rest, since no marker starts later. Only ASCII ids, whose
    lower case keeps every character in its place; `NotPlain` otherwise, and a RecordError where `compliance_id`
    gives one."""
    stripped = [value.strip() for value in raw]  # as `text` reads the id
    if not all(map(str.isascii, stripped)):
        raise NotPlain
    starts = [value.rfind(_MARKER_LOWER) for value in lowered]
    if min(starts, default=0) < 0:
        raise NotPlain  # no compliance id: the per-row path says so
    rests = [value[start + len(_MARKER):] for value, start in zip(stripped, starts, strict=True)]
    return ([value[:start] for value, start in zip(lowered, starts, strict=True)],
            each(rests, lambda rest: compliance_id(_MARKER + rest, depth)[1], named))
