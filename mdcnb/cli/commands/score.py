"""`mdcnb score`: secure score per scope (subscription / AWS or GCP connector) and overall, as MDC computes it."""

from __future__ import annotations

import argparse

from mdcnb.cli.support import add_dataset_command, load_dataset, measures_json, plain, print_frame, print_json


def register(subparsers: argparse._SubParsersAction) -> None:
    add_dataset_command(subparsers, "score", "secure score per subscription/connector and overall", run, [
        ("--environment", "ENV", "only scopes of this environment (Azure, AWS, GCP, ...)"),
        ("--subscription", "ID", "only scopes of this subscription"),
    ])


def run(args: argparse.Namespace) -> int:
    from mdcnb.analysis import score
    from mdcnb.measures.registry import numbers
    from mdcnb.snapshot import of_tables

    tables = load_dataset(args)
    if tables is None:
        return 2
    scope_table = score.scopes(tables, environments=args.environment, subscriptions=args.subscription)
    overall = score.overall(scope_table)
    if args.json:
        print_json({
            "measures": measures_json(of_tables(tables), numbers("score"), environments=args.environment,
                                      subscriptions=args.subscription),
            "overall": {k: plain(v) for k, v in overall.items()},
            "scopes": [{"id": r.scope_id, "name": plain(r.name), "environment": plain(r.environment),
                        "current": plain(r.current), "max": plain(r.max),
                        "percentage": plain(r.percentage), "weight": plain(r.weight)}
                       for r in scope_table.itertuples(index=False)],
        })
        return 0
    if scope_table.empty:
        print(f"No secure score in {tables.dataset} for the selected scopes.")
        return 0
    print(f"Overall secure score: {overall['percentage']:.2f}% "
          f"({overall['current']:.2f} of {overall['max']:.0f} points over {len(scope_table)} scopes, weighted)")
    print_frame(scope_table[["name", "environment", "current", "max", "percentage", "weight"]])
    return 0
