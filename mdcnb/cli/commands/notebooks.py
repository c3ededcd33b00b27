"""`mdcnb notebooks DIR`: copy the shipped notebooks into a folder, to open with `jupyter lab DIR`."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "notebooks", help="copy the notebooks into DIR for JupyterLab",
        description="Copy the report's notebooks into DIR for interactive use (`jupyter lab DIR`). They read the "
                    "embedded sample tenant until you set `dataset = \"<dataset dir>\"` in a parameters cell. A copy "
                    "that differs from the shipped notebook (edited, or from another mdcnb version) is kept: "
                    "nothing is copied and the command exits 1 unless --force.")
    parser.add_argument("dir", type=Path, metavar="DIR", help="folder to copy into (created)")
    parser.add_argument("--force", action="store_true", help="overwrite copies that differ from the shipped ones")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mdcnb.core.package_data import notebooks_dir

    target: Path = args.dir
    if target.exists() and not target.is_dir():
        print(f"mdcnb notebooks: {target} is a file, not a folder", file=sys.stderr)
        return 2
    shipped = sorted(notebooks_dir().glob("*.ipynb"))
    edited = [s.name for s in shipped if _differs(target / s.name, s)]
    if edited and not args.force:
        print(f"mdcnb notebooks: {', '.join(edited)} in {target} differ from the shipped notebooks; nothing copied "
              "(--force overwrites them)", file=sys.stderr)
        return 1
    target.mkdir(parents=True, exist_ok=True)
    for source in shipped:
        shutil.copyfile(source, target / source.name)
    replaced = f", {len(edited)} edited cop{'y' if len(edited) == 1 else 'ies'} replaced" if edited else ""
    print(f"copied {len(shipped)} notebooks to {target}{replaced}; open them with: jupyter lab {target}")
    return 0


def _differs(copy: Path, shipped: Path) -> bool:
    """A copy is there and its bytes are not the shipped notebook's."""
    return copy.is_file() and copy.read_bytes() != shipped.read_bytes()
