"""Secure score controls read chunk by chunk: the rows of `posture.score_control`, with the control's definition
folded, and its recommendation keys read, once per distinct definition instead of once per record.

A big tenant holds a score control per control and subscription (some tens of thousands), each carrying the
control's whole definition (`$expand=definition`: its recommendations, a few kilobytes of JSON): folding every
record's keys, that definition most of all, and reading its recommendations is most of what the per-row path costs.
A line is read by orjson, as the per-row path reads it. In a chunk of plain records (`chunked.plain_rows`;
`properties` and its `score` with only the keys `score_control` reads, spelled as the REST API spells them; the
display name text or null) each record is given to `score_control` unfolded, which reads those keys as written; its
definition is folded, and its keys read, once per distinct JSON text. Any other chunk goes record by record through
the per-row path (`chunked`), so odd input gives the same rows and the same skips in the same order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from mdcnb.core import schema
from mdcnb.normalize.chunked import Item, NotPlain, PerRow, each, frame, json_object, plain_rows, read_chunks
from mdcnb.normalize.common import RecordError, field, fold
from mdcnb.normalize.posture import assessment_keys, score_control
from mdcnb.sources.dataset import Skip

RECORD_TYPE = "securescorecontrols"
_PROPERTIES = frozenset({"displayName", "healthyResourceCount", "unhealthyResourceCount", "notApplicableResourceCount",
                         "score", "weight", "definition"})
_SCORE = frozenset({"max", "current", "percentage"})


def normalise(dataset: Path, skips: list[Skip], per_row: PerRow) -> dict[str, pd.DataFrame]:
    """The `score_controls` table; its skips (unreadable lines, skipped records) appended to `skips`."""
    definitions: dict[bytes, tuple[Any, list[str]]] = {}  # each distinct definition read, kept across chunks
    pieces, _ = read_chunks(dataset, RECORD_TYPE, json_object, lambda chunk, seen: _columns(chunk, seen, definitions),
                            skips, per_row)
    return {schema.SCORE_CONTROLS.name: frame(schema.SCORE_CONTROLS, pieces)}


def _columns(chunk: list[Item], seen: dict[str, int | str], read: dict[bytes, tuple[Any, list[str]]]
             ) -> dict[str, list[Any]]:
    """The columns of a plain chunk, its ids entered into `seen` (`read`: the definitions read before); `NotPlain`
    otherwise."""
    records, ids = plain_rows(chunk, seen)
    props = [{} if p is None else p for p in (record.get("properties") for record in records)]
    if not all(type(p) is dict and p.keys() <= _PROPERTIES and _plain_score(p.get("score"))
               and (p.get("displayName") is None or type(p.get("displayName")) is str) for p in props):
        raise NotPlain
    try:
        definitions = each([orjson.dumps(p.get("definition")) for p in props], _definition, read)
        rows = [score_control({**record, "properties": {**p, "definition": definition}}, keys)["score_controls"][0]
                for record, p, (definition, keys) in zip(records, props, definitions, strict=True)]
    except (RecordError, TypeError, ValueError, AttributeError):
        raise NotPlain from None  # a record the per-row path skips, with its reason
    seen.update(zip(ids, (item[0] for item in chunk), strict=True))
    return {name: [row.get(name) for row in rows] for name in schema.SCORE_CONTROLS.names}


def _plain_score(score: Any) -> bool:
    return score is None or (type(score) is dict and score.keys() <= _SCORE)


def _definition(text: bytes) -> tuple[Any, list[str]]:
    """A definition's JSON text, folded, and its recommendation keys (`assessment_keys` of its properties, as
    `score_control` reads them)."""
    definition = fold(orjson.loads(text))
    return definition, assessment_keys(field(definition, "properties", default={}))
