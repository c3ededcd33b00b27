"""`mdcnb cloudtrail volume --logs FOLDER` on an empty folder, answered without pandas.

Nothing is read, so every count is zero; what the answer holds besides the window, the source and the SIEM price
does not depend on the arguments. That part is the real command's document for an empty folder, recorded in
`cloudtrail_empty.json` by `python -m mdcnb.cli.empty_scan` (tests/test_cloudtrail_empty.py checks it is what the
command computes today, and that both paths print the same). The command starts in about a tenth of the time: it
imports neither the scan, the tables, the registry nor pandas.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from mdcnb.analysis.cloudtrail_cost import cost, span_days
from mdcnb.sources.cloudtrail.layout import iso_day

RECORDED = Path(__file__).with_name("cloudtrail_empty.json")
# The fields of the document that depend on the arguments: computed on each run, null in the recording.
PER_RUN = ("source", "since", "until", "siem_cost")


def applies(args: argparse.Namespace) -> bool:
    """A local `--logs` folder with nothing in it, and no option that reads anything else (`--dataset` loads its
    connectors' roles, `--role-arn` names roles) or writes a table (`--csv`)."""
    if not args.logs or args.logs.startswith("s3://") or args.lookup_events or args.athena:
        return False
    if args.dataset or args.role_arn or args.csv:
        return False
    try:  # one entry is enough to tell: the scan lists a big tree once, not twice
        with os.scandir(args.logs) as entries:
            return next(entries, None) is None
    except OSError:  # not a folder, or unreadable: the scan says what it is
        return False


def document(args: argparse.Namespace) -> dict[str, Any]:
    """The `--json` document of the empty folder `args.logs` (see `applies`)."""
    from mdcnb.cli.commands.cloudtrail import price

    since, until = iso_day(args.since), iso_day(args.until)
    recorded = json.loads(RECORDED.read_text(encoding="utf-8"))
    return {**recorded, "source": str(Path(args.logs)), "since": since, "until": until,
            "siem_cost": cost(0, 0, 0, 0, price(args), span_days(since, until))}


def computed() -> dict[str, Any]:
    """What the command computes (scan, tables, registry) for an empty folder, the per-run fields set to null."""
    from mdcnb.cli import build_parser
    from mdcnb.cli.commands.cloudtrail import document as scanned_document
    from mdcnb.tables.cloudtrail import volume

    with tempfile.TemporaryDirectory() as empty:
        args = build_parser().parse_args(["cloudtrail", "volume", "--logs", empty])
        summary = scanned_document(args, volume(empty, processes=1))
    return {**summary, **dict.fromkeys(PER_RUN)}


if __name__ == "__main__":
    RECORDED.write_text(json.dumps(computed(), indent=2, default=str) + "\n", encoding="utf-8")
    print(f"wrote {RECORDED}", file=sys.stderr)
