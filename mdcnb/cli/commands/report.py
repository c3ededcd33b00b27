"""`mdcnb report`: run every notebook on a dataset and write the weekly HTML report."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from mdcnb.cli.commands.pull import add_azure_options, pull_azure, summary
from mdcnb.cli.support import HISTORY_DEFAULT
from mdcnb.report import NOTEBOOKS_DIR


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report", help="execute the notebooks and write reports/<ISO-week>/ with index.html",
        description="Execute every notebook with papermill and write reports/<ISO-week>/: executed notebooks, one "
                    "offline HTML page each, index.html with the headline numbers, CSV of every table. Exits 1 and "
                    "names the notebook and cell when a notebook fails (the other pages and the index are still "
                    "written), 2 for a missing dataset or notebooks folder (before anything runs).")
    parser.add_argument("--dataset", type=Path, help="dataset directory (default: the embedded sample tenant)")
    parser.add_argument("--source", choices=["sample", "azure"], default="sample",
                        help="sample (default): --dataset or the embedded sample; azure: pull the tenant first "
                             "(into <out>/datasets/azure-<UTC time>/, kept for replay) and report on it")
    parser.add_argument("--out", type=Path, default=Path("reports"),
                        help="report root (default: reports/ in the current folder)")
    parser.add_argument("--mask-ids", action="store_true",
                        help="replace subscription, tenant and AWS account ids with stable pseudonyms everywhere")
    parser.add_argument("--since", help="ISO date: first day of time series (default: the notebooks' own)")
    parser.add_argument("--until", help="ISO date: last day of time series")
    parser.add_argument("--environment", dest="environments", action="append", default=[],
                        help="only this environment (Azure, AWS, GCP); repeatable")
    parser.add_argument("--subscription", dest="subscriptions", action="append", default=[],
                        help="only this subscription id; repeatable")
    parser.add_argument("--account", dest="accounts", action="append", default=[],
                        help="only this AWS account id; repeatable")
    parser.add_argument("--history", type=Path, metavar="PATH", help="history store the report adds this week's "
                        f"snapshot to (default: {HISTORY_DEFAULT})")
    parser.add_argument("--keep-snapshot", action="store_true",
                        help="keep the snapshot the pages were computed from in <week>/snapshot/ (Parquet tables and "
                             "manifest.json; not with --mask-ids)")
    parser.add_argument("--notebook", dest="notebooks", action="append", default=[], metavar="NAME",
                        help="run only this notebook (file stem or prefix, e.g. 10_secure_score or 10); repeatable")
    parser.add_argument("--notebooks-dir", type=Path, default=NOTEBOOKS_DIR,
                        help="directory of the notebooks to run (default: the notebooks shipped with mdcnb)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                        help="notebooks executed at once (default: 2, or 1 on a single core)")
    add_azure_options(parser, report=True)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mdcnb.report.runner import ReportOptions, run_report  # papermill and nbconvert load only when used

    if args.source == "azure":
        if args.dataset:
            print("mdcnb report: give --dataset or --source azure, not both", file=sys.stderr)
            return 2
        args.dataset = _pull_live(args)
        if args.dataset is None:
            return 2
    options = ReportOptions(dataset=args.dataset, out=args.out, mask_ids=args.mask_ids, since=args.since,
                            until=args.until, environments=args.environments, subscriptions=args.subscriptions,
                            accounts=args.accounts, notebooks=args.notebooks, notebooks_dir=args.notebooks_dir,
                            workers=args.workers, history=args.history, keep_snapshot=args.keep_snapshot)
    try:
        result = run_report(options)
    except ValueError as exc:
        print(f"mdcnb report: {exc}", file=sys.stderr)
        return 2
    for failed in (n for n in result.notebooks if not n.ok):
        print(f"mdcnb report: {_masked(args, args.dataset, failed.failure())}", file=sys.stderr)
    print(result.index)
    return 0 if result.ok else 1


def _pull_live(args: argparse.Namespace) -> Path | None:
    """Pull the tenant for `--source azure` (the subscription filter is the scope); None on a usage error.
    An incomplete pull still reports: its pull log is on the index page."""
    if args.subscriptions and args.management_group:
        print("mdcnb report: give --subscription or --management-group, not both", file=sys.stderr)
        return None
    target = args.out / "datasets" / f"azure-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    try:
        dataset = pull_azure(args, target, mask_ids=args.mask_ids)
    except ValueError as exc:
        print(f"mdcnb report: {exc}", file=sys.stderr)
        return None
    print(_masked(args, dataset, summary(dataset)[0]), file=sys.stderr)
    return dataset


def _masked(args: argparse.Namespace, dataset: Path | None, text: str) -> str:
    """`text` with the dataset's ids masked when `--mask-ids` is given."""
    if not args.mask_ids:
        return text
    from mdcnb.sources.dataset import default_dataset
    from mdcnb.tables.mask import Masker

    return Masker.for_dataset(dataset or default_dataset()).text(text)
