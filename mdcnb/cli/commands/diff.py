"""`mdcnb diff`: what changed between two stored weekly snapshots (for people, scripts and pipelines).

Exit codes: 0 done; 1 the store cannot answer (missing, fewer than two weeks, unknown week); 2 the overall secure
score fell by more than `--fail-on-drop` points.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from mdcnb.cli.support import HISTORY_DEFAULT

if TYPE_CHECKING:
    import pandas as pd

    from mdcnb.analysis.diff import SnapshotDiff
    from mdcnb.tables.history import HistoryStore, Snapshot

EXIT_SCORE_DROP = 2
SHOWN_PER_LIST = 10
CELL_WIDTH = 48
TEXT_HIDDEN = ("resource_id", "assessment_key", "scope_id", "connector_id", "description", "assessment_id",
               "exemption_id")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("diff", help="changes between two weekly snapshots of the history store",
                              description=__doc__.splitlines()[0])
    p.add_argument("--from", dest="from_week", metavar="WEEK", help="earlier ISO week, e.g. 2026-W47 "
                   "(default: the week before --to)")
    p.add_argument("--to", dest="to_week", metavar="WEEK", help="later ISO week (default: the latest stored)")
    p.add_argument("--history", metavar="PATH", help=f"history store (default: {HISTORY_DEFAULT})")
    p.add_argument("--series", help="estate to compare when the store holds several (see --list)")
    p.add_argument("--tenant", metavar="TENANT_ID", help="compare this tenant's series (its latest recorded one; "
                   "default: the series recorded last)")
    p.add_argument("--list", action="store_true", help="list the stored series and weeks, then stop")
    p.add_argument("--json", action="store_true", help="print the changes as JSON")
    p.add_argument("--fail-on-drop", type=float, metavar="POINTS",
                   help="exit 2 when the overall secure score fell by more than POINTS percentage points")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mdcnb.analysis.diff import diff_tables
    from mdcnb.tables import history

    try:
        with history.HistoryStore(args.history, read_only=True) as store:
            if args.list:
                return _list(store)
            series = args.series or (store.tenant_series(args.tenant) if args.tenant else _latest_series(store))
            to_snap = store.find(series, args.to_week)
            from_snap = store.find(series, args.from_week) if args.from_week else _previous(store, series, to_snap)
            names = ["subscriptions", "connectors", "plans", "assessments", "secure_scores", "score_controls",
                     "compliance_controls", "resources", "governance_assignments", "exemptions"]
            before, after = store.load(from_snap, names), store.load(to_snap, names)
    except history.HistoryError as exc:
        print(f"mdcnb diff: {exc}", file=sys.stderr)
        return 1
    result = diff_tables(before, after)
    incomplete = [s.week for s in (from_snap, to_snap) if s.complete is False]
    result.extra.update({"series": series, "tenant": to_snap.key.tenant, "from": from_snap.week,
                         "to": to_snap.week, "incomplete": incomplete})
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        _print_text(result)
    return _exit_code(result, args.fail_on_drop)


def _exit_code(result: SnapshotDiff, fail_on_drop: float | None) -> int:
    delta = result.overall.get("delta")
    if fail_on_drop is not None and delta is not None and delta < -abs(fail_on_drop):
        print(f"mdcnb diff: overall secure score fell {-delta:.2f} points ({result.overall['before']:.2f}% -> "
              f"{result.overall['after']:.2f}%), more than --fail-on-drop {fail_on_drop:g}", file=sys.stderr)
        return EXIT_SCORE_DROP
    return 0


def _latest_series(store: HistoryStore) -> str:
    from mdcnb.tables.history import HistoryError

    snaps = store.snapshots()
    if not snaps:
        raise HistoryError(f"{store.path} holds no snapshot yet (run `mdcnb report` or `mdcnb pull`)")
    return max(snaps, key=lambda s: s.recorded_at).series


def _previous(store: HistoryStore, series: str, to_snap: Snapshot) -> Snapshot:
    from mdcnb.tables.history import HistoryError

    earlier = [s for s in store.snapshots(series) if s.week < to_snap.week]
    if not earlier:
        raise HistoryError(f"series {series!r} has no week before {to_snap.week}: a diff needs two "
                                   "snapshots (the next weekly run will give one)")
    return earlier[-1]


def _list(store: HistoryStore) -> int:
    for series in store.series():
        snaps = store.snapshots(series)
        print(f"{series} (tenant {snaps[0].key.tenant}): {', '.join(s.label for s in snaps)}")
    return 0


def _print_text(result: SnapshotDiff) -> None:
    from mdcnb.analysis.diff import CHANGE_LABELS

    extra = result.extra
    print(f"{extra['series']}: {extra['from']} -> {extra['to']}")
    if extra["incomplete"]:
        print(f"  incomplete pull in {', '.join(extra['incomplete'])}: what it missed shows as changes")
    overall = result.overall
    if overall.get("after") is not None:
        before = "n/a" if overall.get("before") is None else f"{overall['before']:.2f}%"
        delta = "" if overall.get("delta") is None else f" ({overall['delta']:+.2f} points)"
        print(f"Overall secure score: {before} -> {overall['after']:.2f}%{delta}")
    counts = result.counts()
    width = max(len(label) for label in CHANGE_LABELS.values())
    for key, label in CHANGE_LABELS.items():
        print(f"  {label:<{width}}  {counts[key]:>6}")
    for key in result.lists():
        frame = result.changed(key)
        if not len(frame):
            continue
        print(f"\n{CHANGE_LABELS[key]} ({len(frame)}):")
        shown = frame.head(SHOWN_PER_LIST)
        print(_table_text(shown))
        if len(frame) > SHOWN_PER_LIST:
            print(f"  ... and {len(frame) - SHOWN_PER_LIST} more (--json lists all)")


def _table_text(frame: pd.DataFrame) -> str:
    """The readable columns (ids stay in --json), each cell cut to `CELL_WIDTH` characters."""
    shown = frame.drop(columns=[c for c in TEXT_HIDDEN if c in frame.columns])
    plain: Any = shown.astype(object).where(shown.notna(), "")
    cut = plain.map(lambda v: v if len(str(v)) <= CELL_WIDTH else str(v)[: CELL_WIDTH - 1] + "…")
    return cut.to_string(index=False)
