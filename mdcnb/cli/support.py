"""Pieces shared by sub-commands (kept outside `mdcnb.cli.commands`, whose every module must be a command).

Like the commands, this module imports pandas and the table loaders only inside the functions that need them:
`mdcnb --help` imports every command module, and must not pay for what no command has run yet.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mdcnb.measures.registry import plain
from mdcnb.sources.dataset import DatasetError, default_dataset

if TYPE_CHECKING:
    import pandas as pd

    from mdcnb.tables import Tables

# Where the history store is when --history is not given. Literal (not `mdcnb.tables.history.HISTORY_ENV`) so that
# `--help` loads neither DuckDB nor pandas; tests/test_cli.py checks the two agree.
HISTORY_DEFAULT = "$MDCNB_HISTORY or history.duckdb in the user data directory"


def add_dataset_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", type=Path, default=None, metavar="DIR",
                        help="dataset directory (default: the embedded sample tenant, or $MDCNB_DATASET)")


def add_dataset_command(subparsers: argparse._SubParsersAction, name: str, help_text: str,
                        run: Callable[[argparse.Namespace], int],
                        filters: Sequence[tuple[str, str, str]]) -> argparse.ArgumentParser:
    """A command reading one dataset: `--dataset`, `--json` and a repeatable option per (option, metavar, help)."""
    parser = subparsers.add_parser(name, help=help_text)
    add_dataset_argument(parser)
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    for option, metavar, text in filters:
        parser.add_argument(option, action="append", default=[], metavar=metavar, help=f"{text}; repeatable")
    parser.set_defaults(func=run)
    return parser


def load_dataset(args: argparse.Namespace) -> Tables | None:
    """Load `args.dataset`; report skipped records on stderr. None (after a message) when it cannot be read."""
    from mdcnb.tables import load_tables

    path = args.dataset if args.dataset is not None else default_dataset()
    try:
        tables = load_tables(path)
    except (FileNotFoundError, NotADirectoryError, DatasetError) as exc:
        print(f"mdcnb: {exc}", file=sys.stderr)
        return None
    report_skips(tables)
    return tables


def report_skips(tables: Tables, limit: int = 10) -> None:
    """Tell the user on stderr how many records could not be read, and why (first `limit`)."""
    skips = tables.skips
    if skips.empty:
        return
    print(f"mdcnb: {len(skips)} record(s) skipped while reading {tables.dataset}:", file=sys.stderr)
    for row in skips.head(limit).itertuples(index=False):
        print(f"  {row.source} {row.location}: {row.reason}", file=sys.stderr)
    if len(skips) > limit:
        print(f"  ... and {len(skips) - limit} more", file=sys.stderr)


def measures_json(snapshot: Any, ids: Iterable[str], **filters: Any) -> dict[str, Any]:
    """`{"<measure id>": value}` for the `--json` documents: the registry's values under the command's filters."""
    from mdcnb.measures import registry

    selected = registry.Filters.of(**filters)
    return {id: plain(registry.value(id, snapshot, selected)) for id in ids}


def print_json(document: Any) -> None:
    print(json.dumps(document, indent=2, ensure_ascii=False))


def print_frame(frame: pd.DataFrame) -> None:
    """A readable fixed-width table on stdout."""
    print(frame.to_string(index=False, na_rep="-") if not frame.empty else "(nothing)")


def print_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """`print_frame` for plain rows (no pandas): right-aligned columns, "-" for a missing value or NaN, the numbers
    of a column with as many decimals as its most precise needs (six significant digits, six decimals at most)."""
    if not rows:
        print("(nothing)")
        return
    table = [list(columns)] + [_cells([row.get(c) for row in rows]) for c in columns]
    table[1:] = list(zip(*table[1:], strict=True))  # rows of cells
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    for line in table:
        print(" ".join(text.rjust(width) for text, width in zip(line, widths, strict=True)))


def _cells(values: list[Any]) -> list[str]:
    """One column's values as text (see `print_rows`)."""
    numbers = [v for v in values if isinstance(v, float) and not math.isnan(v)]
    decimals = min(6, max((len(f"{v:.6g}".partition(".")[2]) for v in numbers), default=0))

    def cell(value: Any) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "-"
        return f"{value:.{decimals}f}" if isinstance(value, float) else str(value)

    return [cell(v) for v in values]
