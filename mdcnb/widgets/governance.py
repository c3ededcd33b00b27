"""The governance page's panel: headline numbers, per owner assigned and overdue, the overdue list, unowned
unhealthy work and the exemptions, for the owners, risk levels and scopes picked."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from mdcnb.analysis import governance
from mdcnb.measures import registry
from mdcnb.measures.governance import as_of
from mdcnb.snapshot import Snapshot
from mdcnb.widgets.panel import FilterPanel, Filters, measures_of, present, scope_options

HEADLINES = ("governance.assignments", "governance.overdue", "governance.unassigned_unhealthy",
             "exemptions.expiring_30d")


def _picked(frame: pd.DataFrame, f: Filters) -> pd.DataFrame:
    """Rows of a table with `subscription_id`, `risk_level` (and `owner`) that the selection keeps."""
    keep = pd.Series(True, index=frame.index)
    if f.scopes:
        keep &= frame["subscription_id"].isin(f.scopes)
    if f.risks:
        keep &= frame["risk_level"].astype("string").fillna(governance.NO_RISK).isin(f.risks)
    if f.owners:
        keep &= frame["owner"].isin(f.owners) if "owner" in frame.columns else False
    return frame[keep.fillna(False).astype(bool)]


def governance_explorer(snapshot: Snapshot, *, subscriptions: Sequence[str] = (),
                        mask: Callable[[Any], Any] | None = None) -> FilterPanel:
    """Governance panel: the headlines and the exemptions follow the scopes (their titles say they cover every owner
    and risk level while one is picked); the other tables follow owner, risk level and scope (risk `None`:
    assessments without a risk level; an owner selection leaves no unowned work)."""
    tables = snapshot.tables
    when = as_of(snapshot)
    owned = governance.assignments(tables, when)
    unowned = registry.value("governance.unassigned", snapshot).rename(columns={"risk": "risk_level"})  # the page's
    panel = FilterPanel(scopes=scope_options(tables), owners=present(owned["owner"]),
                        risks=[*governance.RISK_LEVELS, governance.NO_RISK],
                        defaults=Filters(scopes=tuple(subscriptions)), mask=mask)
    def assigned(f: Filters) -> pd.DataFrame:
        return panel.once("assigned", lambda f: _picked(owned, f))

    panel.view(lambda f: measures_of(snapshot, HEADLINES, f.measures()), "headlines", caption="Headline numbers",
               ignores=("owners", "risks"))
    panel.view(lambda f: governance.owners(assigned(f)), "assignments", caption="Assignments per owner")
    panel.view(lambda f: assigned(f).query("overdue").head(50), "assignments", caption="Overdue assignments")
    panel.view(lambda f: _picked(unowned, f).head(50), "unassigned", caption="Unhealthy work without an owner")
    panel.view(lambda f: governance.exemptions(tables, when, subscriptions=f.scopes), "exemptions",
               caption="Exemptions", ignores=("owners", "risks"))
    return panel
