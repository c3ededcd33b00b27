"""Coverage measures: Defender plans that are off where billable resources exist."""

from __future__ import annotations

from mdcnb.analysis import coverage
from mdcnb.measures.cost import FILTERS, view
from mdcnb.measures.registry import Filters, define
from mdcnb.snapshot import Snapshot


@define("coverage.plans_off_with_resources", "Plans off where resources exist (scope x plan)", "count", "{:,}",
        filters=FILTERS)
def plans_off_with_resources(snap: Snapshot, f: Filters) -> int:
    v = view(snap, f)
    return len(coverage.plans_off_with_resources(v.settings, v.units, v.names))
