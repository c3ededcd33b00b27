"""The report's template on every chart: the same figure as plotly makes from the template's name, without plotly
copying and validating the whole template again for each chart (most of what building a small chart cost)."""

from __future__ import annotations

from collections import Counter

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from mdcnb.figures import history, style


def _bars() -> go.Figure:
    return go.Figure(go.Bar(x=["a", "b"], y=[1, 2]))


def test_white_is_the_figure_plotly_makes_from_the_template_name():
    named = _bars().update_layout(template="plotly_white")
    assert pio.to_json(style.white(_bars())) == pio.to_json(named)  # same properties, in the same order


def test_a_chart_is_built_without_constructing_a_template(monkeypatch):
    style.layout(go.Figure(), "first chart")  # the template is validated once per process
    built: Counter = Counter()
    construct = go.layout.Template.__init__

    def counting(self, *args, **kwargs):
        built["template"] += "_parent" not in kwargs  # a template built from properties (a view of one is not)
        construct(self, *args, **kwargs)

    monkeypatch.setattr(go.layout.Template, "__init__", counting)
    style.layout(_bars(), "a chart")
    history.score_trend(history_points())
    assert built["template"] == 0


def test_the_rest_of_the_figure_stays_validated_and_each_figure_owns_its_template():
    fig = style.white(_bars())
    with pytest.raises(ValueError):
        fig.update_layout(no_such_property=1)
    fig.layout.template.layout.font.size = 30
    assert style.white(_bars()).layout.template.layout.font.size is None


def history_points() -> pd.DataFrame:
    return pd.DataFrame({"scope_id": ["overall"] * 2, "name": ["Overall"] * 2, "week": ["2026-W47", "2026-W48"],
                         "percentage": [50.0, 60.0]})
