"""`mdcnb aws audit`: MDC's AWS onboarding prerequisites checked for every connected account, read-only."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from mdcnb.cli.support import add_dataset_argument, load_dataset, plain, print_json


def register(subparsers: argparse._SubParsersAction) -> None:
    aws = subparsers.add_parser("aws", help="AWS-side checks of the Defender for Cloud connectors")
    sub = aws.add_subparsers(dest="aws_command", metavar="SUBCOMMAND")
    audit = sub.add_parser(
        "audit", help="onboarding readiness and connector health, one row per (account, check)",
        description="Checks every prerequisite and pitfall of MDC's AWS connection guide for each AWS account. "
                    "The Azure side (connectors, Arc machines) comes from --dataset; the AWS side from the dataset's "
                    "aws/ inventory, or live through boto3 with --profile (read-only calls only).")
    add_dataset_argument(audit)
    audit.add_argument("--profile", action="append", default=None, metavar="P",
                       help="AWS profile of an account to read live (repeat for several accounts)")
    audit.add_argument("--role-name", default=None, metavar="R",
                       help="with one --profile of the management account: assume this read-only role in each "
                            "member account")
    audit.add_argument("--regions", default=None, help="comma-separated regions to read (default: enabled regions)")
    audit.add_argument("--account", action="append", default=None, metavar="ID", help="only these account ids")
    audit.add_argument("--as-of", default=None, help="ISO time the checks are judged at (default: collection time)")
    audit.add_argument("--save", type=Path, default=None, metavar="DIR",
                       help="write the live inventory to DIR/aws/<account>/ (the dataset layout)")
    audit.add_argument("--endpoint-url", default=None, help=argparse.SUPPRESS)
    audit.add_argument("--json", action="store_true", help="print JSON instead of tables")
    audit.add_argument("--exit-code", action="store_true", help="exit 1 when any check fails")
    audit.add_argument("--mask-ids", action="store_true",
                       help="replace AWS account ids (also inside ARNs), subscription and tenant ids with stable "
                            "pseudonyms in everything printed")
    audit.set_defaults(func=run_audit)
    aws.set_defaults(func=lambda _args: (aws.print_help(), 2)[1])


def run_audit(args: argparse.Namespace) -> int:
    from mdcnb.snapshot.readiness import audit_tables, collect_live
    from mdcnb.sources.aws_dataset import write_inventory

    tables = load_dataset(args)
    if tables is None:
        return 2
    inventories, problems = None, []
    if args.profile or args.role_name:
        regions = [r.strip() for r in args.regions.split(",") if r.strip()] if args.regions else None
        inventories, problems = collect_live(args.profile or [None], role_name=args.role_name, regions=regions,
                                             endpoint_url=args.endpoint_url)
        if args.save:
            for inventory in inventories.values():
                write_inventory(args.save, inventory)
    as_of = datetime.fromisoformat(args.as_of.replace("Z", "+00:00")) if args.as_of else None
    result = audit_tables(tables, inventories=inventories, as_of=as_of, accounts=args.account)
    mask = _masker(args, tables.dataset, inventories)
    result = replace(result, results=mask.frame(result.results)) if mask else result
    text = mask.text if mask else str
    for problem in problems:
        print(text(f"warning: {problem}"), file=sys.stderr)
    if result.skips:
        print(f"{len(result.skips)} unreadable inventory item(s) skipped:", file=sys.stderr)
        for skip in result.skips:
            print(text(f"  {skip.source} {skip.location}: {skip.reason}"), file=sys.stderr)
    if args.json:
        document = _as_json(result, problems)
        print_json(mask.value(document) if mask else document)
    else:
        _print_tables(result)
    return 1 if args.exit_code and (result.results["status"] == "fail").any() else 0


def _masker(args: argparse.Namespace, dataset, inventories):
    """The masker of `--mask-ids` (None without it): the dataset's ids plus the accounts read live."""
    if not args.mask_ids:
        return None
    from mdcnb.tables.mask import AWS_ACCOUNT, Masker

    masker = Masker.for_dataset(dataset)
    masker.add(inventories or (), AWS_ACCOUNT)
    return masker


def _as_json(result, problems: list[str]) -> dict:
    rows = [{k: plain(v) for k, v in row.items()} for row in result.results.to_dict("records")]
    counts = result.results["status"].value_counts().to_dict()
    return {"as_of": result.as_of.isoformat(), "summary": {k: int(v) for k, v in counts.items()},
            "accounts": sorted(result.results["account_id"].dropna().unique().tolist()),
            "results": rows, "problems": problems,
            "skips": [s.as_row() for s in result.skips]}


def _print_tables(result) -> None:
    import pandas as pd

    short = {"pass": "ok", "fail": "FAIL", "not applicable": "-", "could not check": "?"}
    matrix = result.matrix().replace(short)
    with pd.option_context("display.max_columns", None, "display.width", 250, "display.max_colwidth", 200):
        print(f"AWS onboarding readiness as of {result.as_of:%Y-%m-%d %H:%M} UTC "
              "(ok = pass, FAIL = fail, - = not applicable, ? = could not check)\n")
        print(matrix.T.to_string())
        failures = result.failures()
        print(f"\n{len(failures)} failing check(s):")
        for row in failures.itertuples(index=False):
            print(f"\n[{row.account_id}] {row.check_id}: {row.title}\n  evidence: {row.evidence}\n"
                  f"  remediation: {row.remediation}")
