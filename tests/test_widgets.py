"""Filter panels: defaults from the parameters, and every control change re-rendering the views (no browser)."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest
import score_tables as st
from IPython.core.interactiveshell import InteractiveShell

from mdcnb import widgets
from mdcnb.widgets import FilterPanel, Filters


@pytest.fixture(autouse=True)
def shell():
    return InteractiveShell.instance()  # so views format their results into widget outputs as a kernel would


def test_panel_takes_defaults_and_reports_filters():
    panel = FilterPanel(environments=["AWS", "Azure"], scopes=[("Prod", "s1"), ("Dev", "s2")],
                        severities=["High", "Low"], dates=True,
                        defaults=Filters(environments=("AWS", "Nowhere"), scopes=("s2",)))
    assert panel.filters == Filters(environments=("AWS",), scopes=("s2",))
    assert "standards" not in panel.controls


def test_changing_a_control_rerenders_every_view():
    panel = FilterPanel(environments=["AWS", "Azure"], severities=["High", "Low"])
    seen: list[Filters] = []
    first = panel.view(lambda f: seen.append(f) or f"{len(seen)}: {f.environments}")
    second = panel.view(lambda f: f.severities)
    panel.controls["environments"].value = ("Azure",)
    panel.controls["severities"].value = ("High",)
    assert first.result == "3: ('Azure',)" and second.result == ("High",)
    assert [f.environments for f in seen] == [(), ("Azure",), ("Azure",)]
    assert first.output.outputs[0]["data"]["text/plain"] == "\"3: ('Azure',)\""


def test_a_failing_view_shows_why_and_recovers():
    panel = FilterPanel(environments=["AWS", "Azure"])
    view = panel.view(lambda f: 1 / len(f.environments))
    assert view.result is None and view.error == "ZeroDivisionError: division by zero"
    assert "Nothing to show for this selection" in view.output.outputs[0]["data"]["text/plain"]
    panel.controls["environments"].value = ("AWS", "Azure")
    assert view.result == 0.5 and view.error is None


def test_score_explorer_follows_the_environment_filter():
    panel = widgets.score_explorer(st.tables(), environments=["Azure"])
    ranked, stacked, table = (v.result for v in panel.views)
    assert isinstance(ranked, go.Figure) and list(ranked.data[0].y) == ["Enable MFA"]
    assert [t.name for t in stacked.data] == ["High", "Medium"]
    assert set(table["control_name"]) == {"Enable MFA"}
    panel.controls["environments"].value = ("AWS",)
    assert list(panel.views[0].result.data[0].y) == ["Encrypt data"]
    panel.controls["severities"].value = ("High",)
    assert panel.views[2].result.empty  # the AWS control has only a Low recommendation
