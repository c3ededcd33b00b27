"""`mdcnb tables`: print the table contracts (columns, types, meaning) as Markdown."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("tables", help="print the table contracts as Markdown")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mdcnb.core import schema

    print(schema.documentation())
    return 0
