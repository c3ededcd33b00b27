"""Normalisation: raw records (ARM list items, Resource Graph rows) -> rows of the contracts in `mdcnb.schema`.

One function per record type lives in `inventory` (subscriptions, connectors, pricings, resources) and
`posture` (assessments, secure scores, compliance). `normalise(raw)` applies them to every record type of a
dataset: a record that cannot be read, or repeats an id already read, becomes a row of the `skips` table
with its file, line and reason; it is never dropped silently and never stops the others.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from mdcnb import schema
from mdcnb.dataset import RawRecords, Skip
from mdcnb.normalize import inventory, posture
from mdcnb.normalize.common import RecordError, lower
from mdcnb.normalize.common import field as json_field
from mdcnb.normalize.inventory import Rows

Normaliser = Callable[[dict[str, Any]], Rows]

NORMALISERS: dict[str, Normaliser] = {
    "subscriptions": inventory.subscription,
    "securityconnectors": inventory.connector,
    "pricings": inventory.pricing,
    "resources": inventory.resource,
    "securescores": posture.secure_score,
    "securescorecontrols": posture.score_control,
    "regulatorycompliancestandards": posture.compliance_standard,
    "regulatorycompliancecontrols": posture.compliance_control,
    "regulatorycomplianceassessments": posture.compliance_assessment,
}


@dataclass
class Normalised:
    """Rows per table name, and the records that could not be read."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    skips: list[Skip] = field(default_factory=list)

    def add(self, produced: Rows) -> None:
        for table, rows in produced.items():
            self.rows.setdefault(table, []).extend(rows)

    def frames(self) -> dict[str, pd.DataFrame]:
        """One DataFrame per contract (empty ones included), `skips` last."""
        frames = {name: table.frame(self.rows.get(name, ())) for name, table in schema.TABLES.items()
                  if name != "skips"}
        frames["skips"] = schema.SKIPS.frame(s.as_row() for s in self.skips)
        return frames


def apply(raw: RawRecords, normaliser: Normaliser, out: Normalised) -> None:
    """Normalise every record of `raw` into `out`; unreadable and repeated records become skips."""
    out.skips.extend(raw.skips)
    seen: dict[str, str] = {}
    for index, record in enumerate(raw.records):
        where = raw.location(index)
        record_id = lower(json_field(record, "id"))
        if record_id and record_id in seen:
            out.skips.append(Skip(raw.source, where, raw.record_type,
                                  f"duplicate id {record_id} (first read at {seen[record_id]})"))
            continue
        try:
            produced = normaliser(record)
        except (RecordError, TypeError, ValueError, AttributeError) as exc:
            out.skips.append(Skip(raw.source, where, raw.record_type, _reason(exc)))
            continue
        if record_id:
            seen[record_id] = where
        out.add(produced)


def _reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, RecordError) else f"unreadable record ({type(exc).__name__}: {exc})"


def metadata_index(raw: RawRecords, out: Normalised) -> dict[str, dict[str, Any]]:
    """Assessment metadata by assessment key; unreadable entries become skips in `out`."""
    index: dict[str, dict[str, Any]] = {}

    def collect(record: dict[str, Any]) -> Rows:
        key, props = posture.metadata_entry(record)
        index[key] = props
        return {}

    apply(raw, collect, out)
    return index


def normalise(raw: Mapping[str, RawRecords]) -> Normalised:
    """Normalise the raw records of a dataset (record type -> RawRecords); missing types are empty."""
    out = Normalised()
    for record_type, normaliser in NORMALISERS.items():
        if record_type in raw:
            apply(raw[record_type], normaliser, out)
    metadata = metadata_index(raw["assessmentmetadata"], out) if "assessmentmetadata" in raw else {}
    if "assessments" in raw:
        apply(raw["assessments"], lambda record: posture.assessment(record, metadata), out)
    return out
