"""ipywidgets filter panels for JupyterLab: pick environments, scopes, severities, standards and dates, and every
figure and table of the panel is recomputed and redrawn in place.

The panels take their defaults from the notebook's papermill parameters and are interactive-only: the report runs
headless, where the notebooks show their full, parameter-filtered figures and the panel cells are tagged
`report-hide`. Each view keeps the last thing it rendered (`View.result`), so callbacks are testable without a
browser.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import ipywidgets as w
from IPython.display import display

from mdcnb import figures
from mdcnb.analysis import compliance, compliance_detail, score, score_detail
from mdcnb.tables import Tables

ALL = "(none selected = all)"


@dataclass(frozen=True)
class Filters:
    """What the panel currently selects; an empty tuple means everything."""

    environments: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    standards: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None


@dataclass
class View:
    """One output area of a panel: how to render it from the filters, and what it rendered last."""

    render: Callable[[Filters], Any]
    output: w.Output = field(default_factory=w.Output)
    result: Any = None
    error: str | None = None


def _multi(description: str, options: Sequence[Any], value: Iterable[Any]) -> w.SelectMultiple:
    values = {o[1] if isinstance(o, tuple) else o for o in options}
    return w.SelectMultiple(options=list(options), value=tuple(v for v in value if v in values),
                            description=description, rows=min(6, max(2, len(options))),
                            layout=w.Layout(width="32%"), style={"description_width": "80px"})


class FilterPanel:
    """Filter controls plus views that re-render whenever a control changes."""

    def __init__(self, *, environments: Sequence[str] = (), scopes: Sequence[tuple[str, str]] = (),
                 severities: Sequence[str] = (), standards: Sequence[str] = (), dates: bool = False,
                 defaults: Filters = Filters()) -> None:
        self.controls: dict[str, w.ValueWidget] = {}
        if environments:
            self.controls["environments"] = _multi("Environment", environments, defaults.environments)
        if scopes:
            self.controls["scopes"] = _multi("Scope", scopes, defaults.scopes)
        if severities:
            self.controls["severities"] = _multi("Severity", severities, defaults.severities)
        if standards:
            self.controls["standards"] = _multi("Standard", standards, defaults.standards)
        if dates:
            self.controls["since"] = w.DatePicker(description="Since", value=defaults.since)
            self.controls["until"] = w.DatePicker(description="Until", value=defaults.until)
        self.views: list[View] = []
        for control in self.controls.values():
            control.observe(lambda _change: self.refresh(), names="value")

    @property
    def filters(self) -> Filters:
        return replace(Filters(), **{name: control.value for name, control in self.controls.items()})

    def view(self, render: Callable[[Filters], Any]) -> View:
        """Add an output area showing `render(filters)` (a figure, a DataFrame or anything displayable)."""
        view = View(render)
        self.views.append(view)
        self._render(view)
        return view

    def refresh(self) -> None:
        for view in self.views:
            self._render(view)

    def _render(self, view: View) -> None:
        """Replace the view's output. The widget's `outputs` are set directly rather than captured with
        `with output:`, which headless kernels (papermill, nbval) need not support."""
        try:
            view.result, view.error = view.render(self.filters), None
        except Exception as exc:  # a filter that leaves nothing to show must not break the panel
            view.result, view.error = None, f"{type(exc).__name__}: {exc}"
        view.output.outputs = ()
        view.output.append_display_data(
            view.result if view.error is None else f"Nothing to show for this selection ({view.error})")

    @property
    def widget(self) -> w.VBox:
        hint = w.HTML(f"<small>{ALL}</small>")
        return w.VBox([w.HBox(list(self.controls.values())), hint, *(v.output for v in self.views)])

    def show(self) -> None:
        display(self.widget)


def _scope_options(tables: Tables) -> list[tuple[str, str]]:
    names = score_detail.scope_names(tables)
    subs = tables.subscriptions.sort_values("display_name")
    return [(str(names.get("/subscriptions/" + s, s)), s) for s in subs["subscription_id"]]


def _present(values: Iterable[Any]) -> list[str]:
    return sorted({str(v) for v in values if isinstance(v, str) and v})


def score_explorer(tables: Tables, *, environments: Sequence[str] = (), subscriptions: Sequence[str] = (),
                   accounts: Sequence[str] = ()) -> FilterPanel:
    """Secure score panel: controls ranked, severities behind them and the recommendations, per selection."""
    severities = [s for s in score_detail.SEVERITIES if s in set(tables.assessments["severity"].dropna())]
    panel = FilterPanel(environments=_present(tables.secure_scores["environment"]), scopes=_scope_options(tables),
                        severities=severities,
                        defaults=Filters(environments=tuple(environments), scopes=tuple(subscriptions)))

    def scope_table(f: Filters):
        return score.scopes(tables, environments=f.environments, subscriptions=f.scopes, accounts=accounts)

    def recommendations(f: Filters):
        return score_detail.control_recommendations(tables, scope_table(f), severities=f.severities)

    panel.view(lambda f: figures.controls_ranked(score.controls(tables, scope_table(f))))
    panel.view(lambda f: figures.control_severity(score_detail.severity_by_control(recommendations(f))))
    panel.view(lambda f: recommendations(f).sort_values("unhealthy", ascending=False).head(25))
    return panel


def compliance_explorer(tables: Tables, *, subscriptions: Sequence[str] = ()) -> FilterPanel:
    """Compliance panel: control states per standard, the heat map and failing controls, per selection."""
    panel = FilterPanel(scopes=_scope_options(tables), standards=_present(tables.compliance_standards["standard"]),
                        defaults=Filters(scopes=tuple(subscriptions)))
    names = score_detail.scope_names(tables)

    def selected(f: Filters):
        return compliance.standards(tables, subscriptions=f.scopes, standards=f.standards)

    panel.view(lambda f: figures.compliance_states(compliance.rollup(selected(f))))
    panel.view(lambda f: figures.pass_rate_heatmap(*compliance_detail.pass_rate_matrix(selected(f), names)))
    panel.view(lambda f: compliance.failing_controls(tables, subscriptions=f.scopes, standards=f.standards).head(25))
    return panel
