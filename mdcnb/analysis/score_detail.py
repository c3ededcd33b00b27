"""What stands behind a secure score: environments, the recommendations of each control, the resources.

Builds on `mdcnb.analysis.score` (scope table, controls, the assessment's scope) and only adds the views the
secure score page drills through: environment roll-up, control -> recommendation counts by severity, and the
unhealthy resources of each recommendation. Pure functions on tables; filters are arguments.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from mdcnb.analysis.columns import casefolded
from mdcnb.analysis.score import aggregate_percentage, assessment_scope, controls
from mdcnb.tables import Tables

SEVERITIES = ("Critical", "High", "Medium", "Low")
RECOMMENDATION_COLUMNS = ["control_id", "control_name", "potential_increase", "assessment_key", "recommendation",
                          "severity", "unhealthy", "healthy", "not_applicable", "scopes"]
# The columns a reader needs on the page (the exported tables keep every column, ids included).
RECOMMENDATION_VIEW = ["control_name", "potential_increase", "recommendation", "severity", "unhealthy", "healthy",
                       "not_applicable", "scopes"]
RESOURCE_VIEW = ["control_name", "recommendation", "severity", "environment", "resource_name", "resource_type"]
RESOURCE_COLUMNS = ["control_id", "control_name", "assessment_key", "recommendation", "severity", "scope_id",
                    "environment", "resource_id", "resource_name", "resource_type"]


def scope_names(tables: Tables) -> pd.Series:
    """Display name per scope id: subscriptions (`/subscriptions/<id>`) and connectors."""
    subs = tables.subscriptions
    names = pd.concat([pd.Series(subs["display_name"].to_numpy(), index="/subscriptions/" + subs["subscription_id"]),
                       pd.Series(tables.connectors["name"].to_numpy(), index=tables.connectors["connector_id"])])
    return names[~names.index.duplicated()].astype("string")


def scope_label(scope_ids: pd.Series, names: pd.Series) -> pd.Series:
    """The scope's name, else its id; a name shared by two scopes gets the end of the id appended (a chart
    would otherwise merge them into one bar)."""
    scope_ids = scope_ids.astype("string")
    label = scope_ids.map(names).astype("string").fillna(scope_ids)
    clash = scope_ids.groupby(label).transform("nunique") > 1
    return label.where(~clash, label + " · …" + scope_ids.str[-8:])


def by_environment(scope_table: pd.DataFrame) -> pd.DataFrame:
    """Per environment (Azure, AWS, GCP): scopes, summed points and the weighted percentage MDC would show."""
    rows = [{"environment": env, "scopes": len(group), "current": round(float(group["current"].sum()), 2),
             "max": round(float(group["max"].sum()), 2),
             "percentage": aggregate_percentage(group["current"], group["max"], group["weight"])}
            for env, group in scope_table.groupby(scope_table["environment"].fillna("Unknown"), sort=True)]
    return pd.DataFrame(rows, columns=["environment", "scopes", "current", "max", "percentage"])


def _control_assessments(tables: Tables, scope_table: pd.DataFrame | None) -> pd.DataFrame:
    """(scope, control, assessment key) for the scopes in `scope_table` (None: every scope), from the secure score
    controls."""
    in_scope = tables.score_controls
    if scope_table is not None:
        in_scope = in_scope[in_scope["scope_id"].isin(scope_table["scope_id"])]
    pairs = in_scope[["scope_id", "control_id", "control_name", "assessment_keys"]].explode("assessment_keys")
    return pairs.dropna(subset=["assessment_keys"]).rename(columns={"assessment_keys": "assessment_key"})


def _scored_assessments(tables: Tables, severities: Iterable[str], columns: Iterable[str]) -> pd.DataFrame:
    """Assessments that count in the secure score (no preview), with their scope, filtered by severity.

    Only `columns` (and what the scope and the filters need) are kept: a million assessments copied with every
    column would double a big tenant's memory for a few columns' worth of work."""
    needed = dict.fromkeys(["assessment_key", "preview", "severity", "connector_id", "subscription_id", *columns])
    assessed = tables.assessments[list(needed)]
    assessed = assessed[~assessed["preview"].fillna(False).astype(bool)]
    wanted = {s.casefold() for s in severities}
    if wanted:
        assessed = assessed[casefolded(assessed["severity"]).isin(wanted)]
    return assessed.assign(scope_id=assessment_scope(assessed))


def recommendation_rows(tables: Tables) -> pd.DataFrame:
    """`control_recommendations`' join of every scope's controls to the scored assessments, counted once.

    One row per (control pair, severity, recommendation name) with the resources unhealthy / healthy / not
    applicable, in the order the join meets them (`position`: pairs in order, each pair's assessments in theirs);
    `group` codes (control, assessment key) as an integer and `severity_key` is the casefolded severity the filter
    compares. A panel computes this once: a change of scopes or severities then masks and sums these rows instead of
    joining a million assessments again. Joined and grouped on integer codes (`_join_codes`), not on text.
    """
    pairs = _control_assessments(tables, None).reset_index(drop=True)
    assessed = _scored_assessments(tables, (), ["status", "display_name"])
    left, right = _join_codes(pairs, assessed, ["scope_id", "assessment_key"])
    pair, row = _inner_join(left, right)
    status = casefolded(assessed["status"]).to_numpy(dtype=object)[row]
    severity, severities = pd.factorize(assessed["severity"].to_numpy()[row])
    name, names = pd.factorize(assessed["display_name"].to_numpy()[row])
    key = (pair * (len(severities) + 1) + severity + 1) * (len(names) + 1) + name + 1  # NA (-1) a group of its own
    _, first, group = np.unique(key, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")          # the groups as the join first meets them
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    group = rank[group.reshape(-1)]
    first = first[order]
    counts = {column: np.bincount(group, weights=status == text, minlength=len(order)).astype(np.int64)
              for column, text in (("unhealthy", "unhealthy"), ("healthy", "healthy"),
                                   ("not_applicable", "notapplicable"))}
    taken = pairs.iloc[pair[first]].reset_index(drop=True)
    rows = pd.DataFrame({
        "pair": pair[first].astype(np.int64),
        "severity": pd.array(assessed["severity"].to_numpy()[row][first], dtype=assessed["severity"].dtype),
        "display_name": pd.array(assessed["display_name"].to_numpy()[row][first],
                                 dtype=assessed["display_name"].dtype),
        "scope_id": pd.array(taken["scope_id"].to_numpy(), dtype=assessed["scope_id"].dtype),
        "control_id": taken["control_id"], "control_name": taken["control_name"],
        "assessment_key": taken["assessment_key"].astype(object), **counts, "position": first.astype(np.int64)})
    group = pd.MultiIndex.from_frame(rows[["control_id", "assessment_key"]].astype(object)).factorize()[0]
    return rows.assign(group=group, severity_key=rows["severity"].fillna("").str.casefold(),
                       scope_id=rows["scope_id"].astype("category"))


def _join_codes(left: pd.DataFrame, right: pd.DataFrame, on: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """One integer per row of each frame for its values of `on`, equal where the values are (-1 where one is
    missing or, on the left, absent on the right: such rows join nothing)."""
    left_code = np.zeros(len(left), dtype=np.int64)
    right_code = np.zeros(len(right), dtype=np.int64)
    for column in on:
        codes, distinct = pd.factorize(right[column])
        looked_up = pd.Index(distinct).get_indexer(left[column])
        left_code = np.where((left_code < 0) | (looked_up < 0), -1, left_code * len(distinct) + looked_up)
        right_code = np.where((right_code < 0) | (codes < 0), -1, right_code * len(distinct) + codes)
    return left_code, right_code


def _inner_join(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The inner join of two code arrays (`_join_codes`) as (left row, right row) pairs, in the order pandas' inner
    merge gives: left rows in order, each one's right rows in theirs."""
    order = np.argsort(right, kind="stable")
    ordered = right[order]
    low = np.searchsorted(ordered, left, side="left")
    high = np.searchsorted(ordered, left, side="right")
    matches = np.where(left >= 0, high - low, 0)
    left_rows = np.repeat(np.arange(len(left)), matches)
    starts = np.repeat(low - (np.cumsum(matches) - matches), matches)
    return left_rows, order[starts + np.arange(len(left_rows))]


def control_recommendations(tables: Tables, scope_table: pd.DataFrame, *, severities: Iterable[str] = (),
                            rows: pd.DataFrame | None = None, ranking: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per control and recommendation: resources unhealthy / healthy / not applicable in the scopes.

    Ordered by severity, then unhealthy resources (`by_severity`); each row carries its control's potential
    increase. `rows` (`recommendation_rows(tables)`) and `ranking` (`score.controls(tables, scope_table)`) are
    what a caller that already has them passes, so they are not computed again.
    """
    rows = recommendation_rows(tables) if rows is None else rows
    keep = rows["scope_id"].isin(scope_table["scope_id"]).to_numpy()
    wanted = {s.casefold() for s in severities}
    if wanted:
        keep = keep & rows["severity_key"].isin(wanted).to_numpy()
    picked = rows[keep]
    if picked.empty:
        return pd.DataFrame(columns=RECOMMENDATION_COLUMNS)
    out = picked.groupby("group", sort=False).agg(
        control_id=("control_id", "first"), assessment_key=("assessment_key", "first"),
        control_name=("control_name", "first"), recommendation=("display_name", "first"),
        severity=("severity", "first"), unhealthy=("unhealthy", "sum"), healthy=("healthy", "sum"),
        not_applicable=("not_applicable", "sum"), scopes=("scope_id", "nunique")).reset_index(drop=True)
    out["assessment_key"] = out["assessment_key"].astype("str")  # the text dtype a grouping key of text gets
    ranking = controls(tables, scope_table) if ranking is None else ranking
    out = out.merge(ranking[["control_id", "potential_increase"]], on="control_id", how="left")
    return by_severity(out[RECOMMENDATION_COLUMNS])


def by_severity(recommendations: pd.DataFrame) -> pd.DataFrame:
    """Recommendations most severe first, then most unhealthy resources, then largest potential increase: what to
    fix first reads from the top (a severity outside `SEVERITIES` comes last)."""
    rank = recommendations["severity"].map({s: i for i, s in enumerate(SEVERITIES)}).fillna(len(SEVERITIES))
    ordered = recommendations.assign(_rank=rank).sort_values(
        ["_rank", "unhealthy", "potential_increase", "control_name", "recommendation"],
        ascending=[True, False, False, True, True], kind="stable")
    return ordered.drop(columns="_rank").reset_index(drop=True)


def best_control(control_table: pd.DataFrame) -> tuple[str, float] | None:
    """(`Enable MFA`, 17.57): the control whose fix raises the score most and its potential increase in points,
    or None when no fix would."""
    ranked = control_table[control_table["potential_increase"] > 0]
    if ranked.empty:
        return None
    first = ranked.iloc[0]
    return str(first["control_name"]), float(first["potential_increase"])


def severity_by_control(recommendations: pd.DataFrame) -> pd.DataFrame:
    """Unhealthy resources per control and severity (long format, severities in MDC's order)."""
    out = recommendations.groupby(["control_name", "severity"], sort=False)["unhealthy"].sum().reset_index()
    out = out[out["unhealthy"] > 0]
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return out.assign(_rank=out["severity"].map(order)).sort_values(["control_name", "_rank"]).drop(
        columns="_rank").reset_index(drop=True)


def unhealthy_resources(tables: Tables, scope_table: pd.DataFrame, *, severities: Iterable[str] = (),
                        control_ids: Iterable[str] = ()) -> pd.DataFrame:
    """One row per control, recommendation and unhealthy resource in the scopes (optionally some controls)."""
    pairs = _control_assessments(tables, scope_table)
    wanted = {c.lower() for c in control_ids}
    if wanted:
        pairs = pairs[pairs["control_id"].isin(wanted)]
    assessed = _scored_assessments(tables, severities, ["status", "display_name", "environment", "resource_id",
                                                        "resource_name", "resource_type"])
    assessed = assessed[casefolded(assessed["status"]) == "unhealthy"]
    joined = pairs.merge(assessed, on=["scope_id", "assessment_key"], how="inner")
    out = joined.rename(columns={"display_name": "recommendation"})[RESOURCE_COLUMNS]
    return out.sort_values(["control_name", "recommendation", "resource_id"]).reset_index(drop=True)
