"""The measure registry: every figure mdcnb shows, defined once.

A `Measure` names a figure (`id`), says how it reads (`label`, `unit`, `fmt`), which filters it honours, and holds
the one function that computes it from a `Snapshot`. Headlines, chart titles, CSVs, index.html, CLI `--json`,
trend points and widget panels all call `value(id, snapshot, filters)` and `text(id, value)`: a figure that must
differ on some surface is a different measure with its own label. A measure that deliberately ignores a filter the
page applies says so in its label (`labelled(id, filters)` appends its `scope_note`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mdcnb.snapshot import Snapshot

FILTERS = ("environments", "subscriptions", "accounts", "severities", "standards", "since", "until")


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

    def active(self) -> set[str]:
        return {f.name for f in fields(self) if getattr(self, f.name)}

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
    unit: str                     # "%", "points", "events", "bytes", "count", "money/month"
    fmt: str                      # display format of the value, e.g. "{:,.2f}"
    compute: Callable[[Snapshot, Filters], Any]
    filters: frozenset[str] = field(default_factory=frozenset)
    scope_note: str = "all environments"   # appended to the label when a page filter is not honoured
    decimals: int | None = None   # rounding the value is compared at across surfaces (None: exact)


REGISTRY: dict[str, Measure] = {}
Compute = Callable[["Snapshot", Filters], Any]


def define(id: str, label: str, unit: str, fmt: str, *, filters: Iterable[str] = (),
           scope_note: str = "all environments", decimals: int | None = None) -> Callable[[Compute], Compute]:
    """Decorator: register the function below as measure `id`."""
    unknown = set(filters) - set(FILTERS)
    if unknown:
        raise ValueError(f"measure {id}: no filter named {sorted(unknown)}")

    def register(compute: Compute) -> Compute:
        if id in REGISTRY:
            raise ValueError(f"measure {id} is defined twice")
        REGISTRY[id] = Measure(id, label, unit, fmt, compute, frozenset(filters), scope_note, decimals)
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


def value(id: str, snapshot: Snapshot, filters: Filters | None = None) -> Any:
    """The measure's value on `snapshot` under `filters` (the filters it does not honour are dropped)."""
    m = measure(id)
    return m.compute(snapshot, (filters or Filters()).only(m.filters))


def labelled(id: str, filters: Filters | None = None) -> str:
    """The measure's label, with its scope note when the page filters on something the measure ignores."""
    m = measure(id)
    ignored = (filters or Filters()).active() - m.filters
    return f"{m.label} ({m.scope_note})" if ignored else m.label


def text(id: str, value: Any, currency: str = "USD") -> str:
    """The value as every surface writes it: the measure's format and unit (money as `USD 1,240.00 / month`);
    `n/a` for a missing number."""
    m = measure(id)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, str):
        return value
    if m.unit == "money/month":
        return f"{currency} {m.fmt.format(value)} / month"
    return f"{m.fmt.format(value)} {_unit(m.unit)}".strip()


def rounded(id: str, value: Any) -> Any:
    """The value at the precision surfaces are compared at (the displayed rounding)."""
    m = measure(id)
    if m.decimals is None or value is None or isinstance(value, str):
        return value
    return round(float(value), m.decimals)


def _unit(unit: str) -> str:
    return "" if unit in ("count", "events") else unit


def _load_definitions() -> None:
    """Import the feature modules that define measures (once; they register themselves)."""
    from mdcnb.measures import cloudtrail, compliance, cost, coverage, history, readiness, score  # noqa: F401
