"""`mdcnb prices`: show the dated price table, or refresh it from the public Azure Retail Prices API."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mdcnb.cli.support import print_frame


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
    refresh.set_defaults(func=run_refresh)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def run_show(args: argparse.Namespace) -> int:
    from mdcnb.sources.prices import PriceTableError, latest_price_table, load_price_table

    try:
        table = load_price_table(args.prices) if args.prices else latest_price_table(currency=args.currency)
    except PriceTableError as exc:
        print(f"mdcnb: {exc}", file=sys.stderr)
        return 2
    print(f"{table.label}\nsource: {table.source}")
    print_frame(table.rows[["plan", "sub_plan", "billing_unit", "hourly_price", "monthly_price", "usage_price",
                            "usage_unit", "confidence", "source_date"]])
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
    try:
        base = load_price_table(args.base) if args.base else latest_price_table()
        log = retail_prices.FetchLog()
        items = retail_prices.fetch_price_items(currency=args.currency.upper(), region=args.region,
                                                endpoint=endpoint, log=log)
        table = retail_prices.refresh_price_table(base, items, currency=args.currency, region=args.region,
                                                  endpoint=endpoint)
    except (PriceTableError, retail_prices.RetailPricesError) as exc:
        print(f"mdcnb: {exc}", file=sys.stderr)
        return 1
    path = write_price_table(table, args.out or PRICES_DIR)
    matched = len(retail_prices.matched_rows(table))
    print(f"wrote {path}: {matched} of {len(table.rows)} rows priced from the Retail Prices API "
          f"({log.items} items over {log.pages} pages)")
    unpriced = table.rows[table.rows["monthly_price"].isna() & table.rows["usage_price"].isna()]
    if len(unpriced):
        print(f"{len(unpriced)} row(s) without a price in {table.currency}:", file=sys.stderr)
        for row in unpriced.itertuples(index=False):
            print(f"  {row.plan} {row.sub_plan} ({row.billing_unit}): {row.note}", file=sys.stderr)
    return 0
