"""A big table's CSV built column by column: the bytes pandas' `to_csv` writes, several times quicker.

pandas hands every cell to Python's `csv` writer (about 7 s for the 340,000 rows and 117 MB of a large tenant's
newly unhealthy recommendations). Here a text column's cells are made fields once per distinct value (quoted as
the `csv` writer's QUOTE_MINIMAL quotes them: a field holding a comma, a double quote, CR or LF is enclosed in double
quotes, its double quotes doubled; the caller has already neutralised formulas, `page.csv_text`), a column of any
other dtype (numbers, booleans, times) is written by pandas alone, and the rows are joined, `PART_ROWS` at a time
(`columnwise_parts`: a writer then holds one piece, not the whole text and its bytes). It
answers None for a frame it does not cover (few rows, one column, categoricals, cells of mixed types), which the
caller writes with pandas as before.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd

MIN_ROWS = 5_000          # below this pandas is quick enough, and writes the table itself
# rows joined at a time: a 340,000-row table's text (about 120 MB, then as much again encoded) is never whole
PART_ROWS = 20_000
_QUOTED_CHARS = (",", '"', "\r", "\n")  # a field holding one is quoted, its quotes doubled (QUOTE_MINIMAL)
_QUOTED = re.compile(f"[{re.escape(''.join(_QUOTED_CHARS))}]")
LINE_END = "\r\n"
_CHUNK = 4096  # values joined for one search (`_quoted`)


Values = Callable[[pd.Series], pd.Series]  # an element-wise change of a column's distinct text values


def _text_fields(column: pd.Series, change: Values | None) -> list[str] | None:
    """The fields of a text column (object or string dtype; a missing cell an empty field), each distinct value
    changed (`change`) and judged once; None when a cell is not text."""
    try:
        codes, distinct = pd.factorize(column.to_numpy(dtype=object))
    except TypeError:  # an unhashable cell
        return None
    values = pd.Series(distinct, dtype=object)
    if len(values) and pd.api.types.infer_dtype(values, skipna=False) != "string":
        return None
    if change is not None:
        values = change(values)
    fields = np.append(values.to_numpy(dtype=object), "")
    quoted = np.flatnonzero(_quoted(values.tolist()))
    fields[quoted] = ('"' + values.iloc[quoted].str.replace('"', '""', regex=False) + '"').to_numpy(dtype=object)
    return fields[codes].tolist()


def _quoted(values: list[str]) -> np.ndarray:
    """Which text values hold a character that makes a field quoted. A chunk of a few thousand values is first
    searched for those characters as one joined text, in C: a column that never needs quotes (ids) costs a search
    per chunk, not a regular expression per value."""
    out = np.zeros(len(values), dtype=bool)
    for start in range(0, len(values), _CHUNK):
        chunk = values[start:start + _CHUNK]
        joined = "".join(chunk)
        if any(char in joined for char in _QUOTED_CHARS):
            out[start:start + len(chunk)] = [_QUOTED.search(value) is not None for value in chunk]
    return out


def _pandas_fields(column: pd.Series) -> list[str] | None:
    """The fields pandas writes for a column that is not text (numbers, booleans, times: no line break in them)."""
    lines = column.to_frame().to_csv(index=False, header=False, lineterminator="\n").split("\n")[:-1]
    if len(lines) != len(column):
        return None
    return ["" if line == '""' else line for line in lines]  # one empty field alone is written quoted


def columnwise_parts(frame: pd.DataFrame, rows: int = PART_ROWS, text: Values | None = None) -> Iterator[str] | None:
    """`frame.to_csv(index=False, lineterminator=CRLF)` built column by column, in consecutive pieces of `rows`
    rows (the header with the first), so that a writer holds one piece at a time rather than the whole text, the
    text cells changed by `text` first (worked on each column's distinct values, which the fields are made of
    anyway); None when the frame is not one this covers (the caller then writes it with pandas)."""
    if len(frame) < MIN_ROWS or len(frame.columns) < 2 or isinstance(frame.columns, pd.MultiIndex):
        return None
    columns = []
    for _, column in frame.items():
        dtype = column.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            return None
        is_text = pd.api.types.is_object_dtype(dtype) or isinstance(dtype, pd.StringDtype)
        fields = _text_fields(column, text) if is_text else _pandas_fields(column)
        if fields is None:
            return None
        columns.append(fields)
    header = io.StringIO()
    csv.writer(header, lineterminator=LINE_END).writerow(list(frame.columns))
    return _pieces(header.getvalue(), columns, rows)


def _pieces(header: str, columns: list[list[str]], rows: int) -> Iterator[str]:
    yield header
    for start in range(0, len(columns[0]), rows):
        cut = [fields[start:start + rows] for fields in columns]
        yield LINE_END.join(map(",".join, zip(*cut, strict=True))) + LINE_END
