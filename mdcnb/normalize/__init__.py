"""Normalisation: raw records (ARM list items, Resource Graph rows) -> rows of the contracts in `mdcnb.core.schema`.

One function per record type lives in `inventory` (subscriptions, connectors, pricings, resources) and
`posture` (assessments, secure scores, compliance),
`governance` (governance assignments, policy exemptions). `normalise_dataset(dir)` streams every record file of a
dataset through them (`apply` does it for any (location, record) pairs): a record that cannot be read, or
repeats an id already read, becomes a row of the `skips` table with its file, line and reason; it is never
dropped silently and never stops the others.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mdcnb.core import schema
from mdcnb.core.gc import gc_paused
from mdcnb.normalize import (
    assessment_columns,
    compliance_columns,
    governance,
    inventory,
    posture,
    pricing_columns,
    resource_columns,
    score_columns,
)
from mdcnb.normalize.chunked import PerRow, column_key
from mdcnb.normalize.common import LOWER_ID, RecordError, fold, lower
from mdcnb.normalize.inventory import Rows
from mdcnb.sources.dataset import Skip, existing_record_path, iter_records, record_path

Normaliser = Callable[[dict[str, Any]], Rows]
Coded = tuple[np.ndarray, np.ndarray]  # (codes, distinct values) of one column; code -1 is null
# table -> text column -> its codes into its distinct texts, as a normaliser built the column: the table cache writes
# them as they are instead of coding the column again
Codes = dict[str, dict[str, Coded]]

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
    "governanceassignments": governance.governance_assignment,
    "policyexemptions": governance.policy_exemption,
}

# Record types read chunk by chunk where plain (`compliance_columns`, `resource_columns`, `score_columns`,
# `pricing_columns`; the assessments have their own pipeline): the tables (the first one's columns are named as they
# are, another's `table.column`, see `_per_row`) and the reader of each, which gives those tables.
COLUMNAR = {**{kind.record_type: ((kind.table,), functools.partial(compliance_columns.normalise, kind=kind))
               for kind in compliance_columns.KINDS.values()},
            resource_columns.RECORD_TYPE: (("resources",), resource_columns.normalise),
            score_columns.RECORD_TYPE: (("score_controls",), score_columns.normalise),
            pricing_columns.RECORD_TYPE: (pricing_columns.TABLES, pricing_columns.normalise)}


@dataclass
class Normalised:
    """Column values per table (accumulated row by row, so no row dict outlives its record) and the skips."""

    columns: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    skips: list[Skip] = field(default_factory=list)
    built: dict[str, pd.DataFrame] = field(default_factory=dict)  # tables read column by column, whole
    codes: Codes = field(default_factory=dict)  # of the built tables' text columns joined from codes (`pooled`)

    def add(self, produced: Rows) -> None:
        for table, rows in produced.items():
            columns = self.columns.get(table)
            if columns is None:
                columns = self.columns[table] = {name: [] for name in schema.TABLES[table].names}
            for row in rows:
                for name, values in columns.items():
                    values.append(row.get(name))

    def frames(self) -> dict[str, pd.DataFrame]:
        """One DataFrame per contract (empty ones included), `skips` last. Consumes the accumulated columns."""
        frames = {name: self.built.pop(name) if name in self.built else table.from_columns(self.columns.pop(name, {}))
                  for name, table in schema.TABLES.items() if name != "skips"}
        frames["skips"] = schema.SKIPS.frame(s.as_row() for s in self.skips)
        return frames


def apply(record_type: str, source: str, records: Iterable[tuple[int | str, dict[str, Any]]],
          normaliser: Normaliser, out: Normalised, seen: dict[str, int | str] | None = None) -> None:
    """Normalise (location, record) pairs into `out`: key case folded first, the lower-cased id under `LOWER_ID`.

    Unreadable records and records repeating an id already read (in `seen`, id -> location, when given: the ids of
    earlier parts of the same file) become skips; neither stops the others. A location is a line number or a
    description.
    """
    seen = {} if seen is None else seen
    for location, record in records:
        try:
            record = fold(record)
        except RecordError as exc:
            out.skips.append(Skip(source, _where(location), record_type, str(exc)))
            continue
        record_id = lower(record.get("id"))
        if record_id:
            record[LOWER_ID] = record_id  # one string object for the id, shared by `seen` and the row
            if record_id in seen:
                out.skips.append(Skip(source, _where(location), record_type,
                                      f"duplicate id {record_id} (first read at {_where(seen[record_id])})"))
                continue
        try:
            produced = normaliser(record)
        except (RecordError, TypeError, ValueError, AttributeError) as exc:
            out.skips.append(Skip(source, _where(location), record_type, _reason(exc)))
            continue
        if record_id:
            seen[record_id] = location
        out.add(produced)


def _where(location: int | str) -> str:
    return f"line {location}" if isinstance(location, int) else location


def _reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, RecordError) else f"unreadable record ({type(exc).__name__}: {exc})"


def _metadata_collector(index: dict[str, dict[str, Any]]) -> Normaliser:
    def collect(record: dict[str, Any]) -> Rows:
        key, props = posture.metadata_entry(record)
        index[key] = props
        return {}
    return collect


def _pipeline(metadata: dict[str, dict[str, Any]]) -> list[tuple[str, Normaliser]]:
    """Record types in reading order (metadata before the assessments that join it) with their normalisers."""
    return [*NORMALISERS.items(), ("assessmentmetadata", _metadata_collector(metadata)),
            ("assessments", posture.AssessmentNormaliser(metadata))]


def normalise_dataset(dataset: Path, *, columnar: bool = True, processes: int | None = None) -> Normalised:
    """Normalise a dataset directory, streaming each file (memory holds rows, never all raw records).

    Assessments (`assessment_columns`) and the record types `COLUMNAR` names are read chunk by chunk;
    `columnar=False` reads them record by record, the reference those paths are tested against, in this process. A
    big dataset is read by `processes` worker processes (`pooled`: None means `$MDCNB_LOAD_PROCESSES` or the
    cores), into the same tables.
    """
    from mdcnb.normalize import pooled  # it builds on this module

    with gc_paused():
        if columnar and (processes := pooled.processes_for(dataset, processes)) > 1:
            out = pooled.normalise(dataset, processes)
            if out is not None:
                return out
        out = Normalised()
        _normalise_files(dataset, out, columnar)
    return out


def _source(dataset: Path, record_type: str) -> str:
    """The file a record type's skips name."""
    return str(existing_record_path(dataset, record_type) or record_path(dataset, record_type))


def _normalise_files(dataset: Path, out: Normalised, columnar: bool) -> None:
    for record_type, normaliser in _pipeline({}):
        source = _source(dataset, record_type)
        if isinstance(normaliser, posture.AssessmentNormaliser):
            out.built[record_type] = assessment_columns.normalise_assessments(
                dataset, normaliser, out.skips, _per_row(record_type, source, normaliser, out.skips),
                columnar=columnar)
            continue
        normalise_type(dataset, record_type, normaliser, out, columnar)


def normalise_type(dataset: Path, record_type: str, normaliser: Normaliser, out: Normalised,
                   columnar: bool = True) -> None:
    """One record type (not the assessments) into `out`: those `COLUMNAR` names chunk by chunk unless not
    `columnar`, the others record by record."""
    source = _source(dataset, record_type)
    reader = COLUMNAR.get(record_type)
    if reader is not None and columnar:
        tables, normalise = reader
        out.built.update(normalise(dataset, out.skips, _per_row(record_type, source, normaliser, out.skips, tables)))
        return
    apply(record_type, source, iter_records(dataset, record_type, out.skips), normaliser, out)


def _per_row(record_type: str, source: str, normaliser: Normaliser, skips: list[Skip],
             tables: tuple[str, ...] | None = None) -> PerRow:
    """The per-row path for the parts of a file a columnar reader leaves to it: `apply`, the rows of its `tables` (the
    record type's name when None) as columns, those of the first table by name, those of another as `table.column`
    (`chunked.frame` reads them so)."""
    tables = tables or (record_type,)

    def normalise(records: Iterable[tuple[int, dict[str, Any]]], seen: dict[str, int | str]) -> dict[str, list[Any]]:
        part = Normalised(skips=skips)
        apply(record_type, source, records, normaliser, part, seen)
        return {column_key(table, name, tables): part.columns.get(table, {}).get(name, [])
                for table in tables for name in schema.TABLES[table].names}
    return normalise
