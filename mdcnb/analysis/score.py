"""Secure score exactly as Microsoft Defender for Cloud computes it (reference/azure-api.md §5).

- control: current = max x healthy / (healthy + unhealthy), rounded to 2 dp; N/A resources do not count;
- one scope (subscription or AWS/GCP connector): percentage = sum(control current) / sum(control max);
- several scopes: Microsoft's Resource Graph sample "secure score per management group":
  sum_i round(w_i x current_i / max_i, 2) / sum_i w'_i, where w'_i is the weight with 0 counted as 1 and a
  scope with max 0 adds 0 to the numerator (but its weight to the denominator);
- a control across scopes and its potential increase: the portal's aggregation (impact ratio per scope).

Every function is pure: it takes tables (`mdcnb.tables.Tables` or DataFrames) and returns DataFrames or
numbers. Filters are arguments.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mdcnb.analysis.columns import per_value
from mdcnb.tables import Tables

SCOPE_COLUMNS = ["scope_id", "scope_type", "name", "environment", "subscription_id", "account", "current", "max",
                 "percentage", "weight"]
_STATUS_RANK = {"notapplicable": 0, "healthy": 1, "unhealthy": 2}
# How plotly writes a secure score percentage (the gauge): two decimals, as MDC rounds it and as the measure
# `score.overall` formats it everywhere else.
SCORE_PLOTLY_FORMAT = ".2f"


def control_current(max_score: float, healthy: int, unhealthy: int, decimals: int = 2) -> float:
    """A control's current score: max x healthy / (healthy + unhealthy), 0 when no resource counts."""
    counted = healthy + unhealthy
    return round(max_score * healthy / counted, decimals) if counted else 0.0


def percent(current: Any, maximum: Any) -> Any:
    """current / max x 100 rounded to 2 dp, 0 where max is 0 (scalars or Series)."""
    current, maximum = np.asarray(current, dtype=float), np.asarray(maximum, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.where(maximum > 0, np.round(current / maximum * 100, 2), 0.0)
    return values if values.ndim else float(values)


def effective_weight(weight: pd.Series) -> pd.Series:
    """Scope weights as the denominator of an aggregated score uses them: missing or 0 counts as 1."""
    weight = pd.to_numeric(weight, errors="coerce").fillna(0)
    return weight.where(weight != 0, 1).astype(float)


def aggregate_percentage(current: pd.Series, maximum: pd.Series, weight: pd.Series) -> float:
    """The combined secure score (0-100) of several scopes, as Microsoft's ARG query computes it.

    Numerator term per scope: round(weight x current / max, 2), 0 when max is 0; denominator: the weights
    with 0 counted as 1. NaN when there is no scope.
    """
    if len(current) == 0:
        return float("nan")
    current = pd.to_numeric(current, errors="coerce").astype(float).to_numpy()
    maximum = pd.to_numeric(maximum, errors="coerce").astype(float).to_numpy()
    raw_weight = pd.to_numeric(weight, errors="coerce").fillna(0).astype(float).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(maximum > 0, np.round(raw_weight * current / maximum, 2), 0.0)
    return round(float(terms.sum() / effective_weight(pd.Series(raw_weight)).sum() * 100), 2)


# ---------------------------------------------------------------- scopes

def scopes(tables: Tables, *, environments: Iterable[str] = (), subscriptions: Iterable[str] = (),
           accounts: Iterable[str] = (), score_name: str = "ascScore") -> pd.DataFrame:
    """One row per secure-score scope (subscription or connector) with name, environment, points, percentage.

    Filters (empty = all): `environments` (case-insensitive), `subscriptions` (the scope's subscription; a
    connector's is the one holding it), `accounts` (AWS account ids / GCP projects: restricts connector scopes,
    leaves subscriptions alone).
    """
    scores = tables.secure_scores
    scores = scores[scores["score_name"].str.lower() == score_name.lower()]
    names = pd.concat([
        tables.subscriptions.set_index(
            "/subscriptions/" + tables.subscriptions["subscription_id"])["display_name"],
        tables.connectors.set_index("connector_id")["name"],
    ])
    names = names[~names.index.duplicated()]
    accounts_by_connector = tables.connectors.drop_duplicates("connector_id").set_index("connector_id")["hierarchy_id"]
    out = pd.DataFrame({
        "scope_id": scores["scope_id"],
        "scope_type": scores["scope_type"],
        "name": scores["scope_id"].map(names).astype("string").fillna(scores["subscription_id"]),
        "environment": scores["environment"],
        "subscription_id": scores["subscription_id"],
        "account": scores["scope_id"].map(accounts_by_connector).astype("string"),
        "current": scores["current"],
        "max": scores["max"],
        "percentage": percent(scores["current"], scores["max"]),
        "weight": scores["weight"],
    })
    out = filter_scopes(out, environments=environments, subscriptions=subscriptions, accounts=accounts)
    return out.sort_values(["scope_type", "name"], ascending=[False, True]).reset_index(drop=True)


def filter_scopes(frame: pd.DataFrame, *, environments: Iterable[str] = (), subscriptions: Iterable[str] = (),
                  accounts: Iterable[str] = ()) -> pd.DataFrame:
    """Rows of a scope table (columns environment, subscription_id, scope_type, account) that pass the filters."""
    keep = pd.Series(True, index=frame.index)
    environments = {e.casefold() for e in environments}
    if environments:
        keep &= frame["environment"].fillna("").str.casefold().isin(environments)
    subscriptions = {s.lower() for s in subscriptions}
    if subscriptions:
        keep &= frame["subscription_id"].isin(subscriptions)
    accounts = {str(a) for a in accounts}
    if accounts:
        keep &= (frame["scope_type"] != "connector") | frame["account"].isin(accounts)
    return frame[keep.fillna(False).astype(bool)]


def overall(scope_table: pd.DataFrame) -> dict[str, float]:
    """Overall score of the given scopes: summed points, and the weighted percentage (0-100) MDC shows.

    With several scopes the percentage is not sum(current)/sum(max): each scope counts by its weight.
    """
    return {
        "current": round(float(scope_table["current"].sum()), 2),
        "max": round(float(scope_table["max"].sum()), 2),
        "percentage": aggregate_percentage(scope_table["current"], scope_table["max"], scope_table["weight"]),
    }


# ---------------------------------------------------------------- controls

def _ascscore_controls(tables: Tables, score_name: str = "ascScore") -> pd.DataFrame:
    controls = tables.score_controls
    return controls[controls["score_name"].str.lower() == score_name.lower()]


def controls(tables: Tables, scope_table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Controls across the given scopes (default: all), ranked by potential increase of the combined score.

    Per control, with w_s the scope weight and M_s the scope's max (portal aggregation):
    impact = sum_s w_s x ctlMax_s / M_s, achieved = sum_s w_s x ctlCurrent_s / M_s,
    current = achieved / impact x max, potential_increase = (impact - achieved) / sum_s w'_s x 100
    (percentage points of the combined score; for one scope: (max - current) / M x 100).
    """
    scope_table = scopes(tables) if scope_table is None else scope_table
    joined = _ascscore_controls(tables).merge(
        scope_table[["scope_id", "max", "weight"]].rename(columns={"max": "scope_max", "weight": "scope_weight"}),
        on="scope_id", how="inner")
    if joined.empty:
        return pd.DataFrame(columns=["control_id", "control_name", "max", "current", "healthy", "unhealthy",
                                     "not_applicable", "scopes", "potential_increase"])
    weight = pd.to_numeric(joined["scope_weight"], errors="coerce").fillna(0).astype(float)
    counts = (joined["max"] > 0) & (joined["scope_max"] > 0)
    share = np.where(counts, weight / joined["scope_max"].where(counts, 1), 0.0)
    joined = joined.assign(impact=share * joined["max"], achieved=share * joined["current"],
                           control_max=joined["definition_max"].fillna(joined["max"]))
    grouped = joined.groupby("control_id", sort=False).agg(
        control_name=("control_name", "first"), max=("control_max", "max"), healthy=("healthy", "sum"),
        unhealthy=("unhealthy", "sum"), not_applicable=("not_applicable", "sum"), scopes=("scope_id", "nunique"),
        impact=("impact", "sum"), achieved=("achieved", "sum"))
    denominator = effective_weight(scope_table["weight"]).sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        grouped["current"] = np.where(grouped["impact"] > 0,
                                      np.round(grouped["achieved"] / grouped["impact"] * grouped["max"], 2), 0.0)
    grouped["potential_increase"] = np.round((grouped["impact"] - grouped["achieved"]) / denominator * 100, 2)
    out = grouped.reset_index()[["control_id", "control_name", "max", "current", "healthy", "unhealthy",
                                 "not_applicable", "scopes", "potential_increase"]]
    return out.sort_values(["potential_increase", "control_name"], ascending=[False, True]).reset_index(drop=True)


# ---------------------------------------------------------------- recomputation from the assessments

def assessment_scope(assessments: pd.DataFrame) -> pd.Series:
    """The secure-score scope an assessment counts in: its native connector, else its subscription."""
    subscription_scope = per_value(assessments["subscription_id"], lambda s: "/subscriptions/" + s)
    return assessments["connector_id"].fillna(subscription_scope)


def assessment_counts(tables: Tables) -> pd.DataFrame:
    """Assessments counted per scope (`assessment_scope`), severity and status (column `assessments`): a count of
    assessments under any selection of scopes and severities sums these rows instead of reading every one again."""
    assessed = tables.assessments
    frame = pd.DataFrame({"scope_id": assessment_scope(assessed), "severity": assessed["severity"],
                          "status": assessed["status"]})
    return frame.groupby(["scope_id", "severity", "status"], dropna=False, sort=False).size().rename(
        "assessments").reset_index()


@dataclass(frozen=True)
class ControlResources:
    """Each resource every stored control counts, from the non-preview assessments, as integer codes: built once,
    it is recounted under other statuses (`recompute_controls(..., unhealthy=...)`) without joining again."""

    pairs: pd.DataFrame   # scope_id, control_id of each (scope, control) code
    pair: np.ndarray      # per (scope, control, resource) group: its (scope, control) code
    group: np.ndarray     # per joined row (control, assessment): its (scope, control, resource) group
    rank: np.ndarray      # per joined row: the assessment's status rank (`_STATUS_RANK`; -1 another status)
    row: np.ndarray       # per joined row: the assessment's position in `tables.assessments`


def control_resources(tables: Tables) -> ControlResources:
    """The joined rows of the stored controls' assessment keys and the non-preview assessments of their scope."""
    stored = _ascscore_controls(tables)
    keys = stored[["scope_id", "control_id", "assessment_keys"]].explode("assessment_keys").dropna()
    keys = keys.rename(columns={"assessment_keys": "assessment_key"})
    keys["pair"] = keys.groupby(["scope_id", "control_id"], sort=False).ngroup()
    pairs = keys.drop_duplicates("pair").sort_values("pair")[["scope_id", "control_id"]].reset_index(drop=True)
    assessed = tables.assessments
    status = per_value(assessed["status"], lambda s: s.str.lower().map(_STATUS_RANK)).fillna(-1).to_numpy(
        dtype=np.int64)
    resource = pd.factorize(assessed["resource_id"])[0]
    assessed = pd.DataFrame({"scope_id": assessment_scope(assessed), "assessment_key": assessed["assessment_key"],
                             "resource": resource, "rank": status, "row": np.arange(len(assessed))})[
        ~assessed["preview"].fillna(False).astype(bool).to_numpy()]
    joined = keys[["scope_id", "assessment_key", "pair"]].merge(assessed, on=["scope_id", "assessment_key"])
    joined = joined[joined["resource"].to_numpy() >= 0]  # a resource counts by its id
    code = joined["pair"].to_numpy(dtype=np.int64) * (int(resource.max(initial=0)) + 1) + joined["resource"].to_numpy()
    group = np.unique(code, return_inverse=True)[1].reshape(-1)
    pair = np.zeros(int(group.max(initial=-1)) + 1, dtype=np.int64)
    pair[group] = joined["pair"].to_numpy()
    return ControlResources(pairs, pair, group, joined["rank"].to_numpy(dtype=np.int64),
                            joined["row"].to_numpy(dtype=np.int64))


def _resource_counts(resources: ControlResources, unhealthy: np.ndarray | None) -> pd.DataFrame:
    """Per (scope, control): resources not applicable, healthy and unhealthy, a resource counted at the worst status
    of the control's assessments of it (those `unhealthy` marks, a mask of the assessments, counted unhealthy)."""
    rank = resources.rank if unhealthy is None else np.where(unhealthy[resources.row], 2, resources.rank)
    worst = np.full(len(resources.pair), -1, dtype=np.int64)
    np.maximum.at(worst, resources.group, rank)
    counted = worst >= 0
    counts = np.bincount(resources.pair[counted] * 3 + worst[counted],
                         minlength=3 * len(resources.pairs)).reshape(-1, 3)
    return resources.pairs.assign(not_applicable=counts[:, 0], healthy=counts[:, 1], unhealthy=counts[:, 2])


def recompute_controls(tables: Tables, *, resources: ControlResources | None = None,
                       unhealthy: np.ndarray | None = None) -> pd.DataFrame:
    """Control counts and scores recomputed from the assessments, beside MDC's stored numbers.

    A resource counts once per control: unhealthy if any of the control's recommendations is unhealthy for it,
    healthy if none is and one is healthy, else not applicable. Preview recommendations are excluded. Column
    `agrees` is true when the counts and the 2-dp current score equal what MDC stored. `resources`:
    `control_resources(tables)` when the caller has it; `unhealthy`: a mask of `tables.assessments` to count
    unhealthy whatever their status (what-if).
    """
    stored = _ascscore_controls(tables)
    counts = _resource_counts(control_resources(tables) if resources is None else resources, unhealthy)
    out = stored[["scope_id", "control_id", "control_name", "definition_max", "max", "current", "healthy",
                  "unhealthy", "not_applicable"]].rename(columns={
                      "max": "stored_max", "current": "stored_current", "healthy": "stored_healthy",
                      "unhealthy": "stored_unhealthy", "not_applicable": "stored_not_applicable"})
    out = out.merge(counts, on=["scope_id", "control_id"], how="left")
    for column in ("healthy", "unhealthy", "not_applicable"):
        out[column] = out[column].fillna(0).astype("Int64")
    counted = out["healthy"] + out["unhealthy"]
    out["max"] = np.where(counted > 0, out["definition_max"].fillna(out["stored_max"]), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["current"] = np.where(counted > 0, np.round(out["max"] * out["healthy"] / counted.where(counted > 0, 1),
                                                        2), 0.0)
    out["agrees"] = ((out["healthy"] == out["stored_healthy"]) & (out["unhealthy"] == out["stored_unhealthy"])
                     & (out["not_applicable"] == out["stored_not_applicable"])
                     & ((out["current"] - out["stored_current"]).abs() < 0.005)
                     & ((out["max"] - out["stored_max"]).abs() < 0.005)).fillna(False).astype(bool)
    return out


def recompute_scopes(tables: Tables, *, resources: ControlResources | None = None,
                     unhealthy: np.ndarray | None = None) -> pd.DataFrame:
    """Per scope: points summed from the recomputed controls beside the stored secure score (`recompute_controls`'
    `resources` and `unhealthy`)."""
    recomputed = recompute_controls(tables, resources=resources, unhealthy=unhealthy).groupby("scope_id").agg(
        current=("current", "sum"), max=("max", "sum"))
    recomputed["percentage"] = percent(recomputed["current"], recomputed["max"])
    stored = tables.secure_scores.set_index("scope_id")[["current", "max"]].add_prefix("stored_")
    out = stored.join(recomputed, how="outer").reset_index()
    out["agrees"] = (((out["current"] - out["stored_current"]).abs() < 0.01)
                     & ((out["max"] - out["stored_max"]).abs() < 0.005)).fillna(False).astype(bool)
    return out
