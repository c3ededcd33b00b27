"""Figure builders: what each chart plots, in which order, and how long lists are capped."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from mdcnb import figures
from mdcnb.figures import style


def scope_table(n: int) -> pd.DataFrame:
    return pd.DataFrame({"scope_id": [f"/subscriptions/s{i}" for i in range(n)],
                         "name": [f"sub-{i}" for i in range(n)], "environment": ["Azure"] * (n - 1) + ["AWS"],
                         "percentage": [float(90 - 10 * i) for i in range(n)], "current": [1.0] * n,
                         "max": [2.0] * n})


def test_gauge_shows_the_percentage():
    indicator = figures.score_gauge(38.59).data[0]
    assert indicator.value == 38.59 and tuple(indicator.gauge.axis.range) == (0, 100)
    assert indicator.number.valueformat == ".2f"  # 38.59, as the headlines and index.html write it


def test_environment_bars_are_labelled_and_coloured():
    env = pd.DataFrame({"environment": ["AWS", "Azure"], "percentage": [40.0, 55.57], "current": [2, 9],
                        "max": [5, 20], "scopes": [1, 2]})
    bar = figures.score_by_environment(env).data[0]
    assert list(bar.x) == ["AWS", "Azure"] and list(bar.text) == ["40.00 %", "55.57 %"]
    assert list(bar.marker.color) == ["#ff9900", "#0078d4"]


def test_scopes_lowest_first_capped_and_split_by_environment():
    fig = figures.score_by_scope(scope_table(5), limit=3)
    assert fig.layout.title.text == "Secure score by scope, lowest first (top 3 of 5)"
    assert list(fig.layout.yaxis.categoryarray) == ["sub-4", "sub-3", "sub-2"]  # 50, 60, 70 %
    by_env = {t.name: list(t.y) for t in fig.data}
    assert by_env == {"AWS": ["sub-4"], "Azure": ["sub-3", "sub-2"]}


def test_scopes_sharing_a_name_stay_apart():
    table = scope_table(2).assign(name=["same", "same"])
    fig = figures.score_by_scope(table)
    assert list(fig.layout.yaxis.categoryarray) == ["same · …tions/s1", "same · …tions/s0"]


def test_controls_ranked_by_potential_increase():
    controls = pd.DataFrame({"control_name": ["a", "b", "c"], "potential_increase": [1.5, 17.57, 0.0],
                             "current": [1, 2, 3], "max": [4, 10, 3], "unhealthy": [3, 17, 0]})
    bar = figures.controls_ranked(controls, limit=2).data[0]
    assert list(bar.y) == ["b", "a"] and list(bar.text) == ["+17.57 pts", "+1.50 pts"]


def test_control_severity_stacks_in_severity_order():
    table = pd.DataFrame({"control_name": ["x", "x", "y"], "severity": ["Low", "High", "Low"],
                          "unhealthy": [4, 2, 1]})
    fig = figures.control_severity(table, order=["y", "x", "not plotted"])
    assert [t.name for t in fig.data] == ["High", "Low"]
    assert list(fig.data[1].y) == ["x", "y"] and list(fig.data[1].x) == [4, 1]
    assert list(fig.layout.yaxis.categoryarray) == ["y", "x"] and fig.layout.barmode == "stack"


def test_recommendations_ranked_most_unhealthy_on_top_coloured_by_severity():
    long = "Adaptive application controls for defining safe applications should be enabled on your machines"
    recs = pd.DataFrame({"control_name": ["C1", "C1", "C2", "C2"], "assessment_key": ["k1", "k2", "k3", "k4"],
                         "recommendation": [long, "<img src=x onerror=alert(1)>", "MFA", "healthy one"],
                         "severity": ["High", "Low", "High", "Medium"], "unhealthy": [3, 9, 5, 0],
                         "potential_increase": [1.0, 1.0, 2.0, 2.0]})
    fig = figures.recommendations_ranked(recs, limit=2, label_chars=20)
    # the two with most unhealthy resources (9, 5), the healthy one never; k1 (3) left out and counted in the title
    shown = "&lt;img src=x onerror=…"  # plotly draws it as text
    assert list(fig.layout.yaxis.categoryarray) == [shown, "MFA"]
    assert {t.name: (list(t.y), list(t.x)) for t in fig.data} == {"High": (["MFA"], [5]), "Low": ([shown], [9])}
    assert [t.marker.color for t in fig.data] == [style.SEVERITY_COLORS["High"], style.SEVERITY_COLORS["Low"]]
    assert "(top 2 of 3)" in fig.layout.title.text


def test_compliance_states_stack_per_standard_with_pass_rate():
    rollup = pd.DataFrame({"standard": ["PCI", "Empty"], "passed_controls": [1, 0], "failed_controls": [3, 0],
                           "skipped_controls": [2, 0], "unsupported_controls": [5, 7], "pass_rate": [0.25, math.nan]})
    fig = figures.compliance_states(rollup)
    assert [t.name for t in fig.data] == ["Passed", "Failed", "Skipped", "Unsupported"]
    assert list(fig.data[0].y) == ["PCI (25.0 %)", "Empty (n/a)"] and list(fig.data[3].x) == [5, 7]


def test_heatmap_in_percent_with_blanks():
    matrix = pd.DataFrame({"ISO": [math.nan, 1.0], "PCI": [0.0, 0.5]}, index=["B", "A"])
    heat = figures.pass_rate_heatmap(matrix, " (lowest 2 of 9 scopes)")
    assert [list(r) for r in heat.data[0].text] == [["", "0.0 %"], ["100.0 %", "50.0 %"]]
    assert heat.data[0].z[1][1] == pytest.approx(50.0)
    assert heat.layout.title.text.endswith("(lowest 2 of 9 scopes)")
