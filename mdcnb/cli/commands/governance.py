"""`mdcnb governance`, `mdcnb exemptions`, `mdcnb risk`: owners and due dates, policy exemptions, risk levels.

The JSON keys are fixed (scripts rely on them); the figures come from the measure registry
(`mdcnb.measures.governance`); the scope filters are those of `mdcnb score`.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mdcnb.cli.support import add_dataset_command, load_dataset, print_frame, print_json

if TYPE_CHECKING:
    from mdcnb.measures.registry import Filters
    from mdcnb.snapshot import Snapshot

EXEMPTION_KEYS = ("exemptions", "waiver", "mitigated", "expired", "expiring_30d")
RISK_KEYS = ("Critical", "High", "Medium", "Low", "None")  # the JSON keys; measures risk.<key lower case>

FILTERS = [
    ("--environment", "ENV", "only assessments of this environment (Azure, AWS, GCP, ...)"),
    ("--subscription", "ID", "only this subscription"),
]


def register(subparsers: argparse._SubParsersAction) -> None:
    for parser in (
        add_dataset_command(subparsers, "governance", "governance assignments: owners, overdue and unowned work",
                            run_governance, FILTERS),
        add_dataset_command(subparsers, "exemptions", "policy exemptions: waivers, mitigations, expired, expiring",
                            run_exemptions, FILTERS),
    ):
        parser.add_argument("--as-of", type=_moment, default=None, metavar="TIME",
                            help="judge due dates and expiry at this ISO date or time, UTC (default: the dataset's "
                                 "as-of time, a pull's own time)")
    add_dataset_command(subparsers, "risk", "unhealthy assessments by risk level (Defender CSPM)", run_risk, FILTERS)


def _moment(text: str) -> datetime:
    """An ISO date or time (UTC unless it says otherwise), for `--as-of`."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _snapshot(args: argparse.Namespace) -> tuple[Snapshot | None, Filters]:
    """The dataset as a snapshot for the measures (judged at `--as-of` when given) and the scope filters."""
    from mdcnb.measures.registry import Filters
    from mdcnb.snapshot import of_tables

    tables = load_dataset(args)
    if tables is None:
        return None, Filters()
    if getattr(args, "as_of", None) is not None:
        tables.manifest = {**tables.manifest, "as_of": args.as_of.isoformat()}
    return of_tables(tables), Filters.of(environments=args.environment, subscriptions=args.subscription)


def run_governance(args: argparse.Namespace) -> int:
    from mdcnb.measures.registry import value

    snap, f = _snapshot(args)
    if snap is None:
        return 2
    owners = value("governance.owners", snap, f)
    summary = {"assignments": value("governance.assignments", snap, f), "overdue": value("governance.overdue", snap, f),
               "unassigned_unhealthy": value("governance.unassigned_unhealthy", snap, f),
               "owners": [{"owner": r.owner, "assigned": int(r.assigned), "overdue": int(r.overdue)}
                          for r in owners.itertuples(index=False)]}
    if args.json:
        print_json(summary)
        return 0
    print(f"{summary['assignments']} assignment(s) on unhealthy assessments, {summary['overdue']} overdue; "
          f"{summary['unassigned_unhealthy']} unhealthy assessment(s) without an owner")
    print_frame(owners)
    return 0


def run_exemptions(args: argparse.Namespace) -> int:
    from mdcnb.measures.registry import value

    snap, f = _snapshot(args)
    if snap is None:
        return 2
    counts = {key: value(f"exemptions.{key}", snap, f) for key in EXEMPTION_KEYS}
    if args.json:
        print_json(counts)
        return 0
    print(", ".join(f"{v} {k.replace('_30d', ' within 30 days')}" for k, v in counts.items()))
    print_frame(value("exemptions.list", snap, f)[["name", "category", "scope_type", "expires_on", "days_left"]])
    return 0


def run_risk(args: argparse.Namespace) -> int:
    from mdcnb.measures.registry import value

    snap, f = _snapshot(args)
    if snap is None:
        return 2
    counts = {level: value(f"risk.{level.lower()}", snap, f) for level in RISK_KEYS}
    if args.json:
        print_json({"unhealthy_by_risk": counts})
        return 0
    print("Unhealthy assessments by risk level: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print_frame(value("risk.by_severity", snap, f))
    return 0
