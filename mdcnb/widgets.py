"""ipywidgets filter panels for JupyterLab: pick environments, scopes, severities, standards, accounts, regions and
dates, and every figure and table of the panel is recomputed and redrawn in place.

The panels take their defaults from the notebook's papermill parameters and are interactive-only: the report runs
headless, where the notebooks show their full, parameter-filtered figures and the panel cells are tagged
`report-hide`. Each view keeps the last thing it rendered (`View.result`), so callbacks are testable without a
browser. A view whose selection leaves nothing to draw (a figure without data points, a table without rows) shows a
short text naming the selection instead (`View.notice`; wording in `widget_texts.json`).
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import ipywidgets as w
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from IPython.core.interactiveshell import InteractiveShell
from IPython.display import HTML, display

from mdcnb import figures
from mdcnb.analysis import (
    cloudtrail,
    compliance,
    compliance_detail,
    cost,
    coverage,
    governance,
    score,
    score_detail,
    trends,
)
from mdcnb.figures import cloudtrail as cloudtrail_figures
from mdcnb.figures import coverage as coverage_figures
from mdcnb.figures import history as history_figures
from mdcnb.tables import Tables

ALL = "(none selected = all)"
# The multiple-choice controls in the order the panel shows them: (Filters field, label, whether ids are masked).
CHOICES = (("environments", "Environment", False), ("scopes", "Scope", True), ("severities", "Severity", False),
           ("standards", "Standard", False), ("accounts", "Account", True), ("regions", "Region", False),
           ("owners", "Owner", False), ("risks", "Risk level", False))
# The panels' human text (empty-selection notices), as data beside this module.
TEXTS: dict[str, Any] = json.loads(Path(__file__).with_name("widget_texts.json").read_text(encoding="utf-8"))
# Trace fields that hold a figure's data points (`value`: an indicator's single number).
_POINT_FIELDS = ("x", "y", "z", "values", "labels", "value")


@dataclass(frozen=True)
class Filters:
    """What the panel currently selects; an empty tuple means everything."""

    environments: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    standards: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    risks: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None


@dataclass
class View:
    """One output area of a panel: how to render it from the filters, and what it rendered last. `subject` (a key
    of `subjects` in `widget_texts.json`) names what the view shows, for the notice of an empty selection."""

    render: Callable[[Filters], Any]
    subject: str | None = None
    output: w.Output = field(default_factory=w.Output)
    result: Any = None
    error: str | None = None
    notice: str | None = None


def is_empty(result: Any) -> bool:
    """Whether a view's result has nothing to draw: a plotly figure without a data point or a table without rows
    (which would show as bare axes or bare headers, indistinguishable from something broken)."""
    if isinstance(result, pd.DataFrame):
        return result.empty
    if isinstance(result, go.Figure):
        return not any(_has_points(trace.to_plotly_json()) for trace in result.data)
    return False


def _has_points(trace: Mapping[str, Any]) -> bool:
    return any(trace.get(name) is not None and (not hasattr(trace[name], "__len__") or len(trace[name]) > 0)
               for name in _POINT_FIELDS)


def display_data(obj: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The mime bundle `display(obj)` shows, for a view's output. Plotly figures display themselves
    (`_ipython_display_`): formatting them the usual way prints them beside the panel, where no redraw reaches, and
    leaves the view empty. They give their bundle instead (plotly's own mimetype when the default renderer is an
    external one, such as a browser tab)."""
    if isinstance(obj, go.Figure):
        bundle = obj._repr_mimebundle_() or pio.renderers["plotly_mimetype"].to_mimebundle(obj.to_dict())
        return bundle, {}
    return InteractiveShell.instance().display_formatter.format(obj)


def _multi(description: str, options: Sequence[Any], value: Iterable[Any],
           label: Callable[[Any], Any] | None = None) -> w.SelectMultiple:
    """A multiple choice; `label` rewrites what the options show (their values stay as given)."""
    values = {o[1] if isinstance(o, tuple) else o for o in options}
    if label:
        options = [(label(o[0]), o[1]) if isinstance(o, tuple) else (label(o), o) for o in options]
    return w.SelectMultiple(options=list(options), value=tuple(v for v in value if v in values),
                            description=description, rows=min(6, max(2, len(options))),
                            layout=w.Layout(width="32%"), style={"description_width": "80px"})


class FilterPanel:
    """Filter controls plus views that re-render whenever a control changes."""

    def __init__(self, *, environments: Sequence[str] = (), scopes: Sequence[tuple[str, str]] = (),
                 severities: Sequence[str] = (), standards: Sequence[str] = (),
                 accounts: Sequence[str | tuple[str, str]] = (), regions: Sequence[str] = (),
                 owners: Sequence[str] = (), risks: Sequence[str] = (), dates: bool = False,
                 defaults: Filters = Filters(), mask: Callable[[Any], Any] | None = None) -> None:
        """`mask` (a notebook's `page.mask`) replaces ids in what the panel shows: option labels and every view's
        output; filters and `View.result` keep the real ids."""
        self.mask = mask or (lambda obj: obj)
        self.controls: dict[str, w.ValueWidget] = {}
        choices = {"environments": environments, "scopes": scopes, "severities": severities,
                   "standards": standards, "accounts": accounts, "regions": regions, "owners": owners,
                   "risks": risks}
        for name, description, masked in CHOICES:
            if choices[name]:
                self.controls[name] = _multi(description, choices[name], getattr(defaults, name),
                                             mask if masked else None)
        if dates:
            self.controls["since"] = w.DatePicker(description="Since", value=defaults.since)
            self.controls["until"] = w.DatePicker(description="Until", value=defaults.until)
        self.views: list[View] = []
        for control in self.controls.values():
            control.observe(lambda _change: self.refresh(), names="value")

    @property
    def filters(self) -> Filters:
        return replace(Filters(), **{name: control.value for name, control in self.controls.items()})

    def view(self, render: Callable[[Filters], Any], subject: str | None = None) -> View:
        """Add an output area showing `render(filters)` (a figure, a DataFrame or anything displayable); `subject`
        names what it shows when the selection matches nothing (a key of `subjects` in `widget_texts.json`)."""
        view = View(render, subject)
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
        view.notice = self.notice(view.subject) if view.error is None and is_empty(view.result) else None
        if view.error is not None:
            shown = self.mask(f"Nothing to show for this selection ({view.error})")
        elif view.notice is not None:
            shown = HTML(f"<p><em>{html.escape(view.notice)}</em></p>")
        else:
            shown = self.mask(view.result)
        data, metadata = display_data(shown)
        view.output.outputs = ({"output_type": "display_data", "data": data, "metadata": metadata},)

    def notice(self, subject: str | None) -> str:
        """What a view shows when the selection matches nothing, e.g. "No CloudTrail events for account 1234 from
        2026-11-06 to 2026-11-26.": the selected options as their controls label them (masked ids stay masked)."""
        phrases = []
        for name, (one, many) in TEXTS["selection"].items():
            labels = self.controls[name].label if name in self.controls else ()
            if labels:
                phrases.append((one if len(labels) == 1 else many).format(values=", ".join(map(str, labels))))
        f = self.filters
        window = "both" if f.since and f.until else "since" if f.since else "until" if f.until else None
        if window:
            phrases.append(TEXTS["dates"][window].format(since=_iso(f.since), until=_iso(f.until)))
        text = TEXTS["empty"].format(subject=TEXTS["subjects"][subject] if subject else TEXTS["default_subject"],
                                     selection="".join(" " + p for p in phrases))
        return self.mask(text)

    @property
    def widget(self) -> w.VBox:
        hint = w.HTML(f"<small>{ALL}</small>")
        controls = w.HBox(list(self.controls.values()), layout=w.Layout(flex_flow="row wrap"))
        return w.VBox([controls, hint, *(v.output for v in self.views)])

    def show(self) -> None:
        display(self.widget)


def _scope_options(tables: Tables) -> list[tuple[str, str]]:
    names = score_detail.scope_names(tables)
    subs = tables.subscriptions.sort_values("display_name")
    return [(str(names.get("/subscriptions/" + s, s)), s) for s in subs["subscription_id"]]


def _present(values: Iterable[Any]) -> list[str]:
    return sorted({str(v) for v in values if isinstance(v, str) and v})


def _day(value: date | str | None) -> date | None:
    """A papermill date parameter (ISO text) as the date a DatePicker holds."""
    return None if value is None or isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


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

    panel.view(lambda f: figures.controls_ranked(score.controls(tables, scope_table(f))), "score_controls")
    panel.view(lambda f: figures.control_severity(score_detail.severity_by_control(recommendations(f))),
               "recommendations")
    panel.view(lambda f: recommendations(f).sort_values("unhealthy", ascending=False).head(25), "recommendations")
    return panel


def compliance_explorer(tables: Tables, *, subscriptions: Sequence[str] = ()) -> FilterPanel:
    """Compliance panel: control states per standard, the heat map and failing controls, per selection."""
    panel = FilterPanel(scopes=_scope_options(tables), standards=_present(tables.compliance_standards["standard"]),
                        defaults=Filters(scopes=tuple(subscriptions)))
    names = score_detail.scope_names(tables)

    def selected(f: Filters):
        return compliance.standards(tables, subscriptions=f.scopes, standards=f.standards)

    panel.view(lambda f: figures.compliance_states(compliance.rollup(selected(f))), "compliance_controls")
    panel.view(lambda f: figures.pass_rate_heatmap(*compliance_detail.pass_rate_matrix(selected(f), names)),
               "compliance_controls")
    panel.view(lambda f: compliance.failing_controls(tables, subscriptions=f.scopes, standards=f.standards).head(25),
               "failing_controls")
    return panel


def summary_explorer(weeks: Mapping[str, Tables], *, environments: Sequence[str] = (),
                     subscriptions: Sequence[str] = (), since: str | None = None, until: str | None = None,
                     movers: int = 8, mask: Callable[[Any], Any] | None = None) -> FilterPanel:
    """Summary panel: the selection's overall score week by week, its scopes this week, and the score trend.

    `weeks` maps ISO week -> tables, oldest first (`WeeklyHistory.weeks`); the scope choices are the last week's.
    """
    latest = list(weeks.values())[-1]
    panel = FilterPanel(environments=_present(latest.secure_scores["environment"]), scopes=_scope_options(latest),
                        dates=True, defaults=Filters(environments=tuple(environments), scopes=tuple(subscriptions),
                                                     since=_day(since), until=_day(until)), mask=mask)

    def trend(f: Filters) -> pd.DataFrame:
        return trends.score_trend(trends.weeks_between(weeks, f.since, f.until), environments=f.environments,
                                  subscriptions=f.scopes)

    panel.view(lambda f: trends.overall_by_week(trend(f)), "weekly_scores")
    panel.view(lambda f: figures.score_by_scope(score.scopes(latest, environments=f.environments,
                                                             subscriptions=f.scopes)), "scope_scores")
    panel.view(lambda f: history_figures.score_trend(trends.score_movers(trend(f), count=movers)), "weekly_scores")
    return panel


def _account_options(*frames: tuple[pd.DataFrame, str, str]) -> list[tuple[str, str]]:
    """(`name (id)`, id) per account id found in the (frame, id column, name column) given."""
    names: dict[str, str] = {}
    for frame, id_column, name_column in frames:
        for account, name in zip(frame[id_column], frame[name_column], strict=True):
            if isinstance(account, str) and account:
                names[account] = names.get(account) or (name if isinstance(name, str) else "")
    return [(f"{name} ({account})" if name else account, account) for account, name in sorted(names.items())]


def coverage_explorer(tables: Tables, audit_results: pd.DataFrame, *, environments: Sequence[str] = (),
                      subscriptions: Sequence[str] = (), accounts: Sequence[str] = (),
                      mask: Callable[[Any], Any] | None = None) -> FilterPanel:
    """Coverage panel: connectors, the plan matrix, plans off where resources exist and the AWS pitfalls found,
    per environment, subscription and account (`audit_results`: the readiness audit's `results`)."""
    settings, names = cost.plan_settings(tables), cost.scope_names(tables)
    units = cost.billable_units(tables)
    panel = FilterPanel(
        environments=_present([*settings["environment"], *tables.connectors["environment"]]),
        scopes=_scope_options(tables),
        accounts=_account_options((tables.connectors, "hierarchy_id", "account_name"),
                                  (audit_results, "account_id", "account_name")),
        defaults=Filters(environments=tuple(environments), scopes=tuple(subscriptions), accounts=tuple(accounts)),
        mask=mask)

    def connectors(f: Filters) -> pd.DataFrame:
        return coverage.select(tables.connectors, environments=f.environments, subscriptions=f.scopes,
                               accounts=f.accounts, account_column="hierarchy_id")

    def plan_settings(f: Filters) -> pd.DataFrame:
        return coverage.select(settings, environments=f.environments, subscriptions=f.scopes)

    def audit(f: Filters) -> pd.DataFrame:
        return coverage.audit_selection(audit_results, environments=f.environments, accounts=f.accounts)

    panel.view(lambda f: coverage_figures.connectors_by_environment(coverage.connectors_by_environment(connectors(f))),
               "connectors")
    panel.view(lambda f: coverage.connectors_overview(connectors(f)), "connectors")
    panel.view(lambda f: coverage.plan_matrix(plan_settings(f), names), "plans")
    panel.view(lambda f: coverage.plans_off_with_resources(plan_settings(f), units, names)[
        ["subscription", "plan_display", "resources", "resource_types"]], "plans_off")
    panel.view(lambda f: coverage_figures.pitfall_counts(coverage.pitfall_counts(audit(f))), "pitfalls")
    panel.view(lambda f: coverage.pitfalls(audit(f)), "pitfalls")
    return panel


def cloudtrail_explorer(volume: pd.DataFrame, hourly: pd.DataFrame, *, since: str | None = None,
                        until: str | None = None, accounts: Sequence[str] = (), top_calls: int = 20,
                        mask: Callable[[Any], Any] | None = None) -> FilterPanel:
    """CloudTrail panel: who reads per day, CSPM per account and region, hour by hour, its top calls and services,
    and the other MDC roles, per date range, account and region (`volume`/`hourly`: the unfiltered scan)."""
    panel = FilterPanel(accounts=_present(volume["account_id"]), regions=_present(volume["region"]), dates=True,
                        defaults=Filters(accounts=tuple(accounts), since=_day(since), until=_day(until)), mask=mask)

    def pick(frame: pd.DataFrame, f: Filters) -> pd.DataFrame:
        return cloudtrail.filter_volume(frame, f.accounts, since=_iso(f.since), until=_iso(f.until),
                                        regions=f.regions)

    panel.view(lambda f: cloudtrail_figures.daily_reads(cloudtrail.daily_by_actor(pick(volume, f))),
               "cloudtrail_events")
    panel.view(lambda f: cloudtrail_figures.cspm_by_account_region(cloudtrail.cspm_daily(pick(volume, f))),
               "cspm_reads")
    panel.view(lambda f: cloudtrail_figures.cspm_hourly(cloudtrail.cspm_hourly(pick(hourly, f))), "cspm_reads")
    panel.view(lambda f: cloudtrail_figures.top_calls(cloudtrail.top_calls(pick(volume, f), limit=top_calls)),
               "cspm_calls")
    panel.view(lambda f: cloudtrail.top_services(pick(volume, f)), "cspm_services")
    panel.view(lambda f: cloudtrail_figures.other_roles(cloudtrail.other_mdc_roles(pick(volume, f))), "other_roles")
    return panel


def governance_explorer(tables: Tables, as_of: pd.Timestamp, *, subscriptions: Sequence[str] = (),
                        mask: Callable[[Any], Any] | None = None) -> FilterPanel:
    """Governance panel: per owner assigned and overdue, the overdue list, unowned unhealthy work and the exemptions,
    for the owners, risk levels and scopes picked (risk `None`: assessments without a risk level)."""
    owned = governance.assignments(tables, as_of)
    panel = FilterPanel(scopes=_scope_options(tables), owners=_present(owned["owner"]),
                        risks=[*governance.RISK_LEVELS, governance.NO_RISK],
                        defaults=Filters(scopes=tuple(subscriptions)), mask=mask)

    def pick(frame: pd.DataFrame, f: Filters) -> pd.DataFrame:
        keep = pd.Series(True, index=frame.index)
        if f.scopes:
            keep &= frame["subscription_id"].isin(f.scopes)
        if f.risks:
            keep &= frame["risk_level"].astype("string").fillna(governance.NO_RISK).isin(f.risks)
        if f.owners and "owner" in frame.columns:
            keep &= frame["owner"].isin(f.owners)
        return frame[keep.fillna(False).astype(bool)]

    unowned = governance.unassigned_unhealthy(tables).rename(columns={"risk": "risk_level"})
    panel.view(lambda f: governance.owners(pick(owned, f)), "assignments")
    panel.view(lambda f: pick(owned, f).query("overdue").head(50), "assignments")
    panel.view(lambda f: pick(unowned, f).head(50) if not f.owners else unowned.iloc[0:0], "unassigned")
    panel.view(lambda f: governance.exemptions(tables, as_of, subscriptions=f.scopes), "exemptions")
    return panel
