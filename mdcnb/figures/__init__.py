"""Plotly figure builders: one function per chart, taking an aggregated table and returning a `go.Figure`.

Builders never aggregate millions of rows and never plot them: they receive tables the analysis already rolled
up, and cap long category lists (`style.top`), saying so in the title. plotly.js reads HTML in every label, so names
from the cloud pass through `style.plain` (escaped) and are drawn as the text they are.
"""

from mdcnb.figures.compliance import compliance_states, pass_rate_heatmap
from mdcnb.figures.score import (
    control_severity,
    controls_ranked,
    recommendations_ranked,
    score_by_environment,
    score_by_scope,
    score_gauge,
)

__all__ = ["compliance_states", "control_severity", "controls_ranked", "pass_rate_heatmap",
           "recommendations_ranked", "score_by_environment", "score_by_scope", "score_gauge"]
