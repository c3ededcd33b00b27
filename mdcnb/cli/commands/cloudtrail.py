"""`mdcnb cloudtrail volume|trails`: CloudTrail read-call volume of MDC's CspmMonitorAws role, trail audit."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    ct = subparsers.add_parser("cloudtrail", help="CloudTrail volume of MDC's CspmMonitorAws role; trail audit")
    sub = ct.add_subparsers(dest="cloudtrail_command", metavar="SUBCOMMAND")

    vol = sub.add_parser("volume", help="count CspmMonitorAws events in trail logs, LookupEvents or Athena")
    src = vol.add_argument_group("where the events are (one of)")
    src.add_argument("--logs", help="local folder/file, or s3://bucket/prefix of the trail's log files")
    src.add_argument("--lookup-events", action="store_true", help="use the LookupEvents API (90 days, 2 calls/s)")
    src.add_argument("--athena", action="store_true", help="count in Athena over the trail bucket")
    vol.add_argument("--since", help="first day, YYYY-MM-DD (UTC)")
    vol.add_argument("--until", help="last day, YYYY-MM-DD (UTC, inclusive)")
    vol.add_argument("--role-arn", action="append", default=[], metavar="ARN",
                     help="CspmMonitorAws role ARN (repeatable); default: from --dataset connectors, else any "
                          "arn:aws:iam::<account>:role/CspmMonitorAws")
    vol.add_argument("--dataset", help="dataset directory whose AWS connectors give the role ARNs")
    vol.add_argument("--profile", help="AWS profile (boto3)")
    vol.add_argument("--endpoint-url", help=argparse.SUPPRESS)
    vol.add_argument("--region", action="append", default=[], help="LookupEvents: region (repeatable)")
    vol.add_argument("--lookup-attribute", default="ReadOnly=true",
                     help="LookupEvents: the one attribute filter KEY=VALUE (default ReadOnly=true)")
    vol.add_argument("--database", help="Athena database")
    vol.add_argument("--table", default="cloudtrail_logs", help="Athena table (created when --bucket-url is given)")
    vol.add_argument("--workgroup", default="primary", help="Athena workgroup")
    vol.add_argument("--output", help="Athena query result location s3://...")
    vol.add_argument("--create-table", metavar="S3_URL",
                     help="Athena: create the partition-projection table over this trail location first")
    vol.add_argument("--accounts", help="Athena table: comma-separated account ids (projection values; default: the "
                                        "organisation's active accounts from AWS Organizations)")
    vol.add_argument("--regions", help="Athena table: comma-separated regions (projection values)")
    vol.add_argument("--processes", type=int, help="worker processes for log files (default: all cores)")
    vol.add_argument("--margin-days", type=int, default=1,
                     help="read files delivered up to this many days after --until (late deliveries)")
    vol.add_argument("--siem", default="sentinel-analytics",
                     help="SIEM price row of the dated price table (data/prices), e.g. sentinel-analytics, "
                          "sentinel-basic, datadog-indexing, cloudwatch-logs, cloudtrail-extra-copy")
    vol.add_argument("--price-per-gb", type=float, help="your SIEM ingestion price per GB (replaces the table's)")
    vol.add_argument("--price-per-million-events", type=float, help="your SIEM price per million events")
    vol.add_argument("--price-source", help="where your price comes from (shown with every figure)")
    vol.add_argument("--csv", help="also write the volume table (day x account x region x API) to this CSV")
    vol.add_argument("--json", action="store_true", help="print the result as JSON")
    vol.set_defaults(func=run_volume)

    tr = sub.add_parser("trails", help="audit trails: do they record read-only management events, and where to")
    tr.add_argument("--profile", help="AWS profile (boto3)")
    tr.add_argument("--region", help="region to call (describe_trails lists shadow trails of other regions too)")
    tr.add_argument("--endpoint-url", help=argparse.SUPPRESS)
    tr.add_argument("--dataset", help="read the trail configuration recorded in a dataset instead of AWS")
    tr.add_argument("--json", action="store_true", help="print JSON")
    tr.set_defaults(func=run_trails)
    ct.set_defaults(func=lambda args: ct.print_help() or 2)


def price(args: argparse.Namespace) -> Any:
    """The SIEM price `args` choose: a row of the dated price table, or the user's own."""
    from dataclasses import replace

    from mdcnb.sources.prices import siem_price

    chosen = siem_price(args.siem, price_per_gb=args.price_per_gb,
                        price_per_million_events=args.price_per_million_events)
    return replace(chosen, source=args.price_source) if args.price_source else chosen


def _volume(args: argparse.Namespace):
    from mdcnb.tables import cloudtrail

    chosen = [bool(args.logs), args.lookup_events, args.athena]
    if sum(chosen) != 1:
        raise ValueError("give exactly one of --logs, --lookup-events, --athena")
    if args.logs:
        return cloudtrail.volume(args.logs, since=args.since, until=args.until, role_arns=args.role_arn,
                                 dataset=args.dataset, profile=args.profile, endpoint_url=args.endpoint_url,
                                 processes=args.processes, margin_days=args.margin_days)
    matcher = cloudtrail.matcher_for(args.role_arn, args.dataset)
    if args.lookup_events:
        from mdcnb.tables.cloudtrail import lookup

        key, _, value = args.lookup_attribute.partition("=")
        return lookup.volume_from_lookup(lookup.clients(args.profile, args.region or [None], args.endpoint_url),
                                         matcher, since=args.since, until=args.until, attribute=(key, value))
    from mdcnb.tables.cloudtrail import athena

    if not (args.database and args.output):
        raise ValueError("--athena needs --database and --output s3://...")
    client = athena.athena_client(args.profile, args.endpoint_url)
    runner = athena.AthenaRunner(client, args.database, args.workgroup, args.output)
    if args.create_table:
        accounts = _csv(args.accounts) or athena.organization_accounts(_organizations(args))
        runner.run(athena.create_table_ddl(args.table, args.create_table, accounts, _csv(args.regions)))
    return athena.volume_from_athena(runner, args.table, matcher, args.since, args.until)


def _organizations(args: argparse.Namespace) -> Any:
    import boto3

    session = boto3.Session(profile_name=args.profile) if args.profile else boto3.Session()
    return session.client("organizations", endpoint_url=args.endpoint_url)


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def run_volume(args: argparse.Namespace) -> int:
    from mdcnb.cli import empty_scan
    from mdcnb.sources.prices import PriceTableError

    try:
        summary = empty_scan.document(args) if empty_scan.applies(args) else _scanned(args)
    except (ValueError, FileNotFoundError, PriceTableError) as exc:  # WorkerDied is a RuntimeError: see _scanned
        print(f"mdcnb cloudtrail volume: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        _print_volume(summary)
    if summary["files_skipped"]:
        print(f"{len(summary['files_skipped'])} file(s) skipped (see files_skipped)", file=sys.stderr)
    return 0


def _scanned(args: argparse.Namespace) -> dict[str, Any]:
    """Scan what `args` name and give the `--json` document (a died worker becomes a ValueError: exit 2)."""
    from mdcnb.tables.cloudtrail.scan import WorkerDied

    try:
        res = _volume(args)
    except WorkerDied as exc:
        raise ValueError(str(exc)) from exc
    return document(args, res)


def document(args: argparse.Namespace, res: Any) -> dict[str, Any]:
    """The `--json` document of a scan: its summary, the registry's measures, the roles found, the paste-able
    filters and the SIEM cost; the volume table written to `--csv` when asked."""
    from dataclasses import replace

    from mdcnb.analysis.cloudtrail import cspm_role_arns
    from mdcnb.analysis.cloudtrail_cost import siem_cost
    from mdcnb.analysis.cloudtrail_filters import filters
    from mdcnb.cli.support import measures_json
    from mdcnb.measures.registry import numbers
    from mdcnb.snapshot import of_tables
    from mdcnb.tables import Tables

    summary = res.summary()
    siem = price(args)
    snap = replace(of_tables(Tables(), res), siem_price=siem)
    summary["measures"] = measures_json(snap, numbers("cloudtrail"), since=args.since, until=args.until)
    found = cspm_role_arns(res.volume)
    summary["cspm_role_arns_found"] = found
    summary["filters"] = filters(found)
    summary["siem_cost"] = siem_cost(res.volume, siem, res.since, res.until)
    if args.csv:
        from mdcnb.report.page import write_csv

        write_csv(res.volume, Path(args.csv))
    return summary


def _print_volume(s: dict[str, Any]) -> None:
    print(f"source: {s['source']}   window: {s['since'] or 'start'} .. {s['until'] or 'end'}")
    print(f"files read {s['files_read']} of {s['files_listed']} listed "
          f"(pruned by date {s['files_pruned_by_path_date']}, digests {s['digest_files_skipped']}, "
          f"skipped {len(s['files_skipped'])})")
    print(f"events {s['events_total']:,} (read-only {s['events_read_only']:,}); duplicates dropped "
          f"{s['duplicates_dropped']:,} (late events checked {s['late_events_checked']:,}, not de-duplicated "
          f"{s['late_events_not_deduplicated']:,}); records lost in damaged files ~{s['records_lost_estimate']:,} "
          f"(estimate)")
    print(f"CspmMonitorAws: {s['cspm_events']:,} events, {s['cspm_read_events']:,} read-only, "
          f"{s['cspm_bytes']:,} bytes; AssumeRoleWithWebIdentity {s['assume_role_events']:,}")
    for role, n in s["other_mdc_role_events"].items():
        print(f"other MDC role {role}: {n:,} events")
    print(f"{'account':<14} {'events':>12} {'read-only':>12} {'CSPM reads':>12} {'CSPM bytes':>14}")
    for acct, row in s["by_account"].items():
        print(f"{acct:<14} {row['events_total']:>12,} {row['events_read_only']:>12,} {row['cspm_read_events']:>12,} "
              f"{row['cspm_bytes']:>14,}")
    for skip in s["files_skipped"]:
        print(f"skipped {skip['path']}: {skip['reason']}")
    for reason, n in s["record_issues"].items():
        print(f"records: {n:,} x {reason}")
    if s.get("siem_cost"):
        c = s["siem_cost"]
        print(f"SIEM: monthly {c['monthly_cost']} {c['price']['currency']}, saving with the filter "
              f"{c['monthly_saving']} ({c['note']})")


def run_trails(args: argparse.Namespace) -> int:
    from mdcnb.tables.cloudtrail import trails

    try:
        table = (trails.trails_from_dataset(args.dataset) if args.dataset
                 else trails.audit(trails.cloudtrail_client(args.profile, args.region, args.endpoint_url)))
    except Exception as exc:  # botocore errors (no credentials, access denied) must not become tracebacks
        print(f"mdcnb cloudtrail trails: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(table.to_dict("records"), indent=2, default=str))
    else:
        print(table[["name", "home_region", "multi_region", "organization_trail", "logging",
                     "records_management_reads", "s3_bucket", "cloudwatch_log_group"]].to_string(index=False))
    return 0
