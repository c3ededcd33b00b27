"""What a notebook calls to show its results and leave them for the weekly report.

A notebook opens one `Page` after its parameters cell and then needs one line per result:

    page = Page("10_secure_score", report_dir=report_dir, snapshot=snapshot, dataset=dataset, mask_ids=mask_ids,
                environments=environments, subscriptions=subscriptions, accounts=accounts)
    tables = page.tables()                       # the snapshot's tables, masked; unreadable records recorded
    page.measure("score.overall")                # a headline: the registry's value under the page's filters
    page.figure(figures.score_by_scope(df), "score_by_scope", data=df)
    page.table(controls, "controls_ranked", title="Controls by potential increase")

Every number a page shows as a headline comes from the measure registry (`mdcnb.measures.registry`). The page reads
the week's snapshot that `mdcnb report` wrote (`snapshot`, a folder) or, interactively, builds one. Everything shown
is masked when `mask_ids` is set and HTML-escaped (names come from the cloud and are attacker-controlled). When
`report_dir` is set, every table and the data behind every figure are written as CSV under `csv/<notebook>/`.
Headlines and unreadable records are recorded in the notebook's own outputs (`HEADLINE_KEY` in an output's metadata,
`SKIPS_MIME` data), where `mdcnb report` reads them back from the executed notebook to build index.html.
"""

from __future__ import annotations

import html
import itertools
import json
import numbers
import re
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from IPython.display import HTML, display

from mdcnb.core import schema
from mdcnb.measures import registry
from mdcnb.measures.registry import Filters
from mdcnb.report.csv_columns import columnwise_parts
from mdcnb.report.table_html import html_table
from mdcnb.snapshot import Options, Snapshot, load, skipped
from mdcnb.sources.dataset import default_dataset
from mdcnb.tables.mask import Masker

CSV_DIR = "csv"
CSV_ZIP_BYTES = 2**20   # a CSV larger than this is written zipped: a week folder stays small enough to send
# zlib level of those zips: at 2,000 subscriptions level 1 writes a 125 MB table in a third of the default level's
# (6) time, for a zip 1.4 times as large (5.8 MB instead of 4.1)
CSV_ZIP_LEVEL = 1
DEFAULT_MAX_ROWS = 25
PAGE_COLUMNS = Path(__file__).with_name("page_columns.json")  # the optional columns each report page reads
HEADLINE_KEY = "mdcnb_headline"                       # output metadata: one headline as shown
SKIPS_MIME = "application/vnd.mdcnb.skips+json"       # output data: records that could not be read


def csv_path(report_dir: Path, notebook: str, name: str) -> Path:
    return Path(report_dir) / CSV_DIR / notebook / f"{name}.csv"


def csv_ready(df: pd.DataFrame) -> pd.DataFrame:
    """Lists become `a; b`, dicts JSON, so the CSV reads well in a spreadsheet. A list or dict object that several
    cells share (the tables share equal lists: 126,000 failing assessments hold 67,000 lists of resources at 2,000
    subscriptions) becomes one string, made once (`schema.per_object`)."""
    out = df.copy()
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = schema.per_object(out[column], _cell_text)
    return out


def _cell_text(value: Any) -> Any:
    """A list or dict cell as text; any other cell as it is."""
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return "; ".join(map(str, value)) if isinstance(value, (list, tuple)) else value


# A cell a spreadsheet would read as a formula (OWASP "CSV injection"), unless it is a plain number such as -3.5.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def formula_safe(value: Any) -> Any:
    """Text a spreadsheet would run as a formula, prefixed with `'` so it shows as text; anything else as is."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_text(df: pd.DataFrame) -> str:
    """The CSV every writer of mdcnb uses: `csv_ready` cells, text that a spreadsheet would run as a formula
    neutralised (`formula_safe`; number columns stay numbers), rows ending in CRLF (RFC 4180) so that a carriage
    return inside a value is quoted rather than read as a row break (which would start a row with what follows)."""
    return "".join(csv_parts(df))


def csv_parts(df: pd.DataFrame) -> Iterator[str]:
    """`csv_text(df)` in consecutive pieces: a big table's a few thousand rows at a time (`columnwise_parts`,
    the same bytes, built column by column), any other table whole."""
    out = csv_ready(df)
    parts = columnwise_parts(out, text=_formula_safe_values)
    if parts is not None:
        return parts
    for column in out.columns:
        if pd.api.types.is_object_dtype(out[column].dtype) or isinstance(out[column].dtype, pd.StringDtype):
            out[column] = _formula_safe_column(out[column])
    return iter([out.to_csv(index=False, lineterminator="\r\n")])


def _formula_safe_values(values: pd.Series) -> pd.Series:
    """`formula_safe` of distinct text values: only those starting as a formula does are judged one by one."""
    first = np.array(values.tolist(), dtype="U1")  # each value's first character, cut in C
    suspect = np.isin(first, _FORMULA_START)
    if not suspect.any():
        return values
    out = values.copy()
    out[suspect] = [formula_safe(value) for value in values[suspect]]
    return out


def _formula_safe_column(column: pd.Series) -> pd.Series:
    """`formula_safe` of every cell, judged once per distinct value (a 300,000-row table repeats a few thousand)."""
    try:
        distinct = pd.Series(column.dropna().unique(), dtype=object)
    except TypeError:  # an unhashable cell: every cell judged
        return column.map(formula_safe, na_action="ignore")
    text = pd.api.types.infer_dtype(distinct, skipna=False) == "string"
    safe = _formula_safe_values(distinct) if text else distinct.map(formula_safe)
    changed = {value: done for value, done in zip(distinct, safe, strict=True) if done is not value}
    if not changed:
        return column
    hit = column.isin(list(changed))
    return column.where(~hit, column[hit].map(changed))


_CODE_SPAN = re.compile(r"`([^`]+)`")


def inline_code(escaped: str) -> str:
    """Escaped text with its Markdown code spans (`mdcnb prices refresh`) as `<code>` elements."""
    return _CODE_SPAN.sub(r"<code>\1</code>", escaped)


def note_text(value: Any) -> str:
    """A number or date in a sentence as the registry writes it (`1,250` files, `2026-11-06`); anything else as
    `str` gives it."""
    if isinstance(value, (numbers.Integral, date)) and not isinstance(value, bool):
        return registry.formatted(value, "count")
    return str(value)


def write_csv(df: pd.DataFrame, path: Path, *, zip_over: int | None = None) -> Path:
    """Write `csv_text(df)` at `path` as bytes (its CRLF rows kept as they are), or, when it is larger than
    `zip_over` bytes, as `path` + `.zip` holding that one CSV (Windows and macOS open a zip natively;
    `pandas.read_csv` reads it as is) and no plain copy. Returns the file written. The text is written piece by
    piece (`csv_parts`): a big table's CSV is never whole in memory, nor its bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    zipped = path.with_name(path.name + ".zip")
    parts = (part.encode("utf-8") for part in csv_parts(df))
    head, size = [], 0
    for data in parts:  # the pieces held until the text is known to be larger than zip_over
        head.append(data)
        size += len(data)
        if zip_over is not None and size > zip_over:
            break
    written, other = (zipped, path) if zip_over is not None and size > zip_over else (path, zipped)
    other.unlink(missing_ok=True)      # an earlier run of this week may have written the other form
    if written is path:
        path.write_bytes(b"".join(head))
        return written
    with zipfile.ZipFile(zipped, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=CSV_ZIP_LEVEL) as archive, \
            archive.open(path.name, "w") as member:
        for data in itertools.chain(head, parts):
            member.write(data)
    return written


def csv_files(folder: Path) -> list[Path]:
    """The CSVs `write_csv` left in `folder`, plain or zipped."""
    return sorted(p for pattern in ("*.csv", "*.csv.zip") for p in Path(folder).glob(pattern))


def columns_left_out(notebook: str) -> dict[str, list[str]]:
    """Per table, the optional columns (`page_columns.json`) the report's page `notebook` does not read: its
    kernel reads the snapshot without them. A notebook that is not one of the report's own gets every column."""
    declared = json.loads(PAGE_COLUMNS.read_text(encoding="utf-8"))
    if notebook not in declared["pages"]:
        return {}
    reads = declared["pages"][notebook]
    return {table: [c for c in columns if c not in reads.get(table, ())]
            for table, columns in declared["optional"].items()}


class Page:
    """The display-and-export helpers of one notebook page."""

    def __init__(self, notebook: str, *, report_dir: str | Path | None = None, mask_ids: bool = False,
                 dataset: str | Path | None = None, snapshot: str | Path | None = None,
                 history: str | Path | None = None, logs: str | Path | None = None, options: Options | None = None,
                 tenant: str | None = None, max_rows: int = DEFAULT_MAX_ROWS, **filters: Any) -> None:
        """`snapshot`: the folder `mdcnb report` left the week's snapshot in (None: build one from `dataset`,
        `history`, `logs`, `options` and `tenant`, whose series of the history store to read); `filters`
        (environments, subscriptions, accounts, severities, standards, since, until) apply to every headline."""
        self.notebook = notebook
        self.report_dir = Path(report_dir) if report_dir else None
        self.dataset = Path(dataset) if dataset else default_dataset()
        self.filters = Filters.of(**filters)
        self.max_rows = max_rows
        self.masker = Masker.for_dataset(self.dataset) if mask_ids else None
        self._source = {"snapshot": snapshot, "leave_out": columns_left_out(notebook), "dataset": self.dataset,
                        "history": history, "logs": logs, "since": self.filters.since, "until": self.filters.until,
                        "options": options, "tenant": tenant}
        self._snapshot: Snapshot | None = None

    # -- data in ---------------------------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """The week's snapshot (read or built once per page); what it could not read is recorded for index.html."""
        if self._snapshot is None:
            self._snapshot = load(**self._source)
            self.skips(skipped(self._snapshot))
        return self._snapshot

    def tables(self):
        """The snapshot's tables, unmasked: filters name real ids, and `table`, `figure`, `note` and `measure`
        mask what they show."""
        return self.snapshot().tables

    def value(self, id: str, *, filters: Filters | None = None) -> Any:
        """Measure `id` under the page's filters (or `filters`), not shown: the data of a chart or table."""
        return registry.value(id, self.snapshot(), filters or self.filters)

    def currency(self) -> str:
        """The currency of the snapshot's price table (before a snapshot is read: the page's options')."""
        if self._snapshot is not None:
            return self._snapshot.prices.currency
        return (self._source["options"] or Options()).currency

    def skips(self, skipped: pd.DataFrame) -> None:
        """Record records or files that could not be read (columns of `schema.SKIPS`) for index.html."""
        if not len(skipped):
            return
        rows = self.mask(skipped).astype(object).where(skipped.notna(), None).to_dict("records")
        display({SKIPS_MIME: rows}, raw=True)

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
              columns: list[str] | None = None, data: pd.DataFrame | None = None, empty: str | None = None,
              measure: str | None = None) -> None:
        """Show the first rows of `df` (escaped; only `columns` if given) and export all of it, or the fuller
        `data` behind it, as `csv/<notebook>/<name>.csv`. A table without rows shows one sentence instead: `empty`
        ("No failing controls in this scope."), else "<title>: none.". `measure`: the measure whose data the table
        shows; the title then says what it covers when the page filters on something the measure ignores."""
        if measure and title:
            title = registry.labelled(measure, self.filters, title)
        data = self.mask(df if data is None else data)
        df = self.mask(df[columns] if columns else df)
        link = self._export(data, name)
        if df.empty:
            sentence = empty or (f"{title}: none." if title else "No rows.")
            display(HTML(f'<p class="mdcnb-empty">{html.escape(sentence)}</p>'))
            return
        limit = max_rows or self.max_rows
        parts = [f"<h4>{html.escape(title)}</h4>"] if title else []
        parts.append(html_table(df, limit, measure, self.currency()))
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

    def measure(self, id: str, *, filters: Filters | None = None, qualifier: str | None = None) -> None:
        """Show measure `id` as a headline under the page's filters (or `filters`) and record it for index.html;
        `qualifier` names what the filters single out (a standard). Returns nothing, so that a cell ending in it
        shows the headline only (`value` gives the number)."""
        record = {"notebook": self.notebook, **registry.shown(id, self.snapshot(), filters or self.filters)}
        record["label"] += f": {self.mask(qualifier)}" if qualifier else ""
        record["text"] = self.mask(record["text"])
        display(HTML(f'<p class="mdcnb-headline"><b>{html.escape(record["label"])}:</b> '
                     f'{html.escape(record["text"])}</p>'), metadata={HEADLINE_KEY: record})

    def note(self, template: str, **values: Any) -> None:
        """Show a sentence of HTML `template` with `{name}` placeholders filled by escaped, masked values; a value's
        `code` spans (a command to run, in text shared with the terminal) show as code, not as backticks."""
        escaped = {k: inline_code(html.escape(self.mask(v) if isinstance(v, str) else note_text(v)))
                   for k, v in values.items()}
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
        path = write_csv(df, csv_path(self.report_dir, self.notebook, name), zip_over=CSV_ZIP_BYTES)
        href = html.escape(path.relative_to(self.report_dir).as_posix(), quote=True)
        return f'<a href="{href}">data: {html.escape(path.name)}</a>'

