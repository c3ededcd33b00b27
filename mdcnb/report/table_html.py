"""The HTML of a report table: fits a laptop screen, names instead of ids, every value escaped.

A table is read on a 1366 px screen, so an id column that has a name column beside it (`control_id` and
`control_name`, `resource_id` and `resource_name`, ...) is not shown: the name cell carries the id in its `title`
(shown on hover). An id column (`*_id`, `*_key`) without a name shows its last path segment, shortened, with the
full id on hover.
Long text is cut with the full text on hover; missing values show as `—`. Numbers read as the measure registry
writes them (`registry.formatted`): a column's unit comes from the measure the table shows, else from its name
(`registry.column_format`: bytes, shares, potential gains); a float column of whole numbers shows integers, other
floats two decimals, dates ISO. The CSV beside the table keeps every column and the raw values
(`mdcnb.report.page.Page.table`).
"""

from __future__ import annotations

import html
import math
import numbers
from collections.abc import Iterable
from datetime import date
from typing import Any

import pandas as pd

from mdcnb.measures.registry import Format, column_format, formatted

MISSING = "—"
MAX_TEXT = 120  # characters of a cell before it is cut (the full text on hover)
NO_WRAP = 16  # a single word this short is never broken (`A.10.1.1`, `eu-west-1`)
SHORT_ID = 13  # an id without a name longer than this shows its first characters
# An id column -> the columns that name it, the first present wins (one name column names one id column).
ID_NAMES: dict[str, tuple[str, ...]] = {
    "control_id": ("control_name",),
    "assessment_key": ("recommendation", "display_name", "description"),
    "resource_id": ("resource_name", "name"),
    "scope_id": ("name", "scope", "subscription"),
    "subscription_id": ("subscription", "scope", "name"),
    "account_id": ("account_name",),
    "connector_id": ("name",),
    "hierarchy_id": ("account_name",),
    "plan": ("plan_display", "display"),
}


def id_names(columns: Iterable[str]) -> dict[str, str]:
    """Id column -> the name column that stands for it in this table."""
    present = list(columns)
    taken: dict[str, str] = {}
    for id_column, names in ID_NAMES.items():
        if id_column in present:
            name = next((n for n in names if n in present and n not in taken.values()), None)
            if name:
                taken[id_column] = name
    return taken


def is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def cell_text(value: Any, spec: Format | None = None, currency: str = "USD") -> str:
    """How a value reads in a table cell: in its column's unit (`spec`; money in `currency`), else with thousands
    separators, floats to two decimals, dates ISO; `—` when missing."""
    if is_missing(value):
        return MISSING
    if isinstance(value, (list, tuple)):
        return "; ".join(map(str, value))
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, date):  # datetime and pandas Timestamp too
        return formatted(value, "date")
    if spec is not None and isinstance(value, numbers.Real):
        return formatted(value, *spec, currency)
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        return f"{float(value):,.2f}"
    return str(value)


def short_id(value: str) -> str:
    """`/subscriptions/1400…` -> `1400…`: the last path segment, cut to its first characters when long."""
    last = value.rstrip("/").rsplit("/", 1)[-1] or value
    return last if len(last) <= SHORT_ID else last[:8] + "…"


def _cell(text: str, hover: str | None = None, numeric: bool = False) -> str:
    """One escaped `<td>`; text longer than `MAX_TEXT` is cut, the full text then goes to the hover; a path may
    wrap after each slash."""
    if len(text) > MAX_TEXT:
        hover = text if hover is None else f"{text}\n{hover}"
        text = text[:MAX_TEXT - 1].rstrip() + "…"
    title = f' title="{html.escape(hover, quote=True)}"' if hover and hover != text else ""
    css = ' class="num"' if numeric else (' class="nw"' if len(text) <= NO_WRAP and " " not in text else "")
    return f"<td{css}{title}>{html.escape(text).replace('/', '/<wbr>')}</td>"  # a path wraps at its slashes


def column_spec(column: pd.Series, measure: str | None = None) -> Format | None:
    """The unit and format a numeric column reads in: `registry.column_format`, else integers for a float column
    whose values are all whole numbers (`4.0` hours, `-3.0` days), else None (the default of `cell_text`)."""
    spec = column_format(str(column.name), measure)
    if spec is None and pd.api.types.is_float_dtype(column.dtype):
        values = column.dropna()
        if len(values) and (values == values.round()).all():
            return "count", "{:,}"
    return spec


def html_table(df: pd.DataFrame, max_rows: int, measure: str | None = None, currency: str = "USD") -> str:
    """An escaped HTML table of the first `max_rows` rows of `df`, ids behind their names, numbers in the units
    of `measure` (the measure the table shows) or of their column names, money in `currency`."""
    pairs = id_names(df.columns)
    named_by = {name: id_column for id_column, name in pairs.items()}
    shown = [c for c in df.columns if c not in pairs]
    numeric = {c for c in shown if pd.api.types.is_numeric_dtype(df[c].dtype)
               and not pd.api.types.is_bool_dtype(df[c].dtype)}
    specs = {c: column_spec(df[c], measure) for c in numeric}
    head = "".join(f'<th title="{html.escape(str(c), quote=True)}">{html.escape(str(c).replace("_", " "))}</th>'
                   for c in shown)
    rows = []
    for record in df.head(max_rows).to_dict("records"):
        cells = []
        for column in shown:
            value, hover = record[column], None
            if column in named_by and not is_missing(record[named_by[column]]):
                hover = str(record[named_by[column]])
                value = short_id(hover) if is_missing(value) else value
            elif column.endswith(("_id", "_key")) and isinstance(value, str):
                value, hover = short_id(value), value
            cells.append(_cell(cell_text(value, specs.get(column), currency), hover, column in numeric))
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (f'<table class="mdcnb-table"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")
