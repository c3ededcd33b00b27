"""What a notebook calls to show its results and leave them for the weekly report.

A notebook opens one `Page` after its parameters cell and then needs one line per result:

    page = Page("10_secure_score", report_dir=report_dir, mask_ids=mask_ids, dataset=dataset)
    tables = page.tables()                       # load_tables(dataset), masked, skips recorded for index.html
    page.headline("Secure score", 61.2, unit="%")
    page.figure(figures.score_by_scope(df), "score_by_scope", data=df)
    page.table(controls, "controls_ranked", title="Controls by potential increase")

Everything shown is masked when `mask_ids` is set and HTML-escaped (names come from the cloud and are
attacker-controlled). When `report_dir` is set, every table and the data behind every figure are written as CSV
under `csv/<notebook>/`, headline numbers to `headlines/<notebook>.json` and unreadable records to
`skips/<notebook>.json`; `mdcnb report` builds index.html from those files.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from IPython.display import HTML, display

from mdcnb.dataset import default_dataset
from mdcnb.mask import Masker
from mdcnb.report.table_html import html_table

CSV_DIR, HEADLINE_DIR, SKIP_DIR = "csv", "headlines", "skips"
DEFAULT_MAX_ROWS = 25


def csv_path(report_dir: Path, notebook: str, name: str) -> Path:
    return Path(report_dir) / CSV_DIR / notebook / f"{name}.csv"


def headline_path(report_dir: Path, notebook: str) -> Path:
    return Path(report_dir) / HEADLINE_DIR / f"{notebook}.json"


def skip_path(report_dir: Path, notebook: str) -> Path:
    return Path(report_dir) / SKIP_DIR / f"{notebook}.json"


@dataclass(frozen=True)
class Headline:
    """A number shown on index.html: label, value and how it reads."""

    notebook: str
    label: str
    value: float | int | str | None
    text: str


def format_value(value: Any, unit: str = "", fmt: str | None = None) -> str:
    """`61.2 %`, `1,234`, `n/a` for a missing number."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if fmt:
        text = fmt.format(value)
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        text = str(value)
    elif isinstance(value, int) or float(value).is_integer():
        text = f"{int(value):,}"
    else:
        text = f"{value:,.1f}"
    return f"{text} {unit}".strip() if unit else text


def csv_ready(df: pd.DataFrame) -> pd.DataFrame:
    """Lists become `a; b`, dicts JSON, so the CSV reads well in a spreadsheet."""
    out = df.copy()
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = out[column].map(
                lambda v: "; ".join(map(str, v)) if isinstance(v, (list, tuple))
                else json.dumps(v, sort_keys=True) if isinstance(v, dict) else v)
    return out


class Page:
    """The display-and-export helpers of one notebook page."""

    def __init__(self, notebook: str, *, report_dir: str | Path | None = None, mask_ids: bool = False,
                 dataset: str | Path | None = None, max_rows: int = DEFAULT_MAX_ROWS) -> None:
        self.notebook = notebook
        self.report_dir = Path(report_dir) if report_dir else None
        self.dataset = Path(dataset) if dataset else default_dataset()
        self.max_rows = max_rows
        self.masker = Masker.for_dataset(self.dataset) if mask_ids else None
        self._headlines: list[Headline] = []
        self._skips: list[dict[str, Any]] = []
        if self.report_dir:
            for path in (headline_path(self.report_dir, notebook), skip_path(self.report_dir, notebook)):
                path.unlink(missing_ok=True)

    # -- data in ---------------------------------------------------------------------------------------------
    def tables(self):
        """The dataset's tables (`mdcnb.tables.load_tables`), masked if asked; unreadable records recorded."""
        from mdcnb.tables import load_tables

        tables = load_tables(self.dataset)
        if self.masker:
            for name, df in tables.items():
                setattr(tables, name, self.masker.frame(df))
        self.skips(tables.skips)
        return tables

    def skips(self, skipped: pd.DataFrame) -> None:
        """Record records or files that could not be read (columns of `schema.SKIPS`) for index.html."""
        if not len(skipped):
            return
        self._skips += self.mask(skipped).astype(object).where(skipped.notna(), None).to_dict("records")
        if self.report_dir:
            _write_json(skip_path(self.report_dir, self.notebook), self._skips)

    # -- masking ---------------------------------------------------------------------------------------------
    def mask(self, obj: Any) -> Any:
        """`obj` (text, DataFrame, plotly figure, list or dict) with ids masked when `mask_ids` is set."""
        if self.masker is None:
            return obj
        if isinstance(obj, pd.DataFrame):
            return self.masker.frame(obj)
        if hasattr(obj, "to_plotly_json"):
            return self.masker.figure(obj)
        return self.masker.value(obj)

    # -- results out -----------------------------------------------------------------------------------------
    def table(self, df: pd.DataFrame, name: str, *, title: str | None = None, max_rows: int | None = None,
              columns: list[str] | None = None, data: pd.DataFrame | None = None, empty: str | None = None) -> None:
        """Show the first rows of `df` (escaped; only `columns` if given) and export all of it, or the fuller
        `data` behind it, as `csv/<notebook>/<name>.csv`. A table without rows shows one sentence instead: `empty`
        ("No failing controls in this scope."), else "<title>: none."."""
        data = self.mask(df if data is None else data)
        df = self.mask(df[columns] if columns else df)
        link = self._export(data, name)
        if df.empty:
            sentence = empty or (f"{title}: none." if title else "No rows.")
            display(HTML(f'<p class="mdcnb-empty">{html.escape(sentence)}</p>'))
            return
        limit = max_rows or self.max_rows
        parts = [f"<h4>{html.escape(title)}</h4>"] if title else []
        parts.append(html_table(df, limit))
        count = f"showing {limit:,} of {len(df):,} rows" if len(df) > limit else ""
        footer = " · ".join(p for p in (count, link) if p)
        if footer:
            parts.append(f'<p class="mdcnb-caption">{footer}</p>')
        display(HTML("\n".join(parts)))

    def figure(self, fig: Any, name: str, *, data: pd.DataFrame) -> None:
        """Show a plotly figure and export the table behind it as `csv/<notebook>/<name>.csv`."""
        fig = self.mask(fig)
        link = self._export(self.mask(data), name)
        display(fig)
        if link:
            display(HTML(f'<p class="mdcnb-caption">{link}</p>'))

    def headline(self, label: str, value: Any, *, unit: str = "", fmt: str | None = None) -> None:
        """Show a headline number and record it for index.html."""
        value = self.mask(value) if isinstance(value, str) else value
        text = format_value(value, unit, fmt)
        number = value.item() if hasattr(value, "item") else value
        self._headlines.append(Headline(self.notebook, label, number, text))
        if self.report_dir:
            _write_json(headline_path(self.report_dir, self.notebook), [h.__dict__ for h in self._headlines])
        display(HTML(f'<p class="mdcnb-headline"><b>{html.escape(label)}:</b> {html.escape(text)}</p>'))

    def note(self, template: str, **values: Any) -> None:
        """Show a sentence of HTML `template` with `{name}` placeholders filled by escaped, masked values."""
        escaped = {k: html.escape(str(self.mask(v) if isinstance(v, str) else v)) for k, v in values.items()}
        display(HTML(f"<p>{template.format(**escaped)}</p>"))

    def snippet(self, title: str, text: str, where: str = "") -> None:
        """Show text to paste elsewhere (a SIEM filter, a query) in monospace with a Copy button (the report page
        template's script copies it; it works offline), and a sentence saying where it goes."""
        title, text, where = (html.escape(str(self.mask(v))) for v in (title, text, where))
        display(HTML(f'<div class="mdcnb-snippet"><p><b>{title}</b> <button type="button" class="mdcnb-copy">Copy'
                     f'</button></p><pre class="mdcnb-code"><code>{text}</code></pre>'
                     + (f"<p>{where}</p>" if where else "") + "</div>"))

    def _export(self, df: pd.DataFrame, name: str) -> str:
        """Write the CSV when a report is being built; return the escaped link to it ('' otherwise)."""
        if not self.report_dir:
            return ""
        path = csv_path(self.report_dir, self.notebook, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        csv_ready(df).to_csv(path, index=False)
        href = html.escape(path.relative_to(self.report_dir).as_posix(), quote=True)
        return f'<a href="{href}">data: {html.escape(path.name)}</a>'


def _write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, default=str) + "\n", encoding="utf-8")
