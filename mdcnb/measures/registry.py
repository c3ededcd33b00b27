"""The measure registry: every figure mdcnb shows, defined once.

A `Measure` names a figure (`id`), says how it reads (`label`, `unit`, `fmt`), which filters it honours, and holds
the one function that computes it from a `Snapshot`. Headlines, chart titles, CSVs, index.html, CLI `--json`,
trend points and widget panels all call `value(id, snapshot, filters)` and `text(id, value)`: a figure that must
differ on some surface is a different measure with its own label. A measure that deliberately ignores a filter the
page applies says so in its label (`labelled(id, filters)`: "... (all environments)").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from mdcnb.snapshot import Snapshot

Format = tuple[str, str]  # (unit, format) of a table column, as `formatted` takes them
FILTERS = ("environments", "subscriptions", "accounts", "severities", "standards", "since", "until")
IGNORED_NOTE = {"environments": "all environments", "subscriptions": "all subscriptions",
                "accounts": "all accounts", "severities": "all severities", "standards": "all standards",
                "since": "whole window", "until": "whole window"}


@dataclass(frozen=True)
class Filters:
    """What a page, a panel or a command selects; an empty selection means all."""

    environments: tuple[str, ...] = ()
    subscriptions: tuple[str, ...] = ()   # subscription or connector ids (secure score scopes)
    accounts: tuple[str, ...] = ()        # AWS account ids
    severities: tuple[str, ...] = ()
    standards: tuple[str, ...] = ()
    since: str | None = None              # ISO dates, both ends included
    until: str | None = None

    @classmethod
    def of(cls, **values: Any) -> Filters:
        """Filters from keyword values (lists, tuples or None), ignoring names that are no filter."""
        out = {}
        for f in fields(cls):
            value = values.get(f.name)
            if f.name in ("since", "until"):
                out[f.name] = value or None
            else:
                out[f.name] = tuple(value or ())
        return cls(**out)

    def as_dict(self) -> dict[str, Any]:
        """The active filters as plain JSON values (what a recorded headline says it was computed under)."""
        return {name: list(v) if isinstance(v, tuple) else v for name in sorted(self.active())
                for v in [getattr(self, name)]}

    def active(self) -> set[str]:
        return {f.name for f in fields(self) if getattr(self, f.name)}

    def but(self, **changes: Any) -> Filters:
        """These filters with some changed (`filters.but(standards=("CIS",))`)."""
        return replace(self, **{k: (v if k in ("since", "until") else tuple(v or ())) for k, v in changes.items()})

    def only(self, names: Iterable[str]) -> Filters:
        """These filters with every other one cleared (what a measure that honours only `names` sees)."""
        keep = set(names)
        return replace(self, **{f.name: (None if f.name in ("since", "until") else ())
                                for f in fields(self) if f.name not in keep})


@dataclass(frozen=True)
class Measure:
    """One figure: how it is named and written, what it honours, and how it is computed."""

    id: str
    label: str
    unit: str                     # "%", "points", "events", "bytes", "count", "money", "money/month", "" (text)
    fmt: str                      # display format of the value, e.g. "{:,.2f}"
    compute: Callable[[Snapshot, Filters], Any]
    filters: frozenset[str] = field(default_factory=frozenset)
    decimals: int | None = None   # rounding the value is compared at across surfaces (None: exact)
    table: bool = False           # the value is a table (a chart's or a table's data), not one number
    columns: dict[str, Format] = field(default_factory=dict)  # how the columns of its table read (`column_format`)

    @property
    def feature(self) -> str:
        return self.id.split(".", 1)[0]


REGISTRY: dict[str, Measure] = {}
# How a table column reads wherever a page shows it, by the first word found in its name (a measure's own `columns`
# come first): shares and pass rates (fractions) in % (`cspm_share_of_read_bytes` is a share), byte counts in
# KB/MB/GB, potential gains in signed points.
COLUMN_WORDS: tuple[tuple[str, Format], ...] = (
    ("share", ("ratio", "{:.1f}")), ("pass_rate", ("ratio", "{:.1f}")), ("bytes", ("bytes", "")),
    ("gain_points", ("points", "{:+.2f}")), ("potential_increase", ("points", "{:+.2f}")))
Compute = Callable[["Snapshot", Filters], Any]


def define(id: str, label: str, unit: str, fmt: str, *, filters: Iterable[str] = (),
           decimals: int | None = None, table: bool = False,
           columns: dict[str, Format] | None = None) -> Callable[[Compute], Compute]:
    """Decorator: register the function below as measure `id`."""
    unknown = set(filters) - set(FILTERS)
    if unknown:
        raise ValueError(f"measure {id}: no filter named {sorted(unknown)}")

    def register(compute: Compute) -> Compute:
        if id in REGISTRY:
            raise ValueError(f"measure {id} is defined twice")
        REGISTRY[id] = Measure(id, label, unit, fmt, compute, frozenset(filters), decimals, table, dict(columns or {}))
        return compute

    return register


def measure(id: str) -> Measure:
    _load_definitions()
    try:
        return REGISTRY[id]
    except KeyError:
        raise KeyError(f"no measure {id!r}; measures: {', '.join(sorted(REGISTRY))}") from None


def measures() -> dict[str, Measure]:
    _load_definitions()
    return dict(REGISTRY)


def numbers(feature: str) -> list[str]:
    """The ids of a feature's measures that are one number or text (not tables), in definition order (the order
    of their module: a feature's measures are defined in one module)."""
    return [m.id for m in measures().values() if m.feature == feature and not m.table]


def value(id: str, snapshot: Snapshot, filters: Filters | None = None) -> Any:
    """The measure's value on `snapshot` under `filters` (the filters it does not honour are dropped)."""
    m = measure(id)
    return m.compute(snapshot, (filters or Filters()).only(m.filters))


def shown(id: str, snapshot: Snapshot, filters: Filters | None = None) -> dict[str, Any]:
    """The measure as a headline reads on every surface: id, label (with its scope note), JSON-safe value, text,
    and the filters it was computed under."""
    filters = filters or Filters()
    v = value(id, snapshot, filters)
    return {"measure": id, "label": labelled(id, filters), "value": plain(v),
            "text": text(id, v, currency=snapshot.prices.currency),
            "filters": filters.only(measure(id).filters).as_dict()}


def labelled(id: str, filters: Filters | None = None, label: str | None = None) -> str:
    """The measure's label (or `label`, the title of a view of its data); when the page filters on something the
    measure ignores, the label says what it covers instead ("all environments", "whole window")."""
    return (measure(id).label if label is None else label) + scope_note(filters, id)


def scope_note(filters: Filters | None, id: str | None = None) -> str:
    """` (all environments)`: what a figure covers when `filters` select something it ignores (what measure `id`
    does not honour; every active filter without `id`); empty when it honours them all."""
    honoured = measure(id).filters if id else frozenset()
    ignored = sorted((filters or Filters()).active() - honoured, key=FILTERS.index)
    notes = list(dict.fromkeys(IGNORED_NOTE[name] for name in ignored))
    return f" ({', '.join(notes)})" if notes else ""


def text(id: str, value: Any, currency: str = "USD") -> str:
    """The value as every surface writes it: the measure's unit and format through `formatted`; text as is."""
    m = measure(id)
    return value if isinstance(value, str) else formatted(value, m.unit, m.fmt, currency)


def change_text(id: str, change: Any, currency: str = "USD") -> str:
    """A week-on-week change of measure `id`, signed: a score or a rate in points (`+3.20 pts`), a count `+22`."""
    m = measure(id)
    if m.unit in ("%", "points"):
        return formatted(change, "points", f"{{:+.{m.decimals if m.decimals is not None else 2}f}}")
    return formatted(change, m.unit, m.fmt.replace("{:", "{:+", 1), currency)


def formatted(value: Any, unit: str, fmt: str = "{:,}", currency: str = "USD") -> str:
    """How mdcnb writes a number of `unit` on every surface (the one formatting helper): counts and events without
    decimals; `%` (a value 0-100) and `ratio` (a fraction 0-1) in % with `fmt` (default one decimal); points as
    `pts` (`+3.20 pts` when `fmt` has a sign); bytes in KB/MB/GB (10^3 steps, as the SIEM price per GB counts);
    money with currency and period (`USD 1,240.00 / month`); dates in ISO; `n/a` when missing."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, (pd.Timestamp, datetime, date)):
        return value.strftime("%Y-%m-%d")
    if unit == "bytes":
        return byte_text(value)
    if unit == "ratio":
        return f"{(fmt if fmt != '{:,}' else '{:.1f}').format(100 * float(value))} %"
    if unit in ("count", "events") and float(value).is_integer():
        value = int(value)
    number = fmt.format(value)
    if unit in ("money", "money/month"):
        return f"{currency} {number}" + (" / month" if unit == "money/month" else "")
    return f"{number} {UNIT_TEXT.get(unit, unit)}".strip()


UNIT_TEXT = {"count": "", "events": "", "points": "pts", "": ""}
_BYTE_STEPS = (("GB", 10**9), ("MB", 10**6), ("KB", 10**3))


def byte_text(value: float) -> str:
    """`4.2 MB`: a byte count in the largest decimal unit it reaches (one decimal), `950 bytes` under 1 KB."""
    for name, size in _BYTE_STEPS:
        if abs(value) >= size:
            return f"{value / size:,.1f} {name}"
    return f"{int(value):,} bytes"


def column_format(name: str, measure_id: str | None = None) -> Format | None:
    """How table column `name` reads: the measure's own `columns`, else the first of `COLUMN_WORDS` in the name."""
    own = measure(measure_id).columns if measure_id else {}
    return own.get(name) or next((spec for word, spec in COLUMN_WORDS if word in name), None)


def rounded(id: str, value: Any) -> Any:
    """The value at the precision surfaces are compared at (the displayed rounding)."""
    m = measure(id)
    if m.table or m.decimals is None or value is None or isinstance(value, str):
        return value
    return round(float(value), m.decimals)


def plain(value: Any) -> Any:
    """A JSON-safe value: missing or infinite numbers -> None, numpy numbers -> Python numbers, tables -> rows."""
    if hasattr(value, "to_dict") and hasattr(value, "columns"):
        return [{k: plain(v) for k, v in row.items()} for row in value.to_dict("records")]
    if hasattr(value, "item"):
        value = value.item()
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    return value


def _load_definitions() -> None:
    """Import the feature modules that define measures (once; they register themselves)."""
    from mdcnb.measures import (  # noqa: F401
        cloudtrail,
        compliance,
        cost,
        coverage,
        governance,
        history,
        readiness,
        score,
    )
