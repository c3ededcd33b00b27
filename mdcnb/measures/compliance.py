"""Regulatory compliance measures: passed and failed controls per standard and their pass rate."""

from __future__ import annotations

import pandas as pd

from mdcnb.analysis import compliance
from mdcnb.measures.registry import Filters, define
from mdcnb.snapshot import Snapshot

FILTERS = ("subscriptions", "standards")


def _per_standard(snap: Snapshot, f: Filters) -> pd.DataFrame:
    return compliance.rollup(compliance.standards(snap.tables, subscriptions=f.subscriptions, standards=f.standards))


@define("compliance.by_standard", "Compliance per standard", "%", "{:.1%}", filters=FILTERS,
        decimals=4, table=True)
def by_standard(snap: Snapshot, f: Filters) -> pd.DataFrame:
    """Table measure: per standard the passed, failed, skipped and unsupported controls and the pass rate (0..1)."""
    return _per_standard(snap, f)


@define("compliance.passed", "Compliance controls passed", "count", "{:,}", filters=FILTERS)
def passed(snap: Snapshot, f: Filters) -> int:
    return int(_per_standard(snap, f)["passed_controls"].sum())


@define("compliance.failed", "Compliance controls failed", "count", "{:,}", filters=FILTERS)
def failed(snap: Snapshot, f: Filters) -> int:
    return int(_per_standard(snap, f)["failed_controls"].sum())


@define("compliance.pass_rate", "Compliance pass rate (passed / passed + failed)", "%", "{:.1f}",
        filters=FILTERS, decimals=1)
def pass_rate(snap: Snapshot, f: Filters) -> float:
    table = _per_standard(snap, f)
    rate = compliance.pass_rate(float(table["passed_controls"].sum()), float(table["failed_controls"].sum()))
    return float("nan") if rate != rate else 100 * rate


@define("compliance.failed_assessments", "Failed control assessments", "count", "{:,}", filters=FILTERS)
def failed_assessments(snap: Snapshot, f: Filters) -> int:
    return len(compliance.failing_controls(snap.tables, subscriptions=f.subscriptions, standards=f.standards))
