"""The generic filter panel every page's explorer is built from: controls, views that redraw in place, notices.

A `FilterPanel` shows the controls it is given choices for (environment, scope, severity, standard, account,
region, owner, risk level, dates; an empty selection means all) and re-renders each `view` whenever a control
changes. Each view keeps the last thing it rendered (`View.result`), so callbacks are testable without a browser.
A view whose selection leaves nothing to draw (a figure without data points, a table without rows) shows a short
text naming the selection instead (`View.notice`; wording in `texts.json`).

One change computes each thing once: what several views need is asked for through `FilterPanel.once`, which keeps
it for the current selection only. A figure view draws into one plotly `FigureWidget`, made at its first draw and
updated in place (one batch update per change). A view that does not follow some control says so in its title
while that control selects something (`View.ignores`, "(all severities)").
"""

from __future__ import annotations

import copy
import html
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date
from typing import Any, TypeVar

import ipywidgets as w
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from IPython.core.interactiveshell import InteractiveShell
from IPython.display import HTML, display
from plotly.basedatatypes import Undefined

from mdcnb.analysis import score_detail
from mdcnb.core.package_data import read_json
from mdcnb.measures import registry
from mdcnb.snapshot import Snapshot
from mdcnb.tables import Tables

T = TypeVar("T")
ALL = "(none selected = all)"
# The multiple-choice controls in the order the panel shows them: (Filters field, label, whether ids are masked).
CHOICES = (("environments", "Environment", False), ("scopes", "Scope", True), ("severities", "Severity", False),
           ("standards", "Standard", False), ("accounts", "Account", True), ("regions", "Region", False),
           ("owners", "Owner", False), ("risks", "Risk level", False))
# The panels' human text (empty-selection notices), as data beside this module.
TEXTS: dict[str, Any] = read_json(__package__, "texts.json")
# Trace fields that hold a figure's data points (`value`: an indicator's single number).
_POINT_FIELDS = ("x", "y", "z", "values", "labels", "value")
# The panel's controls as the measure registry's filters (the others have no registry filter).
REGISTRY_FILTER = {"environments": "environments", "scopes": "subscriptions", "accounts": "accounts",
                   "severities": "severities", "standards": "standards", "since": "since", "until": "until"}


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

    def measures(self) -> registry.Filters:
        """The same selection as the measure registry's filters (scopes are subscriptions or connectors)."""
        return registry.Filters(environments=self.environments, subscriptions=self.scopes, accounts=self.accounts,
                                severities=self.severities, standards=self.standards, since=iso(self.since),
                                until=iso(self.until))


EVERYTHING = Filters()


@dataclass
class View:
    """One output area of a panel: how to render it from the filters, and what it rendered last. `subject` (a key
    of `subjects` in `texts.json`) names what the view shows, for the notice of an empty selection; `caption`
    titles a view that is not a figure (a figure has its own title); `ignores` names the controls (Filters fields)
    the view does not follow, which its title then names while they select something. `title` is the title as
    last shown; `figure` the FigureWidget a figure view draws into."""

    render: Callable[[Filters], Any]
    subject: str | None = None
    caption: str | Callable[[Filters], str] | None = None
    ignores: tuple[str, ...] = ()
    output: w.Output = field(default_factory=w.Output)
    heading: w.HTML = field(default_factory=w.HTML)
    figure: go.FigureWidget | None = None
    result: Any = None
    error: str | None = None
    notice: str | None = None
    title: str | None = None
    showing: Any = None  # what `output` shows now: a figure widget, or the notice/table/text last displayed
    followed: Filters | None = None  # the selection of the controls it follows that `result` was rendered for
    figure_title: str | None = None  # the figure's own title, before the note of the controls it does not follow
    everything: Any = None  # `render` of a selection of nothing (everything), kept: a panel is often cleared again


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
    external one, such as a browser tab). A FigureWidget gives its widget view without IPython's text form of it,
    which prints every data point (a tenth of a second for an hourly chart)."""
    if isinstance(obj, go.Figure):
        bundle = obj._repr_mimebundle_() or pio.renderers["plotly_mimetype"].to_mimebundle(obj.to_dict())
        return bundle, {}
    if isinstance(obj, go.FigureWidget):  # its view, and its title as text (IPython would print the whole figure)
        return {**obj._repr_mimebundle_(), "text/plain": f"FigureWidget: {obj.layout.title.text or ''}"}, {}
    return InteractiveShell.instance().display_formatter.format(obj)


def not_followed(ignored: Iterable[str], filters: Filters) -> str:
    """" (all severities, all regions)": what a view covers instead of the selection of the controls it ignores
    (the measure registry's wording for its filters), or "" when none of them selects anything."""
    notes = [registry.IGNORED_NOTE[REGISTRY_FILTER[name]] if name in REGISTRY_FILTER else TEXTS["ignored"][name]
             for name in ignored if getattr(filters, name)]
    notes = list(dict.fromkeys(notes))
    return f" ({', '.join(notes)})" if notes else ""


def redraw(widget: go.FigureWidget, figure: go.Figure) -> None:
    """Make `widget` show `figure` in place, in one plotly update (one message to the browser): each trace's and the
    layout's properties become the figure's (a property the figure does not set is cleared). When the number of traces
    changes, those beyond the figure's are removed and the figure's extra ones added (all of them replaced only when
    a trace changes kind). The figure's properties were validated when it was built, so they are handed over as they
    are (`plotly_update`, the call a batch of edits ends in) instead of being validated again. The layout's template
    is left alone when it is the same (the report's charts share one, and setting it again copies all of it), so a
    redraw costs little more than the figure's data."""
    kept = min(len(widget.data), len(figure.data))
    if [t.type for t in widget.data[:kept]] != [t.type for t in figure.data[:kept]]:
        widget.data, kept = (), 0
    if len(widget.data) > kept:
        widget.data = widget.data[:kept]
    if len(figure.data) > kept:
        widget.add_traces(figure.data[kept:])  # added as the figure has them: only the kept ones are restyled
    restyle: dict[str, list[Any]] = {}
    for index, (drawn, trace) in enumerate(zip(widget.data[:kept], figure.data[:kept], strict=True)):
        for name, value in _changes(drawn._props, trace._props, keep=("uid",)).items():
            restyle.setdefault(name, [Undefined] * len(figure.data))[index] = value
    same = widget.layout._props.get("template") == figure.layout._props.get("template")
    relayout = _changes(widget.layout._props, figure.layout._props, keep=("template",) if same else ())
    widget.plotly_update(restyle_data=restyle, relayout_data=relayout, trace_indexes=list(range(len(figure.data))))


def _changes(shown: Mapping[str, Any], props: Mapping[str, Any], keep: Sequence[str]) -> dict[str, Any]:
    """Every top-level property of `shown` and `props` but `keep`, as `props` has it (None: cleared), copied."""
    return {name: copy.deepcopy(props.get(name)) for name in dict.fromkeys([*shown, *props]) if name not in keep}


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
        self._computed: tuple[Filters | None, dict[str, Any]] = (None, {})
        for control in self.controls.values():
            control.observe(lambda _change: self.refresh(), names="value")

    @property
    def filters(self) -> Filters:
        return replace(Filters(), **{name: control.value for name, control in self.controls.items()})

    def once(self, name: str, compute: Callable[[Filters], T]) -> T:
        """`compute(filters)` for the current selection, computed at most once however many views ask for it (and
        forgotten at the next change)."""
        filters = self.filters
        if self._computed[0] != filters:
            self._computed = (filters, {})
        kept = self._computed[1]
        if name not in kept:
            kept[name] = compute(filters)
        return kept[name]

    def view(self, render: Callable[[Filters], Any], subject: str | None = None, *,
             caption: str | Callable[[Filters], str] | None = None, ignores: Iterable[str] = ()) -> View:
        """Add an output area showing `render(filters)` (a figure, a DataFrame or anything displayable); `subject`
        names what it shows when the selection matches nothing (a key of `subjects` in `texts.json`); `caption`
        titles it when it is not a figure (text, or a function of the filters such as a measure's `labelled`);
        `ignores` lists the controls it does not follow."""
        unknown = set(ignores) - {f.name for f in fields(Filters)}
        if unknown:
            raise ValueError(f"no control named {sorted(unknown)}")
        view = View(render, subject, caption, tuple(ignores))
        self.views.append(view)
        self._render(view)
        return view

    def refresh(self) -> None:
        for view in self.views:
            self._render(view)

    def _render(self, view: View) -> None:
        """Redraw the view: a figure into its FigureWidget, anything else as the output's one display. The widget's
        `outputs` are set directly rather than captured with `with output:`, which headless kernels (papermill,
        nbval) need not support."""
        filters = self.filters
        followed = replace(filters, **{name: getattr(EVERYTHING, name) for name in view.ignores})
        fresh = view.followed is None or view.followed != followed
        if fresh:  # else only controls it does not follow changed: what it shows stays, its title may change
            try:
                view.result, view.error, view.followed = self._rendered(view, filters), None, followed
            except Exception as exc:  # a filter that leaves nothing to show must not break the panel
                view.result, view.error, view.followed = None, f"{type(exc).__name__}: {exc}", None
        view.notice = self.notice(view.subject) if view.error is None and is_empty(view.result) else None
        note = not_followed(view.ignores, filters)
        caption = view.caption(filters) if callable(view.caption) else view.caption
        view.title = f"{caption}{note}" if caption else None
        if view.error is not None:
            shown = self.mask(f"Nothing to show for this selection ({view.error})")
        elif view.notice is not None:
            shown = HTML(f"<p><em>{html.escape(view.notice)}</em></p>")
        elif isinstance(view.result, go.Figure):
            shown = self._figure(view, note, fresh)
        else:
            shown = self.mask(view.result) if fresh or view.showing is None else view.showing
        # a figure carries its title itself: a heading above it would say it twice
        view.heading.value = f"<b>{html.escape(self.mask(view.title))}</b>" if view.title and shown is not view.figure \
            else ""
        if shown is not view.showing:  # a figure already shown redraws itself; a table kept stays
            data, metadata = display_data(shown)
            view.output.outputs = ({"output_type": "display_data", "data": data, "metadata": metadata},)
        view.showing = shown

    @staticmethod
    def _rendered(view: View, filters: Filters) -> Any:
        """`view.render(filters)`; for a selection of nothing, rendered once and kept (nothing is then noted in the
        title, so the kept figure is never written to)."""
        if filters != EVERYTHING:
            return view.render(filters)
        if view.everything is None:
            view.everything = view.render(filters)
        return view.everything

    def _figure(self, view: View, note: str, fresh: bool) -> go.FigureWidget:
        """The view's FigureWidget showing its (masked) figure, the title naming the controls it does not follow.
        A figure not `fresh` (the controls it follows kept their selection) stays as it is but for that note."""
        if fresh or view.figure is None:
            figure = self.mask(view.result)
            view.figure_title = figure.layout.title.text
            if note:
                figure.update_layout(title_text=f"{view.figure_title or ''}{note}")
            if view.figure is None:
                view.figure = go.FigureWidget(figure)
            else:
                redraw(view.figure, figure)
        else:
            title = f"{view.figure_title or ''}{note}" if note else view.figure_title
            if view.figure.layout.title.text != title:
                view.figure.layout.title.text = title
        view.title = view.figure.layout.title.text
        return view.figure

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
            phrases.append(TEXTS["dates"][window].format(since=iso(f.since), until=iso(f.until)))
        text = TEXTS["empty"].format(subject=TEXTS["subjects"][subject] if subject else TEXTS["default_subject"],
                                     selection="".join(" " + p for p in phrases))
        return self.mask(text)

    @property
    def widget(self) -> w.VBox:
        hint = w.HTML(f"<small>{ALL}</small>")
        controls = w.HBox(list(self.controls.values()), layout=w.Layout(flex_flow="row wrap"))
        return w.VBox([controls, hint, *(part for v in self.views for part in (v.heading, v.output))])

    def show(self) -> None:
        display(self.widget)


def scope_options(tables: Tables) -> list[tuple[str, str]]:
    names = score_detail.scope_names(tables)
    subs = tables.subscriptions.sort_values("display_name")
    return [(str(names.get("/subscriptions/" + s, s)), s) for s in subs["subscription_id"]]


def present(values: Iterable[Any]) -> list[str]:
    return sorted({str(v) for v in values if isinstance(v, str) and v})


def day(value: date | str | None) -> date | None:
    """A papermill date parameter (ISO text) as the date a DatePicker holds."""
    return None if value is None or isinstance(value, date) else date.fromisoformat(str(value)[:10])


def iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def account_options(*frames: tuple[pd.DataFrame, str, str]) -> list[tuple[str, str]]:
    """(`name (id)`, id) per account id found in the (frame, id column, name column) given."""
    names: dict[str, str] = {}
    for frame, id_column, name_column in frames:
        for account, name in zip(frame[id_column], frame[name_column], strict=True):
            if isinstance(account, str) and account:
                names[account] = names.get(account) or (name if isinstance(name, str) else "")
    return [(f"{name} ({account})" if name else account, account) for account, name in sorted(names.items())]


def measures_of(snapshot: Snapshot, ids: Sequence[str], filters: registry.Filters) -> pd.DataFrame:
    """The panel's headline numbers for a selection: each measure's label, value and text, from the registry."""
    rows = [registry.shown(id, snapshot, filters) for id in ids]
    return pd.DataFrame(rows, columns=["measure", "label", "value", "text"])
