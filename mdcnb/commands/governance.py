"""`mdcnb governance`, `mdcnb exemptions`, `mdcnb risk`: owners and due dates, policy exemptions, risk levels.

The JSON keys are fixed (scripts rely on them); the scope filters are those of `mdcnb score`.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mdcnb.cli_support import add_dataset_command, json_value, load_dataset, print_frame, print_json

if TYPE_CHECKING:
    import pandas as pd

    from mdcnb.tables import Tables

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


def _as_of(tables: Tables, args: argparse.Namespace) -> pd.Timestamp:
    """`--as-of`, else the dataset's as-of time (a pull's: when it was made)."""
    import pandas as pd

    from mdcnb.history import dataset_as_of

    return pd.Timestamp(args.as_of) if args.as_of is not None else dataset_as_of(tables.manifest)


def run_governance(args: argparse.Namespace) -> int:
    from mdcnb.analysis import governance

    tables = load_dataset(args)
    if tables is None:
        return 2
    summary = governance.governance_summary(tables, _as_of(tables, args), environments=args.environment,
                                            subscriptions=args.subscription)
    if args.json:
        print_json(summary)
        return 0
    print(f"{summary['assignments']} assignment(s) on unhealthy assessments, {summary['overdue']} overdue; "
          f"{summary['unassigned_unhealthy']} unhealthy assessment(s) without an owner")
    import pandas as pd

    print_frame(pd.DataFrame(summary["owners"], columns=["owner", "assigned", "overdue"]))
    return 0


def run_exemptions(args: argparse.Namespace) -> int:
    from mdcnb.analysis import governance

    tables = load_dataset(args)
    if tables is None:
        return 2
    frame = governance.exemptions(tables, _as_of(tables, args), environments=args.environment,
                                  subscriptions=args.subscription)
    counts = governance.exemption_counts(frame)
    if args.json:
        print_json(counts)
        return 0
    print(", ".join(f"{json_value(v)} {k.replace('_30d', ' within 30 days')}" for k, v in counts.items()))
    print_frame(frame[["name", "category", "scope_type", "expires_on", "days_left"]])
    return 0


def run_risk(args: argparse.Namespace) -> int:
    from mdcnb.analysis import governance

    tables = load_dataset(args)
    if tables is None:
        return 2
    scoped = governance.scoped_assessments(tables, environments=args.environment, subscriptions=args.subscription)
    counts = governance.unhealthy_by_risk(scoped)
    if args.json:
        print_json({"unhealthy_by_risk": counts})
        return 0
    print("Unhealthy assessments by risk level: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print_frame(governance.risk_by_severity(scoped).reset_index())
    return 0
