"""`mdcnb compliance`: regulatory compliance per standard and subscription (passed/failed/... controls)."""

from __future__ import annotations

import argparse

from mdcnb.cli.support import add_dataset_command, load_dataset, measures_json, plain, print_frame, print_json


def register(subparsers: argparse._SubParsersAction) -> None:
    add_dataset_command(subparsers, "compliance", "regulatory compliance per standard and subscription", run, [
        ("--standard", "NAME", "only this standard (e.g. PCI-DSS-4)"),
        ("--subscription", "ID", "only this subscription"),
    ])


def run(args: argparse.Namespace) -> int:
    from mdcnb.analysis import compliance
    from mdcnb.measures.registry import numbers
    from mdcnb.snapshot import of_tables

    tables = load_dataset(args)
    if tables is None:
        return 2
    table = compliance.standards(tables, subscriptions=args.subscription, standards=args.standard)
    if args.json:
        print_json({"measures": measures_json(of_tables(tables), numbers("compliance"), subscriptions=args.subscription,
                                              standards=args.standard),
                    "standards": [
            {"scope": r.scope_id, "standard": r.standard, "passed_controls": plain(r.passed_controls),
             "failed_controls": plain(r.failed_controls), "skipped_controls": plain(r.skipped_controls),
             "unsupported_controls": plain(r.unsupported_controls), "pass_rate": plain(r.pass_rate)}
            for r in table.itertuples(index=False)]})
        return 0
    print("Per standard, all subscriptions:")
    print_frame(compliance.rollup(table).round({"pass_rate": 4}))
    print("\nPer standard and subscription:")
    print_frame(table.drop(columns=["scope_id"]).round({"pass_rate": 4}))
    return 0
