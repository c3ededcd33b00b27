"""What one filter change costs and shows: each measure and analysis computed once, figures redrawn in place in one
batch, and every control reaching every view or the view's title saying it does not (no browser).

Counting wraps the real functions (no timing): a call is counted where the panels and measures look it up.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from datetime import date
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import pytest
import score_tables as st
from IPython.core.interactiveshell import InteractiveShell
from test_widgets import _snapshot, _two_weeks, _volume

from mdcnb import widgets
from mdcnb.analysis import compliance, cost_units, coverage, score, score_detail
from mdcnb.measures import registry
from mdcnb.snapshot import Snapshot, build
from mdcnb.sources.dataset import default_dataset
from mdcnb.widgets.panel import FilterPanel, View

# Every function a score or compliance change computes, by where it is looked up: (module, name, counted as).
# (Counted as `analysis.<module>.<name>`, apart from the measures' ids.)
ANALYSIS = [(score, "scopes", "score.scopes"), (score, "filter_scopes", "score.filter_scopes"),
            (score, "controls", "score.controls"),
            (score_detail, "controls", "score.controls"),
            (score_detail, "control_recommendations", "score_detail.control_recommendations"),
            (score_detail, "recommendation_rows", "score_detail.recommendation_rows"),
            (compliance, "standards", "compliance.standards"), (compliance, "rollup", "compliance.rollup"),
            (compliance, "failing_controls", "compliance.failing_controls"),
            (compliance, "select", "compliance.select"),
            (compliance, "unhealthy_resources", "compliance.unhealthy_resources")]


@pytest.fixture(autouse=True)
def shell():
    return InteractiveShell.instance()


@pytest.fixture(scope="module")
def sample() -> Snapshot:
    return build(default_dataset(), with_history=False)


@pytest.fixture
def calls(monkeypatch) -> Counter:
    """Calls of every measure's function and of the analysis functions in `ANALYSIS`, counted as they happen."""
    counted: Counter = Counter()

    def counting(name: str, function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counted[name] += 1
            return function(*args, **kwargs)
        return wrapper

    for module, attribute, name in ANALYSIS:
        monkeypatch.setattr(module, attribute, counting(f"analysis.{name}", getattr(module, attribute)))
    for id, m in registry.measures().items():
        monkeypatch.setitem(registry.REGISTRY, id, dataclasses.replace(m, compute=counting(id, m.compute)))
    return counted



def test_a_score_change_computes_each_measure_and_analysis_once(sample, calls):
    panel = widgets.score_explorer(sample)
    options = [value for _label, value in panel.controls["scopes"].options]
    for turn, picked in enumerate([options[:1], options[1:3], options[3:4]]):
        calls.clear()
        panel.controls["scopes"].value = tuple(picked)
        assert max(calls.values()) == 1, (turn, {k: v for k, v in calls.items() if v > 1})
        for name in ("analysis.score.filter_scopes", "analysis.score.controls",
                     "analysis.score_detail.control_recommendations", "score.overall", "score.scopes",
                     "score.controls", "score.unhealthy", "score.top_control"):
            assert calls[name] == 1, (turn, name)  # what the change must compute, computed
        assert calls["analysis.score.scopes"] == 0  # every scope is scored once per snapshot: a change picks rows
        assert calls["analysis.score_detail.recommendation_rows"] == 0  # the join is made once, with the panel
    calls.clear()
    panel.controls["severities"].value = ("High",)  # the scopes stay: only what severity changes is computed
    assert calls["analysis.score_detail.control_recommendations"] == 1 and calls["score.unhealthy"] == 1
    assert calls["analysis.score.scopes"] == 0 and calls["analysis.score.controls"] == 0
    assert max(calls.values()) == 1


def test_a_compliance_change_computes_each_measure_and_analysis_once(sample, calls):
    panel = widgets.compliance_explorer(sample)
    grouped = calls["analysis.compliance.unhealthy_resources"]  # with the panel, or at its first change
    standards = list(panel.controls["standards"].options)
    scopes = [value for _label, value in panel.controls["scopes"].options]
    for turn, (name, value) in enumerate([("standards", standards[:1]), ("scopes", scopes[:2]),
                                          ("standards", standards[1:3])]):
        calls.clear()
        panel.controls[name].value = tuple(value)
        assert max(calls.values()) == 1, (turn, {k: v for k, v in calls.items() if v > 1})
        for counted in ("analysis.compliance.standards", "analysis.compliance.rollup",
                        "analysis.compliance.select", "compliance.failed_assessments",
                        "compliance.pass_rate", "compliance.by_standard"):
            assert calls[counted] == 1, (turn, counted)
        assert calls["analysis.compliance.failing_controls"] == 0  # found for every scope once: a change picks rows
        grouped += calls["analysis.compliance.unhealthy_resources"]
    assert grouped == 1  # the unhealthy resources are grouped once per snapshot, whatever the changes


def test_a_coverage_change_labels_no_plan_setting_again(sample, monkeypatch):
    """The plan matrix's cells are labelled once, with the panel; a change selects and pivots them."""
    panel = widgets.coverage_explorer(sample)
    labelled: Counter = Counter()
    label = coverage._plan_label
    monkeypatch.setattr(coverage, "_plan_label", lambda row: labelled.update(["cell"]) or label(row))
    scope = panel.controls["scopes"].options[0][1]
    panel.controls["scopes"].value = (scope,)
    shown = panel.views[3].result
    assert labelled["cell"] == 0
    settings = cost_units.plan_settings(sample.tables)
    assert shown.equals(coverage.plan_matrix(settings[settings["subscription_id"] == scope],
                                             cost_units.scope_names(sample.tables)))
    assert len(shown) >= 1


def _widget_messages(figure: go.FigureWidget) -> Counter:
    """The messages a FigureWidget sends its browser view, counted by kind as it sends them."""
    sent: Counter = Counter()
    for kind in ("update", "relayout", "restyle", "addTraces", "deleteTraces", "moveTraces"):
        send = getattr(figure, f"_send_{kind}_msg")
        setattr(figure, f"_send_{kind}_msg", lambda *a, _kind=kind, _send=send, **k: (
            sent.update([_kind]), _send(*a, **k))[1])
    return sent


def test_a_change_redraws_the_same_figure_widget_in_one_batch():
    panel = widgets.score_explorer(_snapshot(st.tables()), environments=["Azure"])
    ranked = panel.views[1]
    widget, shown = ranked.figure, ranked.output.outputs
    assert isinstance(widget, go.FigureWidget) and list(widget.data[0].y) == ["Enable MFA"]
    sent = _widget_messages(widget)
    panel.controls["environments"].value = ("AWS",)
    assert ranked.figure is widget and ranked.output.outputs == shown  # the view still shows the same widget
    assert list(widget.data[0].y) == ["Encrypt data"]  # whose data changed
    assert sent == Counter({"update": 1})  # in one batch: one message, no trace added or deleted
    assert list(widget.data[0].x) == list(ranked.result.data[0].x)


def test_a_figure_shown_again_after_a_notice_is_not_printed_as_text(monkeypatch):
    """Back from a notice, the view shows its FigureWidget again: its widget view and title, without IPython's text
    form of the widget (which printed every data point of the figure)."""
    panel = FilterPanel(scopes=[("one", "s1"), ("two", "s2")])
    bars = go.Figure(go.Bar(x=["a"], y=[1])).update_layout(title_text="Bars")
    view = panel.view(lambda f: go.Figure() if f.scopes == ("s2",) else bars, "recommendations")
    printed = Counter()
    monkeypatch.setattr(go.FigureWidget, "__repr__", lambda self: printed.update(["repr"]) or "FigureWidget")
    panel.controls["scopes"].value = ("s2",)
    assert view.notice is not None
    panel.controls["scopes"].value = ()
    shown = view.output.outputs[0]["data"]
    assert shown["application/vnd.jupyter.widget-view+json"]["model_id"] == view.figure.model_id
    assert shown["text/plain"] == "FigureWidget: Bars"
    assert printed["repr"] == 0


# ---------------------------------------------------------------- every control reaches every view, or says not

def _seen(view: View) -> str:
    """What a view shows, as comparable text: a figure's traces (without widget ids), a table, or text."""
    result = view.result
    if isinstance(result, go.Figure):
        return json.dumps([{k: v for k, v in json.loads(t.to_json()).items() if k != "uid"} for t in result.data])
    if isinstance(result, pd.DataFrame):
        return result.to_json(date_format="iso")
    return f"{view.error} {result!r}"


NOTES = {"environments": "all environments", "scopes": "all subscriptions", "accounts": "all accounts",
         "severities": "all severities", "standards": "all standards", "regions": "all regions",
         "owners": "all owners", "risks": "all risk levels", "since": "whole window", "until": "whole window"}


def _selections(panel: FilterPanel, name: str, days: list[date]) -> list[Any]:
    control = panel.controls[name]
    if name in ("since", "until"):
        return days
    return [(o[1] if isinstance(o, tuple) else o,) for o in control.options]


def _every_control_reaches_every_view(panel: FilterPanel, days: list[date] = ()) -> None:
    """For each control, each view either shows other data under some selection of it, or its title says it is not
    filtered by it while it selects something."""
    for name, control in panel.controls.items():
        before = [_seen(v) for v in panel.views]
        reached = [False] * len(panel.views)
        titled = [False] * len(panel.views)
        for value in _selections(panel, name, list(days)):
            control.value = value
            for i, view in enumerate(panel.views):
                reached[i] |= _seen(view) != before[i]
                titled[i] |= NOTES[name] in (view.title or "")
        control.value = () if name not in ("since", "until") else None
        for i, view in enumerate(panel.views):
            assert reached[i] or titled[i], f"{name} neither reaches view {i} ({view.subject}) nor its title"


def test_the_score_panel_names_severity_in_the_controls_title():
    panel = widgets.score_explorer(_snapshot(st.tables()))
    panel.controls["severities"].value = ("High",)
    assert panel.views[1].title.endswith("(all severities)")
    assert panel.views[1].figure.layout.title.text == panel.views[1].title  # as the chart shows it
    assert panel.views[1].heading.value == ""  # and only there: no heading repeats it above the chart
    panel.controls["severities"].value = ()
    assert "(all" not in panel.views[1].title
    _every_control_reaches_every_view(panel)


def test_every_compliance_control_reaches_every_view(sample):
    _every_control_reaches_every_view(widgets.compliance_explorer(sample))


def test_every_coverage_control_reaches_every_view_or_says_not(sample):
    panel = widgets.coverage_explorer(sample)
    panel.controls["accounts"].value = (panel.controls["accounts"].options[0][1],)
    assert panel.views[3].title == "Defender plans per scope (all accounts)"  # the plan matrix: by scope only
    assert panel.views[6].title == "Onboarding pitfalls"
    assert panel.views[6].heading.value == "<b>Onboarding pitfalls</b>"  # a table's caption is its heading
    panel.controls["accounts"].value = ()
    _every_control_reaches_every_view(panel)


def test_every_cloudtrail_control_reaches_every_view_or_says_not():
    volume, hourly = _volume()
    panel = widgets.cloudtrail_explorer(_snapshot(st.tables(), cloudtrail=(volume, hourly)))
    panel.controls["regions"].value = ("eu-west-1",)
    assert panel.views[0].title == "Headline numbers (all regions)"  # the CSPM measures cover every region
    panel.controls["regions"].value = ()
    _every_control_reaches_every_view(panel, [date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 4)])


def test_every_summary_control_reaches_every_view_or_says_not():
    panel = widgets.summary_explorer(_two_weeks())
    panel.controls["since"].value = date(2026, 11, 23)
    assert panel.views[2].title.endswith("(whole window)")  # this week's score per scope
    panel.controls["since"].value = None
    _every_control_reaches_every_view(panel, [date(2026, 11, 16), date(2026, 11, 23), date(2026, 11, 29)])


def test_every_governance_control_reaches_every_view_or_says_not(sample):
    panel = widgets.governance_explorer(sample)
    _every_control_reaches_every_view(panel)
    panel.controls["risks"].value = ("High",)
    assert panel.views[4].title == "Exemptions (all risk levels)"
