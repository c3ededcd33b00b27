"""`mdcnb prices`: show the dated price table, or refresh it from the public Azure Retail Prices API."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mdcnb.cli.support import print_rows


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("prices", help="Defender and SIEM price tables (show, refresh from Azure)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    show = actions.add_parser("show", help="print a price table with each row's source")
    show.add_argument("--prices", type=Path, default=None, metavar="FILE", help="price table (default: the latest)")
    show.add_argument("--currency", default="USD", help="currency of the latest table to show (default USD)")
    show.set_defaults(func=run_show)
    refresh = actions.add_parser("refresh", help="write a new dated table from the Azure Retail Prices API")
    refresh.add_argument("--currency", default="USD", help="currency code, e.g. EUR (USD is the list price)")
    refresh.add_argument("--region", default="eastus",
                         help="Azure region for regional meters such as Sentinel (Global is always asked too)")
    refresh.add_argument("--endpoint", default=None, help="Retail Prices API URL (default: the public one)")
    refresh.add_argument("--base", type=Path, default=None, metavar="FILE",
                         help="table whose rows (meters) are re-priced (default: the latest USD table)")
    refresh.add_argument("--out", type=Path, default=None, metavar="DIR",
                         help="where to write the new table (default: the project's data/prices)")
    refresh.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS",
                         help="give up when the whole refresh takes longer (default 300)")
    refresh.set_defaults(func=run_refresh)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def run_show(args: argparse.Namespace) -> int:
    """Print a price table as plain rows (`price_rows`: no pandas, so the command starts at once)."""
    from mdcnb.sources.prices import PriceTableError, latest_price_path, price_rows, read_price_data, table_label

    try:
        path = args.prices or latest_price_path(currency=args.currency)
        data = read_price_data(path)
        rows = price_rows(data, path)
    except PriceTableError as exc:
        print(f"mdcnb: {exc}", file=sys.stderr)
        return 2
    print(f"{table_label(str(data['name']), str(data['date']), str(data['currency']))}\nsource: {data['source']}")
    print_rows(rows, ["plan", "sub_plan", "billing_unit", "hourly_price", "monthly_price", "usage_price", "usage_unit",
                      "confidence", "source_date"])
    return 0


def run_refresh(args: argparse.Namespace) -> int:
    from mdcnb.sources import retail_prices
    from mdcnb.sources.prices import (
        PRICES_DIR,
        PriceTableError,
        latest_price_table,
        load_price_table,
        write_price_table,
    )

    endpoint = args.endpoint or retail_prices.RETAIL_ENDPOINT
    log = retail_prices.FetchLog()
    try:
        base = load_price_table(args.base) if args.base else latest_price_table()
        items = retail_prices.fetch_price_items(currency=args.currency.upper(), region=args.region,
                                                endpoint=endpoint, log=log,
                                                limits=retail_prices.Limits(seconds=args.timeout))
        table = retail_prices.refresh_price_table(base, items, currency=args.currency, region=args.region,
                                                  endpoint=endpoint)
        path = write_price_table(table, args.out or PRICES_DIR)
    except (PriceTableError, retail_prices.RetailPricesError) as exc:
        print(f"mdcnb: {exc}; no price table written", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"mdcnb: cannot write the price table: {exc}; the old table is untouched", file=sys.stderr)
        return 1
    matched = len(retail_prices.matched_rows(table))
    print(f"wrote {path}: {matched} of {len(table.rows)} rows priced from the Retail Prices API "
          f"({log.items} items over {log.pages} pages)")
    if log.rejected:
        print(f"{log.rejected} item(s) ignored: their retailPrice is no finite, non-negative number", file=sys.stderr)
    unpriced = table.rows[table.rows["monthly_price"].isna() & table.rows["usage_price"].isna()]
    if len(unpriced):
        print(f"{len(unpriced)} row(s) without a price in {table.currency}:", file=sys.stderr)
        for row in unpriced.itertuples(index=False):
            print(f"  {row.plan} {row.sub_plan} ({row.billing_unit}): {row.note}", file=sys.stderr)
    return 0
