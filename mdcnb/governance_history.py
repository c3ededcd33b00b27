"""The stored weeks the governance page trends over: each week's assessments, governance assignments, exemptions
and subscriptions from the history store (the dataset and its embedded weeks recorded first, as for the summary)."""

from __future__ import annotations

from pathlib import Path

from mdcnb.analysis.governance import GOVERNANCE_TABLES
from mdcnb.history import HistoryStore, weekly_history
from mdcnb.tables import Tables


def governance_weeks(dataset: Path, store_path: Path | str | None = None, *, since: str | None = None,
                     until: str | None = None) -> dict[str, Tables]:
    """ISO week -> that week's governance tables (manifest `as_of` set), oldest first, `since`..`until`."""
    weeks = weekly_history(dataset, store_path, since=since, until=until)
    with HistoryStore(weeks.store, read_only=True) as store:
        return {s.week: store.load(s, GOVERNANCE_TABLES) for s in store.snapshots(weeks.series)
                if s.week in weeks.weeks}
