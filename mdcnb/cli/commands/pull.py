"""`mdcnb pull --source azure ... --out DIR`: read a live tenant into a dataset directory.

Exit codes: 0 when every record type is complete, 3 when the dataset was written but the pull log lists what is
missing (the report shows it), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mdcnb.cli.support import HISTORY_DEFAULT
from mdcnb.sources.dataset import read_manifest

if TYPE_CHECKING:
    from mdcnb.tables.mask import Masker

INCOMPLETE = 3


def add_azure_options(parser: argparse.ArgumentParser, *, report: bool = False) -> None:
    """The Azure scope and endpoint options. `report=True` leaves out `--subscription` and `--workers`, which
    `mdcnb report` already has (its subscription filter then also scopes the pull)."""
    group = parser.add_argument_group("Azure (--source azure)")
    if not report:
        group.add_argument("--subscription", dest="subscriptions", action="append", default=[], metavar="ID",
                           help="subscription id to read (repeatable); default: every subscription the identity sees")
        group.add_argument("--workers", type=int, default=4, help="queries in flight (default 4)")
    group.add_argument("--management-group", metavar="ID", help="read the subscriptions below this management group")
    group.add_argument("--cloud", default="AzureCloud",
                       help="AzureCloud (default), AzureUSGovernment or AzureChinaCloud")
    group.add_argument("--arm-endpoint", metavar="URL",
                       help="ARM endpoint to use instead of the cloud's (private endpoints, test services)")
    group.add_argument("--no-classic-connectors", action="store_true",
                       help="skip the per-subscription ARM list of classic AWS/GCP connectors")


def pull_azure(args: argparse.Namespace, out: Path, workers: int = 4, *, mask_ids: bool = False) -> Path:
    """Run the Azure pull for parsed `add_azure_options` arguments (plus `subscriptions`); returns the dataset.
    azure-identity's and azure-core's log lines lose their tokens, and with `mask_ids` their ids (`core.scrub`)."""
    from mdcnb.core.scrub import scrub_library_logs
    from mdcnb.sources.azure import pull
    from mdcnb.sources.azure_paging import PullOptions

    scrub_library_logs(pull_masker(args) if mask_ids else None)
    options = PullOptions(workers=max(1, workers), classic_connectors=not args.no_classic_connectors)
    return pull(out, subscriptions=args.subscriptions, management_group=args.management_group, cloud=args.cloud,
                arm_endpoint=args.arm_endpoint, options=options)


def pull_masker(args: argparse.Namespace) -> Masker:
    """A masker for a pull that has not written its dataset yet: it knows the subscriptions asked for and the
    tenant of `AZURE_TENANT_ID`, and learns the rest from context (`/subscriptions/<id>`, sign-in URLs)."""
    from mdcnb.tables.mask import SUBSCRIPTION, TENANT, Masker, mask_key

    masker = Masker(mask_key())
    masker.add(getattr(args, "subscriptions", []), SUBSCRIPTION)
    masker.add([os.environ.get("AZURE_TENANT_ID", "")], TENANT)
    return masker


def summary(dataset: Path) -> tuple[str, bool]:
    """A short text of what a pull wrote and lost, and whether it is complete."""
    manifest = read_manifest(dataset)
    lines = [f"dataset: {dataset}"]
    lines += [f"  {name:34} {count:>10,}" for name, count in manifest.get("counts", {}).items()]
    requests = manifest.get("requests", {})
    if requests:
        lines.append(f"requests: {requests.get('requests', 0):,} ({requests.get('pages', 0):,} pages, "
                     f"{requests.get('throttled', 0)} throttled, {requests.get('quota_waits', 0)} quota waits)")
    for entry in manifest.get("pull_log", []):
        missing = "unknown" if entry.get("missing_rows") is None else f"{entry['missing_rows']:,}"
        lines.append(f"INCOMPLETE [{entry['kind']}] {entry['what']}: {entry['why']} (rows missing: {missing})")
    return "\n".join(lines), bool(manifest.get("complete"))


def run(args: argparse.Namespace) -> int:
    if args.subscriptions and args.management_group:
        print("mdcnb pull: give --subscription or --management-group, not both", file=sys.stderr)
        return 2
    try:
        dataset = pull_azure(args, args.out, args.workers)
    except ValueError as exc:
        print(f"mdcnb pull: {exc}", file=sys.stderr)
        return 2
    from mdcnb import snapshot

    text, complete = summary(dataset)
    print(text, file=sys.stderr)
    snapshot.record(snapshot.build(dataset, with_history=False), args.history,
                    log=lambda line: print(line, file=sys.stderr))
    return 0 if complete else INCOMPLETE


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("pull", help="read a live tenant into a dataset directory",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=["azure"], default="azure", help="where to read from (default azure)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="dataset directory to write")
    parser.add_argument("--history", metavar="PATH", help="history store that keeps a snapshot of every pull "
                        f"(default: {HISTORY_DEFAULT})")
    add_azure_options(parser)
    parser.set_defaults(func=run)
