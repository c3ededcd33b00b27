"""The `mdcnb` command line.

Each sub-command lives in its own module under `mdcnb.cli.commands` and exposes
`register(subparsers)`, which adds its parser and sets `func` to a callable taking the parsed
arguments and returning an exit code. Modules are discovered, so adding a command never edits this file.
Every start imports every command module, so `register` must stay cheap: a command imports pandas, DuckDB, boto3,
azure and the analysis modules inside the functions that run it, never at module top (tests/test_cli.py checks).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from mdcnb import __version__
from mdcnb.cli import commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mdcnb", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"mdcnb {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
