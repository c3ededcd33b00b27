"""`mdcnb cost`: monthly Defender plan cost per scope and plan, the "Enable all" what-if, savings, SIEM side."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mdcnb.cli.support import add_dataset_argument, load_dataset, measures_json, plain, print_frame, print_json

if TYPE_CHECKING:
    from mdcnb.tables import Tables


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("cost", help="Defender plan cost as configured, enable-all what-if, savings")
    add_dataset_argument(parser)
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.add_argument("--prices", type=Path, default=None, metavar="FILE",
                        help="price table (default: the latest in data/prices for --currency)")
    parser.add_argument("--currency", default="USD", help="currency of the latest price table to use (default USD)")
    parser.add_argument("--override", type=Path, action="append", default=[], metavar="CSV",
                        help="negotiated prices (plan,sub_plan,monthly_price|hourly_price|usage_price); repeatable")
    parser.add_argument("--exclude-tag", default=None, metavar="KEY[=VALUE]",
                        help="also show the saving of excluding resources with this tag")
    parser.add_argument("--siem", default=None,
                        help="SIEM price row for CspmMonitorAws reads (default: Microsoft Sentinel analytics logs; "
                             "`mdcnb prices show` lists them)")
    parser.add_argument("--price-per-gb", type=float, default=None, help="your SIEM price per GB instead")
    parser.add_argument("--price-per-million-events", type=float, default=None,
                        help="your SIEM price per million events instead")
    parser.add_argument("--since", default=None, help="first day of CloudTrail logs to count (ISO date)")
    parser.add_argument("--until", default=None, help="last day of CloudTrail logs to count (ISO date)")
    parser.add_argument("--actual", action="store_true",
                        help="also read last month's actual Defender spend (Cost Management Query API, "
                             "Azure credentials from the environment; needs Cost Management Reader)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    import pandas as pd

    from mdcnb.analysis import cost
    from mdcnb.measures import cost as cost_measures
    from mdcnb.measures.registry import Filters, numbers
    from mdcnb.snapshot import Options, of_tables, scan
    from mdcnb.snapshot import cost as cost_page
    from mdcnb.sources.aws_dataset import read_inventories
    from mdcnb.sources.prices import DEFAULT_SIEM, PriceTableError

    tables = load_dataset(args)
    if tables is None:
        return 2
    options = Options(prices=args.prices, currency=args.currency, overrides=tuple(args.override),
                      siem=args.siem or DEFAULT_SIEM, price_per_gb=args.price_per_gb,
                      price_per_million_events=args.price_per_million_events, exclude_tag=args.exclude_tag,
                      exclude_value=None)
    try:
        snap = replace(of_tables(tables, scan(tables.dataset, since=args.since, until=args.until), options),
                       inventories=read_inventories(tables.dataset)[0])
        view = cost_measures.view(snap, Filters())
    except PriceTableError as exc:
        print(f"mdcnb: {exc}", file=sys.stderr)
        return 2
    prices, result = snap.prices, view.scenarios
    document = {"measures": measures_json(snap, numbers("cost")), **cost_page.document(view)}
    if args.actual:
        document["actual_spend"] = _actual(tables)
    if args.json:
        print_json(document)
        return 0
    configured = result.configured
    print(f"Defender plans, monthly ({prices.currency}, {prices.label}):")
    print(f"  as configured     {configured.monthly_total:>12,.2f}   next 30 days after free trials "
          f"{configured.next_30_days_total:,.2f}")
    print(f"  enable all        {result.enable_all.monthly_total:>12,.2f}   delta {result.enable_all_delta:+,.2f}")
    print(f"  Servers P2 -> P1  saves {result.servers_p1_saving:,.2f}")
    if result.tag_excluded is not None:
        print(f"  {result.tag_excluded.scenario}  saves {result.tag_saving:,.2f}")
    print_frame(cost.compare(configured, result.enable_all))
    uncounted = configured.uncounted()
    if len(uncounted):
        print(f"\nNot in the totals ({len(uncounted)} enabled plan/scope pairs the data cannot price):")
        print_frame(uncounted)
    siem = document["siem"]
    if document["siem_monthly"] is None:
        print(f"\nSIEM: {siem['note']}")
    else:
        print(f"\nSIEM ({siem['price']}, {siem['price_source']}): CspmMonitorAws reads cost "
              f"{document['siem_monthly']:,.2f} a month; exporting the whole trail {siem['monthly_cost']:,.2f}, "
              f"{siem['monthly_cost_after_filter']:,.2f} with the filter")
    if args.actual:
        print(f"\n{document['actual_spend']['note']}")
        print_frame(pd.DataFrame(document["actual_spend"]["scopes"]))
    return 0


def _actual(tables: Tables) -> dict:
    """Last full month's actual Defender spend of every subscription of the dataset (or why not)."""
    from mdcnb.snapshot import cost as cost_page

    spend, note = cost_page.actual_spend(tables, True)
    return {"note": note, "scopes": [{k: plain(v) for k, v in row.items()} for row in spend.to_dict("records")]}
