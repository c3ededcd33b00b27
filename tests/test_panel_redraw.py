"""A redraw shows what a fresh panel shows: after several changes (views kept while only controls they do not
follow changed, figures rebuilt in one batch, the hourly grid's layout reused), every view of a panel equals that of
a panel built anew with the final selection as its defaults (no browser). And a view that does not follow the
control that changed is not computed again.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
import pytest
from IPython.core.interactiveshell import InteractiveShell

from mdcnb import widgets
from mdcnb.analysis import coverage
from mdcnb.snapshot import Snapshot, build
from mdcnb.sources.dataset import default_dataset
from mdcnb.widgets.panel import FilterPanel


@pytest.fixture(autouse=True)
def shell():
    return InteractiveShell.instance()


@pytest.fixture(scope="module")
def sample() -> Snapshot:
    return build(default_dataset())


def _shown(panel: FilterPanel) -> list[Any]:
    """What each view shows: its figure widget's JSON (trace uids aside: each widget numbers its own), else the
    output's mime bundle, with its title."""
    shown = []
    for view in panel.views:
        if view.showing is view.figure and view.figure is not None:
            figure = json.loads(pio.to_json(view.figure.to_dict()))
            for trace in figure["data"]:
                trace.pop("uid", None)
            shown.append((view.title, figure))
        else:
            shown.append((view.title, view.heading.value, view.output.outputs))
    return shown


def _values(panel: FilterPanel, name: str) -> list[Any]:
    return [o[1] if isinstance(o, tuple) else o for o in panel.controls[name].options]


def _same_as_fresh(panel: FilterPanel, fresh: Callable[[], FilterPanel]) -> None:
    again = fresh()
    assert again.filters == panel.filters
    for index, (now, anew) in enumerate(zip(_shown(panel), _shown(again), strict=True)):
        assert now == anew, index


def test_coverage_after_changes_shows_what_a_fresh_panel_shows(sample):
    panel = widgets.coverage_explorer(sample)
    scopes, accounts = _values(panel, "scopes"), _values(panel, "accounts")
    panel.controls["scopes"].value = (scopes[0],)  # the readiness views follow no scope: kept, titled anew
    panel.controls["accounts"].value = tuple(accounts[:1])  # they follow accounts: redrawn
    panel.controls["scopes"].value = ()
    _same_as_fresh(panel, lambda: widgets.coverage_explorer(sample, accounts=accounts[:1]))
    panel.controls["environments"].value = ("Azure",)  # no AWS: no readiness rows
    panel.controls["scopes"].value = (scopes[1],)
    _same_as_fresh(panel, lambda: widgets.coverage_explorer(sample, environments=["Azure"], subscriptions=[scopes[1]],
                                                            accounts=accounts[:1]))


def test_cloudtrail_after_changes_shows_what_a_fresh_panel_shows(sample):
    panel = widgets.cloudtrail_explorer(sample)
    accounts = _values(panel, "accounts")
    assert len(accounts) >= 3
    for picked in [accounts[:1], accounts[1:3], (), accounts[2:]]:  # grids of 1, 2, every and the last accounts
        panel.controls["accounts"].value = tuple(picked)
    _same_as_fresh(panel, lambda: widgets.cloudtrail_explorer(sample, accounts=accounts[2:]))
    panel.controls["accounts"].value = tuple(accounts[:2])
    _same_as_fresh(panel, lambda: widgets.cloudtrail_explorer(sample, accounts=accounts[:2]))
    panel.controls["accounts"].value = ()  # everything again: what was rendered for it at first, shown anew
    _same_as_fresh(panel, lambda: widgets.cloudtrail_explorer(sample))


def test_summary_after_changes_shows_what_a_fresh_panel_shows(sample):
    panel = widgets.summary_explorer(sample)
    scopes = _values(panel, "scopes")
    for picked in [scopes[:1], scopes[1:3], (), scopes[3:4]]:
        panel.controls["scopes"].value = tuple(picked)
    _same_as_fresh(panel, lambda: widgets.summary_explorer(sample, subscriptions=scopes[3:4]))
    panel.controls["environments"].value = ("AWS",)
    _same_as_fresh(panel, lambda: widgets.summary_explorer(sample, environments=["AWS"], subscriptions=scopes[3:4]))


def test_a_scope_change_computes_no_view_that_follows_no_scope(sample, monkeypatch):
    """The coverage page's readiness views follow environment and account only: a scope change leaves them as they
    are (their titles then say "all subscriptions"), while the views that follow scopes are redrawn."""
    panel = widgets.coverage_explorer(sample)
    called: Counter = Counter()
    for name in ("pitfall_counts", "pitfalls", "connectors_by_environment"):
        function = getattr(coverage, name)
        monkeypatch.setattr(coverage, name, lambda *a, _f=function, _n=name, **k: called.update([_n]) or _f(*a, **k))
    pitfalls = panel.views[5].figure
    panel.controls["scopes"].value = (_values(panel, "scopes")[0],)
    assert called == Counter({"connectors_by_environment": 1})
    assert panel.views[5].figure is pitfalls and isinstance(pitfalls, go.FigureWidget)
    assert pitfalls.layout.title.text == "Onboarding pitfalls found in the data (all subscriptions)"
    assert panel.views[6].title == "Onboarding pitfalls (all subscriptions)"
    panel.controls["accounts"].value = (_values(panel, "accounts")[0],)
    assert called["pitfall_counts"] == 1 and called["pitfalls"] == 2  # the table's, and the one inside the counts
