"""Governance owners and due dates, policy exemptions and risk levels: the Monday list of who must fix what.

- an assignment counts while its assessment is unhealthy; it is overdue when its due date is before the dataset's
  as-of time, grace period or not (the grace period only spares the secure score until the due date). An
  assignment on an assessment that is healthy (or gone) is never counted, whatever its due date;
- owners are case-folded by the normaliser; assignments join assessments on the lower-cased assessment id;
- every exemption counts once (expired ones included), so waiver + mitigated = exemptions; one at management-group
  scope applies to each subscription under it (`subscriptions.management_group_path`);
- the score an exemption holds up: the secure score recomputed (`score.recompute_scopes`) with the assessments it
  exempts (NotApplicable, cause `Exempt`, within its scope and policy definitions) counted unhealthy.

Every function is pure: tables and the as-of time in, DataFrames or numbers out. Filters are arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from mdcnb.analysis import score
from mdcnb.tables import Tables

RISK_LEVELS = ("Critical", "High", "Medium", "Low")
NO_RISK = "None"
EXPIRING_DAYS = 30
EXEMPT_CAUSE = "exempt"
ASSIGNMENT_COLUMNS = ["owner", "due_date", "grace_period", "overdue", "days_overdue", "status", "risk_level",
                      "severity", "display_name", "resource_name", "subscription_id", "assessment_id"]


def scoped_assessments(tables: Tables, *, environments: Iterable[str] = (),
                       subscriptions: Iterable[str] = ()) -> pd.DataFrame:
    """The assessments that pass the scope filters of `mdcnb score` (environment, subscription): the same test
    `score.filter_scopes` applies to scopes."""
    return score.filter_scopes(tables.assessments, environments=environments, subscriptions=subscriptions)


def risk_label(assessments: pd.DataFrame) -> pd.Series:
    """Each assessment's risk level, `None` (a string) where it has none."""
    return assessments["risk_level"].astype("string").fillna(NO_RISK)


# ---------------------------------------------------------------- governance assignments

def assignments(tables: Tables, as_of: pd.Timestamp, assessments: pd.DataFrame | None = None) -> pd.DataFrame:
    """Assignments on unhealthy assessments (of `assessments`, default all), with `overdue` and `days_overdue`.

    The assignment's own copy of its assessment's status is read (`mdcnb.tables` joins it), so a stored week
    needs no assessments table."""
    frame = tables.governance_assignments
    if assessments is not None:
        frame = frame[frame["assessment_id"].isin(assessments["assessment_id"])]
    frame = frame[frame["status"] == "Unhealthy"].copy()
    frame["overdue"] = (frame["due_date"] < as_of).fillna(False).astype(bool)
    frame["days_overdue"] = ((as_of - frame["due_date"]).dt.days).where(frame["overdue"]).astype("Int64")
    frame["owner"] = frame["owner"].fillna("(no owner named)")
    order = frame.sort_values(["overdue", "days_overdue", "owner"], ascending=[False, False, True])
    return order[ASSIGNMENT_COLUMNS].reset_index(drop=True)


def owners(assigned: pd.DataFrame) -> pd.DataFrame:
    """Per owner: assigned (unhealthy) and overdue, most overdue first."""
    if assigned.empty:
        return pd.DataFrame({"owner": pd.Series(dtype="string"), "assigned": pd.Series(dtype=int),
                             "overdue": pd.Series(dtype=int)})
    out = assigned.groupby("owner").agg(assigned=("assessment_id", "size"), overdue=("overdue", "sum")).reset_index()
    out["overdue"] = out["overdue"].astype(int)
    return out.sort_values(["overdue", "assigned", "owner"], ascending=[False, False, True]).reset_index(drop=True)


def unassigned_unhealthy(tables: Tables, assessments: pd.DataFrame | None = None) -> pd.DataFrame:
    """Unhealthy assessments nobody owns, riskiest and most severe first."""
    assessments = tables.assessments if assessments is None else assessments
    owned = set(tables.governance_assignments["assessment_id"].dropna())
    open_items = assessments[(assessments["status"] == "Unhealthy") & ~assessments["assessment_id"].isin(owned)]
    out = open_items.assign(risk=risk_label(open_items))[
        ["risk", "severity", "display_name", "resource_name", "subscription_id", "environment", "assessment_id"]]
    rank = {level: i for i, level in enumerate((*RISK_LEVELS, NO_RISK))}
    severity_rank = {level: i for i, level in enumerate(RISK_LEVELS)}
    return out.sort_values(["risk", "severity", "display_name"], key=lambda s: s.map(rank) if s.name == "risk"
                           else s.map(severity_rank) if s.name == "severity" else s).reset_index(drop=True)


def governance_summary(tables: Tables, as_of: pd.Timestamp, *, environments: Iterable[str] = (),
                       subscriptions: Iterable[str] = ()) -> dict[str, object]:
    """The `mdcnb governance --json` document: assignments, overdue, unassigned_unhealthy, owners."""
    scoped = scoped_assessments(tables, environments=environments, subscriptions=subscriptions)
    assigned = assignments(tables, as_of, scoped)
    return {"assignments": len(assigned), "overdue": int(assigned["overdue"].sum()),
            "unassigned_unhealthy": len(unassigned_unhealthy(tables, scoped)),
            "owners": [{"owner": r.owner, "assigned": int(r.assigned), "overdue": int(r.overdue)}
                       for r in owners(assigned).itertuples(index=False)]}


# ---------------------------------------------------------------- risk

def unhealthy_by_risk(assessments: pd.DataFrame) -> dict[str, int]:
    """Unhealthy assessments per risk level, `None` for those without one (every key present)."""
    counts = risk_label(assessments[assessments["status"] == "Unhealthy"]).value_counts()
    return {level: int(counts.get(level, 0)) for level in (*RISK_LEVELS, NO_RISK)}


def risk_by_severity(assessments: pd.DataFrame) -> pd.DataFrame:
    """Unhealthy assessments: risk level (rows) x severity (columns), every level present."""
    unhealthy = assessments[assessments["status"] == "Unhealthy"]
    table = pd.crosstab(risk_label(unhealthy), unhealthy["severity"].astype("string").fillna("Unknown"))
    return table.reindex(index=[*RISK_LEVELS, NO_RISK], columns=list(reversed(score_severities())), fill_value=0)


def score_severities() -> tuple[str, ...]:
    return ("Low", "Medium", "High", "Critical")


# ---------------------------------------------------------------- exemptions

def subscriptions_under(tables: Tables, management_group: str) -> list[str]:
    """Subscriptions whose management-group chain holds `management_group` (case-insensitive)."""
    wanted = management_group.casefold()
    subs = tables.subscriptions
    hit = subs["management_group_path"].map(lambda path: any(str(g).casefold() == wanted for g in path)) | (
        subs["management_group"].fillna("").str.casefold() == wanted)
    return sorted(subs.loc[hit, "subscription_id"].dropna())


def exemptions(tables: Tables, as_of: pd.Timestamp, *, environments: Iterable[str] = (),
               subscriptions: Iterable[str] = ()) -> pd.DataFrame:
    """One row per exemption in scope with the subscriptions it applies to, `expired`, `expiring_30d`, `days_left`.

    A management-group exemption applies to every subscription under the group. Exemptions are Azure Policy
    objects: an environment filter without Azure leaves none.
    """
    frame = tables.exemptions.copy()
    frame["subscriptions"] = [subscriptions_under(tables, row.management_group) if row.scope_type == "managementgroup"
                              else [row.subscription_id] for row in frame.itertuples(index=False)]
    wanted = {s.lower() for s in subscriptions}
    keep = frame["subscriptions"].map(lambda subs: not wanted or bool(wanted & set(subs)))
    if environments and "azure" not in {e.casefold() for e in environments}:
        keep &= False
    frame = frame[keep.astype(bool)].copy()
    left = frame["expires_on"] - as_of
    frame["expired"] = (left <= pd.Timedelta(0)).fillna(False).astype(bool)
    frame["expiring_30d"] = ((left > pd.Timedelta(0)) & (left <= pd.Timedelta(days=EXPIRING_DAYS))
                             ).fillna(False).astype(bool)
    frame["days_left"] = left.dt.days.astype("Int64")
    return frame.sort_values(["expired", "expires_on", "name"], na_position="last").reset_index(drop=True)


def exemption_counts(frame: pd.DataFrame) -> dict[str, int]:
    """The `mdcnb exemptions --json` document: exemptions, waiver, mitigated, expired, expiring_30d."""
    return {"exemptions": len(frame), "waiver": int((frame["category"] == "Waiver").sum()),
            "mitigated": int((frame["category"] == "Mitigated").sum()), "expired": int(frame["expired"].sum()),
            "expiring_30d": int(frame["expiring_30d"].sum())}


@dataclass(frozen=True)
class _Coded:
    """A text column as integer codes and its distinct values (a missing cell as ""): a test of the column is made
    once per distinct value, a million assessments repeating a few dozen causes and a hundred thousand resources."""

    codes: np.ndarray
    distinct: pd.Series

    @classmethod
    def of(cls, column: pd.Series) -> _Coded:
        codes, distinct = pd.factorize(column.fillna(""))
        return cls(codes, pd.Series(distinct, dtype=object))

    def where(self, test: Callable[[pd.Series], pd.Series]) -> np.ndarray:
        """`test` of every cell."""
        return test(self.distinct).to_numpy(dtype=bool)[self.codes]


class ExemptionColumns:
    """The assessments' columns an exemption is matched on, each coded the first time an exemption needs it and
    kept for the next ones (`exempted`)."""

    def __init__(self, assessments: pd.DataFrame) -> None:
        self.assessments = assessments

    @cached_property
    def exempt(self) -> np.ndarray:
        """NotApplicable with cause Exempt."""
        a = self.assessments
        return (a["status"] == "NotApplicable").to_numpy(dtype=bool, na_value=False) & _Coded.of(a["cause"]).where(
            lambda s: s.str.casefold() == EXEMPT_CAUSE)

    @cached_property
    def resource(self) -> _Coded:
        return _Coded.of(self.assessments["resource_id"])

    @cached_property
    def subscription(self) -> _Coded:
        return _Coded.of(self.assessments["subscription_id"])

    @cached_property
    def definition(self) -> _Coded:
        return _Coded.of(self.assessments["policy_definition_id"])


def exemption_columns(tables: Tables) -> ExemptionColumns:
    return ExemptionColumns(tables.assessments)


def exempted(columns: ExemptionColumns, exemption: pd.Series) -> np.ndarray:
    """A mask of the assessments an exemption exempts: NotApplicable with cause Exempt, in its scope and its
    definitions."""
    exempt = columns.exempt.copy()
    scope = str(exemption["scope_id"])
    if exemption["scope_type"] in ("resource", "resourcegroup"):
        exempt &= columns.resource.where(lambda s: (s == scope) | s.str.startswith(scope + "/"))
    else:
        subscriptions = list(exemption["subscriptions"])
        exempt &= columns.subscription.where(lambda s: s.isin(subscriptions) & (s != ""))
    references = set(exemption["policy_definition_reference_ids"])
    if references:
        exempt &= columns.definition.where(lambda s: s.str.rsplit("/", n=1).str[-1].isin(references))
    return exempt


def exempted_assessments(tables: Tables, exemption: pd.Series) -> pd.DataFrame:
    """The assessments an exemption exempts (`exempted`)."""
    return tables.assessments[exempted(exemption_columns(tables), exemption)]


def _recomputed_percentage(tables: Tables, scope_table: pd.DataFrame, resources: score.ControlResources,
                           unhealthy: np.ndarray | None = None) -> float:
    recomputed = score.recompute_scopes(tables, resources=resources, unhealthy=unhealthy).set_index("scope_id")
    table = scope_table.assign(current=scope_table["scope_id"].map(recomputed["current"]).fillna(0.0),
                               max=scope_table["scope_id"].map(recomputed["max"]).fillna(0.0))
    return score.overall(table)["percentage"]


def score_held_up(tables: Tables, exemption_frame: pd.DataFrame, *, environments: Iterable[str] = (),
                  subscriptions: Iterable[str] = (), resources: score.ControlResources | None = None) -> pd.DataFrame:
    """Per exemption: the assessments it exempts, and the secure score without it (those counted unhealthy).

    `score_without` = the score MDC reports minus the drop the recomputation shows, so the figure stands beside
    the portal's own score; `held_up` is that drop in percentage points. The controls' resources are joined once
    (`score.control_resources`, or `resources` when the caller has them) and recounted per exemption.
    """
    scope_table = score.scopes(tables, environments=environments, subscriptions=subscriptions)
    now = score.overall(scope_table)["percentage"]
    if resources is None and len(exemption_frame):
        resources = score.control_resources(tables)
    baseline = _recomputed_percentage(tables, scope_table, resources) if resources is not None else now
    columns = exemption_columns(tables) if len(exemption_frame) else None
    rows = []
    for _, exemption in exemption_frame.iterrows():
        exempt = exempted(columns, exemption)  # assessment ids are unique: a mask of rows is one of ids
        count = int(exempt.sum())
        drop = round(baseline - _recomputed_percentage(tables, scope_table, resources, exempt), 2) if count else 0.0
        rows.append({"name": exemption["name"], "category": exemption["category"],
                     "expires_on": exemption["expires_on"], "days_left": exemption["days_left"],
                     "scope_type": exemption["scope_type"], "assessments": count, "score_now": now,
                     "score_without": round(now - drop, 2), "held_up": drop})
    return pd.DataFrame(rows, columns=["name", "category", "expires_on", "days_left", "scope_type", "assessments",
                                       "score_now", "score_without", "held_up"])


# ---------------------------------------------------------------- week over week

def _stated_as_of(tables: Tables) -> pd.Timestamp:
    return pd.Timestamp(tables.manifest["as_of"])


def overdue_trend(weeks: dict[str, Tables]) -> pd.DataFrame:
    """Per stored week (`WeeklyHistory.weeks`: governance assignments and a manifest `as_of`) and owner: assigned
    and overdue, each week judged at its own time."""
    frames = [owners(assignments(tables, _stated_as_of(tables))).assign(week=week) for week, tables in weeks.items()]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=["week", "owner", "assigned", "overdue"])
    return pd.concat(frames, ignore_index=True)[["week", "owner", "assigned", "overdue"]]


def exemption_trend(weeks: dict[str, Tables]) -> pd.DataFrame:
    """Per stored week (exemptions and subscriptions): exemptions, waiver, mitigated, expired, expiring in 30 days."""
    rows = [{"week": week, **exemption_counts(exemptions(tables, _stated_as_of(tables)))}
            for week, tables in weeks.items()]
    return pd.DataFrame(rows, columns=["week", "exemptions", "waiver", "mitigated", "expired", "expiring_30d"])


def high_risk_overdue(assigned: pd.DataFrame) -> pd.DataFrame:
    """Per owner: overdue assignments of High or Critical risk, most first (owners with none left out)."""
    late = assigned[assigned["overdue"] & assigned["risk_level"].isin(["Critical", "High"]).fillna(False)]
    out = late.groupby("owner").agg(high_risk_overdue=("assessment_id", "size"),
                                    critical=("risk_level", lambda s: int((s == "Critical").sum()))).reset_index()
    return out.sort_values(["high_risk_overdue", "critical", "owner"], ascending=[False, False, True]
                           ).reset_index(drop=True)
