"""`mdcnb sample`: generate the deterministic sample tenant as a dataset directory."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sample", help="generate the deterministic sample tenant (a dataset directory)",
        description="Generate the sample tenant: ARG/ARM-shaped records, weekly history and the parts other "
                    "modules plug in. The same seed gives the same bytes.")
    parser.add_argument("--out", required=True, type=Path, help="dataset directory to write (replaced)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0, the committed sample)")
    parser.add_argument("--scale", default="small",
                        help="small (default, 12 subscriptions), large (2,000 subscriptions, >= 1M assessments) "
                             "or a number of subscriptions, e.g. 200 or 200-subscriptions")
    parser.add_argument("--weeks", type=int, default=None,
                        help="weekly snapshots including the latest (default 6 for small, 1 otherwise)")
    parser.add_argument("--plain", action="store_true",
                        help="write the latest week's record files as plain <type>.jsonl, as `mdcnb pull` does "
                             "(default: gzipped <type>.jsonl.gz; earlier weeks are always gzipped)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mdcnb.sample import generate

    out: Path = args.out
    if out.exists() and not out.is_dir():
        print(f"mdcnb sample: {out} is a file, not a directory", file=sys.stderr)
        return 2
    if out.exists() and any(out.iterdir()) and not (out / "manifest.json").exists():
        print(f"mdcnb sample: {out} is not empty and is not a dataset; refusing to replace it", file=sys.stderr)
        return 2
    started = time.monotonic()
    try:
        if out.exists():
            shutil.rmtree(out)
        ctx = generate(out, seed=args.seed, scale=args.scale, weeks=args.weeks, plain=args.plain)
    except ValueError as exc:
        print(f"mdcnb sample: {exc}", file=sys.stderr)
        return 2
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out}: {len(ctx.subscriptions)} subscriptions, {ctx.weeks} weeks, seed {ctx.seed}, "
          f"{size / 1e6:.1f} MB in {time.monotonic() - started:.1f} s")
    return 0
