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

import mdcnb
from mdcnb.cli import commands
from mdcnb.core import progress
from mdcnb.sources.dataset import DatasetError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mdcnb", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action=_Version)
    parser.add_argument("--quiet", action="store_true", help="no progress bars (they are drawn on a terminal only)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(subparsers)
    _add_quiet(subparsers)
    return parser


class _Version(argparse.Action):
    """`--version`: print it and exit; read only when asked (`mdcnb.__version__` costs a light command's start)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, argparse.SUPPRESS, nargs=0, default=argparse.SUPPRESS,
                         help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        print(f"mdcnb {mdcnb.__version__}")
        parser.exit()


def _add_quiet(subparsers: argparse._SubParsersAction) -> None:
    """`--quiet` after every command and sub-command too (left unset there unless given, so that
    `mdcnb --quiet report` is not undone by the command's own default)."""
    for command in subparsers.choices.values():
        command.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bars")
        for action in command._actions:
            if isinstance(action, argparse._SubParsersAction):
                _add_quiet(action)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        with progress.quiet(args.quiet):
            return int(args.func(args) or 0)
    except DatasetError as exc:  # a damaged dataset found wherever a command reads it: one line, status 2
        print(f"mdcnb: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
