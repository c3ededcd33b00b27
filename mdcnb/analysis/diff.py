"""What changed between two snapshots of the same estate (pure functions on tables, no I/O).

`diff_tables(before, after)` compares two `Tables` (two stored weeks, or a stored week and a fresh pull):

- recommendations newly unhealthy (now Unhealthy, before anything else or absent), resolved (before Unhealthy, now
  Healthy or NotApplicable) and unhealthy ones that disappeared with their resource;
- resources new and removed (the Azure inventory together with every resource that has an assessment, so AWS and GCP
  resources count too);
- the overall secure score and each control across all scopes (MDC's aggregation, `mdcnb.analysis.score`), and
  the score of each scope (MDC's stored percentage), as before / after / delta in points;
- regulatory compliance controls whose state changed (or that appeared or disappeared);
- Defender plans switched on or off on a scope present in both snapshots; subscriptions and connectors added/removed;
- governance assignments newly overdue and policy exemptions that lapsed (expired) between the two as-of times
  (`mdcnb.analysis.governance`; empty when a snapshot states no as-of time).

Every change list is a DataFrame sorted deterministically; `counts()` gives the headline numbers and `as_dict()`
the JSON that `mdcnb diff --json` prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd

from mdcnb.analysis import governance, score
from mdcnb.tables import Tables

SEVERITY_ORDER = {"Critical": 0, "High": 1, "Medium": 2, "Low": 3}

# What each change list is called in tables, the summary page and `mdcnb diff` (text kept apart from the logic).
CHANGE_LABELS: dict[str, str] = {
    "newly_unhealthy": "Recommendations newly unhealthy",
    "resolved": "Recommendations resolved",
    "unhealthy_gone": "Unhealthy recommendations gone with their resource",
    "new_resources": "New resources",
    "removed_resources": "Removed resources",
    "scope_scores": "Scopes whose secure score moved",
    "control_scores": "Controls whose score moved (all scopes)",
    "compliance_changes": "Compliance controls that changed state",
    "plans_on": "Defender plans switched on",
    "plans_off": "Defender plans switched off",
    "subscriptions_added": "Subscriptions added",
    "subscriptions_removed": "Subscriptions removed",
    "connectors_added": "Connectors added",
    "connectors_removed": "Connectors removed",
    "new_overdue": "Governance assignments newly overdue",
    "lapsed_exemptions": "Exemptions that lapsed",
}

# Columns of the change lists, in reading order (what and where first, the long ids last).
_ASSESSMENT_COLUMNS = ["severity", "display_name", "resource_name", "resource_type", "environment", "subscription_id",
                       "resource_id", "assessment_key"]
_RESOURCE_COLUMNS = ["name", "type", "environment", "subscription_id", "resource_id"]


@dataclass
class SnapshotDiff:
    """The changes from `before` to `after`; each list is a DataFrame, scores are percentages 0..100."""

    newly_unhealthy: pd.DataFrame
    resolved: pd.DataFrame
    unhealthy_gone: pd.DataFrame
    new_resources: pd.DataFrame
    removed_resources: pd.DataFrame
    scope_scores: pd.DataFrame
    control_scores: pd.DataFrame
    compliance_changes: pd.DataFrame
    plans_on: pd.DataFrame
    plans_off: pd.DataFrame
    subscriptions_added: pd.DataFrame
    subscriptions_removed: pd.DataFrame
    connectors_added: pd.DataFrame
    connectors_removed: pd.DataFrame
    new_overdue: pd.DataFrame
    lapsed_exemptions: pd.DataFrame
    overall: dict[str, float | None] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def lists(self) -> dict[str, pd.DataFrame]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name in CHANGE_LABELS}

    def changed(self, name: str) -> pd.DataFrame:
        """The rows of one list that are changes (score lists: the rows whose value moved, or came or went)."""
        frame = self.lists()[name]
        if "delta" not in frame.columns:
            return frame
        return frame[frame["delta"].isna() | (frame["delta"] != 0)].reset_index(drop=True)

    def counts(self) -> dict[str, int]:
        """Number of changes per list."""
        return {name: len(self.changed(name)) for name in self.lists()}

    def summary(self) -> pd.DataFrame:
        """One row per kind of change: label and count (the summary page's "what changed" table)."""
        counts = self.counts()
        return pd.DataFrame({"change": [CHANGE_LABELS[k] for k in counts], "count": list(counts.values()),
                             "key": list(counts)})

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: counts, overall score, and every change as a record (NaN/NA become null)."""
        return {"overall": self.overall, "counts": self.counts(), **self.extra,
                "changes": {name: _records(self.changed(name)) for name in self.lists()}}


def diff_tables(before: Tables, after: Tables, match: KeyMatch | None = None) -> SnapshotDiff:
    """Compare two snapshots; scores are aggregated over all scopes as MDC does (`mdcnb.analysis.score`). `match`
    pairs their assessments (`key_match`) when their frames lack the assessment ids."""
    newly, resolved, gone = assessment_changes(before.assessments, after.assessments, match)
    new_res, removed_res = resource_changes(before, after)
    plans_on, plans_off = plan_changes(before.plans, after.plans)
    subs_added, subs_removed = added_removed(before.subscriptions, after.subscriptions, "subscription_id",
                                             ["subscription_id", "display_name", "state"])
    conn_added, conn_removed = added_removed(before.connectors, after.connectors, "connector_id",
                                             ["connector_id", "name", "environment", "hierarchy_id", "kind"])
    scopes_before, scopes_after = score.scopes(before), score.scopes(after)
    b, a = _overall(scopes_before), _overall(scopes_after)
    return SnapshotDiff(
        newly_unhealthy=newly, resolved=resolved, unhealthy_gone=gone,
        new_resources=new_res, removed_resources=removed_res,
        scope_scores=scope_score_changes(scopes_before, scopes_after),
        control_scores=control_score_changes(score.controls(before, scopes_before),
                                             score.controls(after, scopes_after)),
        compliance_changes=compliance_changes(before.compliance_controls, after.compliance_controls),
        plans_on=plans_on, plans_off=plans_off,
        subscriptions_added=subs_added, subscriptions_removed=subs_removed,
        connectors_added=conn_added, connectors_removed=conn_removed,
        new_overdue=new_overdue(before, after), lapsed_exemptions=lapsed_exemptions(before, after),
        overall={"before": b, "after": a, "delta": None if a is None or b is None else round(a - b, 2)},
    )


def _as_of(tables: Tables) -> pd.Timestamp | None:
    stated = tables.manifest.get("as_of")
    return pd.Timestamp(stated) if stated else None


def new_overdue(before: Tables, after: Tables) -> pd.DataFrame:
    """Assignments overdue in `after` that were not overdue (or not there) in `before`, most overdue first."""
    then, now = _as_of(before), _as_of(after)
    if now is None:
        return governance.assignments(after, pd.Timestamp(0, tz="UTC")).iloc[0:0]
    late = governance.assignments(after, now)
    late = late[late["overdue"]]
    if then is not None:
        earlier = governance.assignments(before, then)
        late = late[~late["assessment_id"].isin(earlier.loc[earlier["overdue"], "assessment_id"])]
    return late.reset_index(drop=True)


def lapsed_exemptions(before: Tables, after: Tables) -> pd.DataFrame:
    """Exemptions expired at `after`'s as-of time that had not expired at `before`'s (or were not there)."""
    columns = ["name", "category", "scope_type", "expires_on", "scope_id", "exemption_id"]
    then, now = _as_of(before), _as_of(after)
    if now is None:
        return after.exemptions[columns].iloc[0:0]
    expired = governance.exemptions(after, now)
    expired = expired[expired["expired"]]
    if then is not None:
        earlier = governance.exemptions(before, then)
        expired = expired[~expired["exemption_id"].isin(earlier.loc[earlier["expired"], "exemption_id"])]
    return expired[columns].reset_index(drop=True)


def overall_score(tables: Tables) -> float | None:
    """The overall secure score (0-100) of every scope in the snapshot, None when it has no score."""
    return _overall(score.scopes(tables))


def _overall(scopes: pd.DataFrame) -> float | None:
    return score.overall(scopes)["percentage"] if len(scopes) else None


@dataclass(frozen=True)
class KeyMatch:
    """How the assessments of two weeks pair up, so that `assessment_changes` needs neither week's assessment ids:
    a report kernel reads each week's 1.1 million ids (287 MB a week at 2,000 subscriptions) only to pair rows,
    so the report's first stage pairs them (`key_match`) and keeps this beside the snapshot.

    `after`: per row of the later week, `kept` (the last row of its key), `before_row` (the position of the earlier
    week's kept row of the same key, -1 for none) and `key_order` (where the two statuses differ, the rank of the
    key among those rows: the last tie-break when the changes are sorted). `before`: per row of the earlier week,
    `kept` and `found` (its key is in the later week)."""

    after: pd.DataFrame
    before: pd.DataFrame


KEYED = ("assessment_id", "assessment_key", "resource_id", "status")  # the columns `key_match` reads


def key_match(before: pd.DataFrame, after: pd.DataFrame) -> KeyMatch:
    """Pair two weeks' assessments by key (`_keys`; null keys pair with each other, as pandas' `map` and `isin`
    pair them), each week's last row of a key kept: one pass codes both weeks' keys, the rest is integer arrays.
    The frames need only the `KEYED` columns."""
    if before is after:  # a first week compared with itself: its keys coded once
        a_code, keys = pd.factorize(_keys(after), use_na_sentinel=False)
        b_code = a_code
    else:
        b_key, a_key = _keys(before), _keys(after)
        codes, keys = pd.factorize(pd.concat([b_key, a_key], ignore_index=True), use_na_sentinel=False)
        b_code, a_code = codes[:len(b_key)], codes[len(b_key):]
    b_last, a_last = _last_rows(b_code, len(keys)), _last_rows(a_code, len(keys))
    b_kept, a_kept = b_last[b_code] == np.arange(len(b_code)), a_last[a_code] == np.arange(len(a_code))
    before_row = np.where(a_kept, b_last[a_code], -1)
    status_before = before["status"].array.take(before_row, allow_fill=True)
    differs = pd.Series(after["status"].array != status_before).fillna(True).to_numpy(bool) & a_kept
    order = np.full(len(a_code), np.nan)
    order[differs] = pd.Series(keys.take(a_code[differs])).rank(method="dense").to_numpy()
    return KeyMatch(after=pd.DataFrame({"kept": a_kept, "before_row": before_row, "key_order": order}),
                    before=pd.DataFrame({"kept": b_kept, "found": a_last[b_code] >= 0}))


def _last_rows(codes: np.ndarray, size: int) -> np.ndarray:
    """Per code, the last row that has it (-1: none)."""
    last = np.full(size, -1, dtype=np.int64)
    np.maximum.at(last, codes, np.arange(len(codes)))
    return last


def _keys(frame: pd.DataFrame) -> pd.Series:
    """Each assessment's key: its id, else recommendation key + resource id (built only for the rows without an
    id)."""
    key = frame["assessment_id"].astype("string").reset_index(drop=True)
    missing = np.flatnonzero(key.isna().to_numpy())
    if len(missing):
        rows = frame.iloc[missing]
        pairs = rows["assessment_key"].astype("string") + "|" + rows["resource_id"].astype("string")
        key = key.fillna(pd.Series(pairs.array, index=missing))
    return key


def assessment_changes(before: pd.DataFrame, after: pd.DataFrame, match: KeyMatch | None = None
                       ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(newly unhealthy, resolved, unhealthy gone), keyed by assessment id (`key_match`, or `match` made by it
    before), most severe first (then by title, resource and key; the assessments gone in the order of the week
    before).

    Each week's kept keys are distinct, so this week's rows look their status of the week before up by position
    instead of an outer join of 1.6 million rows a side; the key as the last sort column gives the order such a
    join, which sorts its rows by key, gave."""
    match = match or key_match(before, after)
    kept = match.after["kept"].to_numpy()
    status_before = before["status"].array.take(match.after["before_row"].to_numpy()[kept], allow_fill=True)
    a = after.loc[kept, [*_ASSESSMENT_COLUMNS, "status"]]
    joined = a.assign(status_before=pd.Series(status_before, index=a.index, dtype="string"),
                      key_order=match.after["key_order"].to_numpy()[kept])
    now_unhealthy = joined["status"].eq("Unhealthy").fillna(False)
    was_unhealthy = joined["status_before"].eq("Unhealthy").fillna(False)
    newly = joined[now_unhealthy & ~was_unhealthy]
    resolved = joined[was_unhealthy & joined["status"].isin(["Healthy", "NotApplicable"]).fillna(False)]
    b = before.loc[match.before["kept"].to_numpy() & ~match.before["found"].to_numpy(),
                   [*_ASSESSMENT_COLUMNS, "status"]]
    gone = b[b["status"].eq("Unhealthy").fillna(False)]
    newly = newly.assign(status_before=newly["status_before"].fillna("(new)"))
    resolved = resolved.rename(columns={"status": "status_after"})
    return (_by_severity(newly, ["status_before"], then=["key_order"]),
            _by_severity(resolved, ["status_after"], then=["key_order"]), _by_severity(gone, []))


def _by_severity(frame: pd.DataFrame, extra: list[str], then: list[str] | None = None) -> pd.DataFrame:
    rank = frame["severity"].map(SEVERITY_ORDER).fillna(len(SEVERITY_ORDER))
    ordered = frame.assign(_rank=rank).sort_values(["_rank", "display_name", "resource_id", *(then or [])],
                                                   kind="stable")
    return ordered[_ASSESSMENT_COLUMNS + extra].reset_index(drop=True)


def resource_set(tables: Tables) -> pd.DataFrame:
    """Every resource the snapshot knows: the Azure inventory plus every assessed resource (AWS/GCP included)."""
    inventory = tables.resources[["resource_id", "name", "type", "subscription_id"]].assign(environment="Azure")
    assessed = tables.assessments[["resource_id", "resource_name", "resource_type", "subscription_id",
                                   "environment"]].rename(columns={"resource_name": "name", "resource_type": "type"})
    both = pd.concat([inventory.astype("string"), assessed.astype("string")], ignore_index=True)
    both = both[both["resource_id"].notna()]
    return both.drop_duplicates("resource_id", keep="first").reset_index(drop=True)


def resource_changes(before: Tables, after: Tables) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(new resources, removed resources), sorted by subscription, type and id."""
    b, a = resource_set(before), resource_set(after)
    order = ["subscription_id", "type", "resource_id"]
    new = a[~a["resource_id"].isin(b["resource_id"])].sort_values(order, kind="stable")
    removed = b[~b["resource_id"].isin(a["resource_id"])].sort_values(order, kind="stable")
    return new[_RESOURCE_COLUMNS].reset_index(drop=True), removed[_RESOURCE_COLUMNS].reset_index(drop=True)


def scope_score_changes(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Secure score per scope (`score.scopes` of each snapshot, 0-100) before, after and delta, worst move first."""
    cols = ["scope_id", "name", "scope_type", "environment", "percentage"]
    joined = before[cols].merge(after[cols], on="scope_id", how="outer", suffixes=("_before", "_after"))
    out = pd.DataFrame({
        "name": joined["name_after"].fillna(joined["name_before"]),
        "scope_type": joined["scope_type_after"].fillna(joined["scope_type_before"]),
        "environment": joined["environment_after"].fillna(joined["environment_before"]),
        "before": joined["percentage_before"], "after": joined["percentage_after"],
        "scope_id": joined["scope_id"],
    })
    out["delta"] = (out["after"] - out["before"]).round(2)
    return out.sort_values(["delta", "scope_id"], kind="stable", na_position="first").reset_index(drop=True)


def control_score_changes(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Secure score controls across all scopes (`score.controls` of each snapshot): points before, after, delta.

    Also the unhealthy resource counts and the potential increase of the overall score, both before and after.
    """
    cols = ["control_id", "control_name", "current", "max", "unhealthy", "potential_increase"]
    joined = before[cols].merge(after[cols], on="control_id", how="outer", suffixes=("_before", "_after"))
    out = pd.DataFrame({
        "control_id": joined["control_id"],
        "control_name": joined["control_name_after"].fillna(joined["control_name_before"]),
        "max": joined["max_after"].fillna(joined["max_before"]),
        "current_before": joined["current_before"], "current_after": joined["current_after"],
        "unhealthy_before": joined["unhealthy_before"], "unhealthy_after": joined["unhealthy_after"],
        "potential_increase_after": joined["potential_increase_after"],
    })
    out["delta"] = (out["current_after"] - out["current_before"]).round(2)
    return out.sort_values(["delta", "control_name"], kind="stable", na_position="first").reset_index(drop=True)


def compliance_changes(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Compliance controls per scope and standard whose state differs (case-insensitively), or that came or went."""
    keys = ["scope_id", "standard", "control"]
    b = before[[*keys, "state", "description"]]
    a = after[[*keys, "state", "description"]]
    joined = b.merge(a, on=keys, how="outer", suffixes=("_before", "_after"))
    changed = joined["state_before"].str.lower().fillna("") != joined["state_after"].str.lower().fillna("")
    joined = joined.assign(description=joined["description_after"].fillna(joined["description_before"]))
    out = joined[changed]
    ordered = out.sort_values(keys, kind="stable")
    return ordered[["standard", "control", "state_before", "state_after", "description", "scope_id"]
                   ].reset_index(drop=True)


def plan_changes(before: pd.DataFrame, after: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(switched on, switched off): a plan's `enabled` flipped on a scope present in both snapshots."""
    keys = ["scope_id", "plan"]
    common = set(before["scope_id"].dropna()) & set(after["scope_id"].dropna())
    cols = [*keys, "subscription_id", "level", "tier", "sub_plan", "enabled"]
    joined = before[cols].merge(after[cols], on=keys, how="outer", suffixes=("_before", "_after"))
    joined = joined[joined["scope_id"].isin(common)]
    was_on = joined["enabled_before"].fillna(False).astype(bool)
    is_on = joined["enabled_after"].fillna(False).astype(bool)
    out = pd.DataFrame({
        "plan": joined["plan"],
        "subscription_id": joined["subscription_id_after"].fillna(joined["subscription_id_before"]),
        "level": joined["level_after"].fillna(joined["level_before"]),
        "scope_id": joined["scope_id"],
        "tier_before": joined["tier_before"], "tier_after": joined["tier_after"],
        "sub_plan_after": joined["sub_plan_after"],
    })
    on = out[is_on & ~was_on].sort_values(keys, kind="stable").reset_index(drop=True)
    off = out[was_on & ~is_on].sort_values(keys, kind="stable").reset_index(drop=True)
    return on, off


def added_removed(before: pd.DataFrame, after: pd.DataFrame, key: str,
                  columns: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows of `after` whose key is new, rows of `before` whose key is gone), sorted by key."""
    added = after[~after[key].isin(before[key])][columns].sort_values(key, kind="stable")
    removed = before[~before[key].isin(after[key])][columns].sort_values(key, kind="stable")
    return added.reset_index(drop=True), removed.reset_index(drop=True)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame rows as plain JSON values (NA/NaN -> None, times as ISO strings)."""
    out = []
    for row in frame.astype(object).to_dict("records"):
        out.append({k: _plain(v) for k, v in row.items()})
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return value
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value
