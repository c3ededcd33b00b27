"""Regulatory compliance roll-ups: passed / failed / skipped / unsupported controls per standard and scope,
pass rate = passed / (passed + failed) (NaN when both are 0), and the failing controls with the failing
assessments and resources behind them. States are compared case-insensitively. Pure functions on tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise

import numpy as np
import pandas as pd

from mdcnb.analysis.columns import casefolded
from mdcnb.tables import Tables

STATES = ("Passed", "Failed", "Skipped", "Unsupported")
COUNT_COLUMNS = ["passed_controls", "failed_controls", "skipped_controls", "unsupported_controls"]


def pass_rate(passed: pd.Series | float, failed: pd.Series | float) -> pd.Series | float:
    """passed / (passed + failed); NaN where both are 0 (a standard with nothing assessed has no rate)."""
    passed_values = np.asarray(passed, dtype=float)
    decided = passed_values + np.asarray(failed, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(decided > 0, passed_values / np.where(decided > 0, decided, 1), np.nan)
    return pd.Series(rate, index=passed.index) if isinstance(passed, pd.Series) else float(rate)


def _select(frame: pd.DataFrame, subscriptions: Iterable[str], standards: Iterable[str]) -> pd.DataFrame:
    subscriptions = {s.lower() for s in subscriptions}
    standards = {s.casefold() for s in standards}
    keep = pd.Series(True, index=frame.index)
    if subscriptions:
        keep &= frame["subscription_id"].isin(subscriptions)
    if standards:
        keep &= frame["standard"].str.casefold().isin(standards)
    return frame[keep.fillna(False)]


def select(frame: pd.DataFrame, *, subscriptions: Iterable[str] = (), standards: Iterable[str] = ()) -> pd.DataFrame:
    """The rows of a compliance table (columns subscription_id, standard) of the subscriptions and standards given
    (empty = all), numbered from 0: a selection of `failing_controls` of every scope is that of the selection."""
    return _select(frame, subscriptions, standards).reset_index(drop=True)


def standards(tables: Tables, *, subscriptions: Iterable[str] = (), standards: Iterable[str] = ()) -> pd.DataFrame:
    """One row per standard and scope, MDC's stored control counts and the pass rate (0..1)."""
    frame = _select(tables.compliance_standards, subscriptions, standards)
    out = frame[["scope_id", "subscription_id", "standard", "state", *COUNT_COLUMNS]].copy()
    out[COUNT_COLUMNS] = out[COUNT_COLUMNS].fillna(0)
    out["pass_rate"] = pass_rate(out["passed_controls"], out["failed_controls"])
    return out.sort_values(["standard", "scope_id"]).reset_index(drop=True)


def rollup(standard_table: pd.DataFrame) -> pd.DataFrame:
    """Per standard across scopes: summed control counts, number of scopes, pass rate of the sums."""
    if standard_table.empty:
        return pd.DataFrame(columns=["standard", "scopes", *COUNT_COLUMNS, "pass_rate"])
    out = standard_table.groupby("standard", sort=True).agg(
        scopes=("scope_id", "nunique"), **{c: (c, "sum") for c in COUNT_COLUMNS}).reset_index()
    out["pass_rate"] = pass_rate(out["passed_controls"], out["failed_controls"])
    return out


def control_counts(tables: Tables, *, subscriptions: Iterable[str] = (),
                   standards: Iterable[str] = ()) -> pd.DataFrame:
    """Control counts per standard and scope recounted from the controls' states (case-insensitive)."""
    frame = _select(tables.compliance_controls, subscriptions, standards)
    state = frame["state"].fillna("").str.casefold()
    counts = pd.DataFrame({"scope_id": frame["scope_id"], "subscription_id": frame["subscription_id"],
                           "standard": frame["standard"]})
    for name, column in zip(STATES, COUNT_COLUMNS, strict=True):
        counts[column] = (state == name.casefold()).astype(int)
    out = counts.groupby(["scope_id", "subscription_id", "standard"], sort=True)[COUNT_COLUMNS].sum().reset_index()
    out["pass_rate"] = pass_rate(out["passed_controls"], out["failed_controls"])
    return out


def unhealthy_resources(tables: Tables) -> pd.DataFrame:
    """Per subscription and assessment key, the unhealthy resource ids (sorted, each once) in column `resources`:
    what `failing_controls` attaches to each failed assessment. It does not depend on the selection, so a caller
    that asks for failing controls several times makes it once and passes it.

    Sorted and grouped on integer codes (each column's codes in the order of its values, a missing resource id
    last): the lists are slices of the sorted ids, not a Python call per group (67,000 groups at 2,000
    subscriptions)."""
    assessed = tables.assessments
    keys = ["subscription_id", "assessment_key"]
    unhealthy = assessed.loc[casefolded(assessed["status"]) == "unhealthy", [*keys, "resource_id"]]
    unhealthy = unhealthy[unhealthy[keys].notna().all(axis=1)]  # a group needs both keys
    codes = [_sorted_codes(unhealthy[c]) for c in [*keys, "resource_id"]]
    order = np.lexsort(codes[::-1])
    codes = [c[order] for c in codes]
    new_key = np.r_[True, (codes[0][1:] != codes[0][:-1]) | (codes[1][1:] != codes[1][:-1])] if len(order) \
        else np.array([], dtype=bool)
    first = new_key | np.r_[True, codes[2][1:] != codes[2][:-1]][:len(order)]  # each resource once per group
    rows = order[first]
    starts = np.flatnonzero(new_key[first])
    ids = unhealthy["resource_id"].to_numpy(dtype=object)[rows].tolist()
    out = unhealthy[keys].iloc[rows[starts]].reset_index(drop=True)
    bounds = [*starts.tolist(), len(ids)]
    out["resources"] = pd.Series([ids[a:b] for a, b in pairwise(bounds)], dtype=object)
    return out


def _sorted_codes(column: pd.Series) -> np.ndarray:
    """Integer codes ordered as the column's values sort, a missing value after every other."""
    codes, distinct = pd.factorize(column, sort=True)
    return np.where(codes < 0, len(distinct), codes)


def failing_controls(tables: Tables, *, subscriptions: Iterable[str] = (), standards: Iterable[str] = (),
                     resources: pd.DataFrame | None = None) -> pd.DataFrame:
    """Failed controls with their failed assessments and the unhealthy resources behind each.

    Joins compliance assessments to assessments by assessment key and subscription; one row per failed
    (scope, standard, control, assessment), `resources` listing the unhealthy resource ids (sorted).
    `resources` is `unhealthy_resources(tables)` when the caller has it already.
    """
    controls = _select(tables.compliance_controls, subscriptions, standards)
    failed_controls = controls[controls["state"].fillna("").str.casefold() == "failed"]
    assessments = tables.compliance_assessments
    failed = assessments[assessments["state"].fillna("").str.casefold() == "failed"]
    rows = failed_controls[["scope_id", "subscription_id", "standard", "control", "description"]].rename(
        columns={"description": "control_description"}).merge(
        failed[["scope_id", "standard", "control", "assessment_key", "description", "failed_resources"]],
        on=["scope_id", "standard", "control"], how="left")
    resources = unhealthy_resources(tables) if resources is None else resources
    rows = rows.merge(resources, on=["subscription_id", "assessment_key"], how="left")
    rows["resources"] = [r if isinstance(r, list) else [] for r in rows["resources"]]
    return rows.sort_values(["standard", "control", "scope_id", "assessment_key"]).reset_index(drop=True)
