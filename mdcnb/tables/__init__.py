"""The normalised tables of one dataset, as the analysis and the notebooks receive them.

`load_tables(dataset)` reads a dataset directory (see `mdcnb.sources.dataset`), normalises every record type with
`mdcnb.normalize` and returns a `Tables` whose DataFrames follow the contracts in `mdcnb.core.schema`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import field, fields, make_dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from mdcnb.core import schema
from mdcnb.normalize import Codes, normalise_dataset
from mdcnb.sources.dataset import default_dataset, read_manifest
from mdcnb.tables import cache as table_cache


class _TableAccess:
    """What `Tables` adds to its generated fields: lookup by name, iteration, and a narrowed copy."""

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in schema.TABLES:
            raise KeyError(f"no table {name!r}; tables: {', '.join(schema.TABLES)}")
        return getattr(self, name)

    def items(self) -> list[tuple[str, pd.DataFrame]]:
        return [(f.name, getattr(self, f.name)) for f in fields(self) if f.name in schema.TABLES]

    def only(self, names: Collection[str] | None) -> Tables:
        """These tables with only `names` kept, the others empty (all of them when `names` is None)."""
        if names is None:
            return self
        return replace(self, **{name: schema.TABLES[name].frame() for name in schema.TABLES if name not in names})


# One DataFrame per contract in `mdcnb.core.schema.TABLES` (generated from it: a contract added there is a field
# here), plus the manifest and the directory of the dataset they came from.
Tables = make_dataclass(
    "Tables",
    [*((name, pd.DataFrame, field(default_factory=table.frame)) for name, table in schema.TABLES.items()),
     ("manifest", dict[str, Any], field(default_factory=dict)), ("dataset", Path | None, None)],
    bases=(_TableAccess,))
Tables.__module__ = __name__  # pickled (table cache, snapshot) and shown by this name


def load_tables(dataset: str | Path | None = None, names: Collection[str] | None = None) -> Tables:
    """Read and normalise a dataset directory (None: the embedded sample, see `default_dataset`).

    Records that cannot be read are listed in `tables.skips`; the manifest is attached as `tables.manifest`.
    Big datasets are normalised once and then read from a cache (see `mdcnb.tables.cache`). `names` loads only
    those tables, the others are empty: what a reader of two small tables does, so that it does not hold a big
    tenant's million assessments.
    """
    path = Path(dataset) if dataset is not None else default_dataset()
    if not path.is_dir():
        raise FileNotFoundError(f"dataset directory not found: {path}")
    unknown = sorted(set(names or ()) - set(schema.TABLES))
    if unknown:
        raise KeyError(f"no table {', '.join(map(repr, unknown))}; tables: {', '.join(schema.TABLES)}")
    return table_cache.cached(path, lambda: _normalised_tables(path), names)


def _normalised_tables(path: Path) -> tuple[Tables, Codes]:
    """The tables, and the codes of the text columns the normaliser joined from codes (for the cache's writer)."""
    normalised = normalise_dataset(path)
    frames = normalised.frames()
    _fill_connector_environments(frames)
    _fill_governed_assessments(frames)
    return Tables(**frames, manifest=read_manifest(path), dataset=path), normalised.codes


def _fill_connector_environments(frames: dict[str, pd.DataFrame]) -> None:
    """Connector secure scores that do not state their environment take it from the connector."""
    scores, connectors = frames["secure_scores"], frames["connectors"]
    missing = scores["environment"].isna() & (scores["scope_type"] == "connector")
    if missing.any():
        by_id = connectors.drop_duplicates("connector_id").set_index("connector_id")["environment"]
        scores.loc[missing, "environment"] = scores.loc[missing, "scope_id"].map(by_id)


GOVERNED_COLUMNS = ["status", "risk_level", "severity", "display_name", "resource_name", "environment"]


def _fill_governed_assessments(frames: dict[str, pd.DataFrame]) -> None:
    """Governance assignments carry the status, risk, severity and names of the assessment they govern (ids are
    lower-cased by the normalisers, so the join is case-insensitive)."""
    assigned = frames["governance_assignments"]
    if assigned.empty:
        return
    assessments = frames["assessments"]
    governed = assessments[assessments["assessment_id"].isin(assigned["assessment_id"])]  # not a copy of them all
    by_id = governed.drop_duplicates("assessment_id").set_index("assessment_id")
    for column in GOVERNED_COLUMNS:
        assigned[column] = assigned["assessment_id"].map(by_id[column]).astype("string")

