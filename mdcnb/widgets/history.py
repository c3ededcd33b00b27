"""The summary page's panel: the selection's score this week and its change, week by week, and the score trend."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from mdcnb import figures
from mdcnb.analysis import history as trends
from mdcnb.core.weeks import iso_week
from mdcnb.figures import history as history_figures
from mdcnb.measures import registry
from mdcnb.measures.history import score_trend, trend
from mdcnb.snapshot import Snapshot
from mdcnb.widgets.panel import FilterPanel, Filters, day, measures_of, present, scope_options

HEADLINES = ("score.overall", "history.score_change")


def in_range(points: pd.DataFrame, f: Filters) -> pd.DataFrame:
    """The rows of a per-week table whose ISO week lies in the panel's date range."""
    first, last = iso_week(f.since) if f.since else "", iso_week(f.until) if f.until else "~"
    return points[(points["week"] >= first) & (points["week"] <= last)].reset_index(drop=True)


def weekly_scores(snapshot: Snapshot, f: Filters) -> pd.DataFrame:
    """The selection's overall score per stored week in the panel's date range (a trend of the registry's
    `score.overall`), with the change since the week before."""
    points = in_range(trend("score.overall", snapshot, f.measures()), f)
    percentage = pd.to_numeric(points["value"]).astype("float64")
    return pd.DataFrame({"week": points["week"], "percentage": percentage, "change": percentage.diff().round(2)})


def summary_explorer(snapshot: Snapshot, *, environments: Sequence[str] = (), subscriptions: Sequence[str] = (),
                     since: str | None = None, until: str | None = None, movers: int = 8,
                     mask: Callable[[Any], Any] | None = None) -> FilterPanel:
    """Summary panel: every view follows environment and scope, and all but this week's score per scope (whose title
    says so) the week range; the scope choices are this week's."""
    latest = snapshot.tables
    panel = FilterPanel(environments=present(latest.secure_scores["environment"]), scopes=scope_options(latest),
                        dates=True, defaults=Filters(environments=tuple(environments), scopes=tuple(subscriptions),
                                                     since=day(since), until=day(until)), mask=mask)

    def scope_trend(f: Filters) -> pd.DataFrame:
        return in_range(score_trend(snapshot, f.measures()), f)

    panel.view(lambda f: measures_of(snapshot, HEADLINES, f.measures()), "headlines")
    panel.view(lambda f: weekly_scores(snapshot, f), "weekly_scores", caption="Secure score week by week")
    panel.view(lambda f: figures.score_by_scope(registry.value("score.by_scope", snapshot, f.measures())),
               "scope_scores", ignores=("since", "until"))
    panel.view(lambda f: history_figures.score_trend(trends.score_movers(scope_trend(f), count=movers)),
               "weekly_scores")
    return panel
