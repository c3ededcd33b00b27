"""Regulatory compliance measures: passed and failed controls per standard and their pass rate."""

from __future__ import annotations

import pandas as pd

from mdcnb.analysis import compliance
from mdcnb.measures.registry import Filters, define
from mdcnb.snapshot import Snapshot, computed_once

FILTERS = ("subscriptions", "standards")


def standards(snap: Snapshot, f: Filters) -> pd.DataFrame:
    """One row per standard and scope the filters keep (`compliance.standards`), once per snapshot and selection."""
    f = f.only(FILTERS)
    return computed_once(snap, "compliance.standards", f, lambda: compliance.standards(
        snap.tables, subscriptions=f.subscriptions, standards=f.standards))


def _per_standard(snap: Snapshot, f: Filters) -> pd.DataFrame:
    f = f.only(FILTERS)
    return computed_once(snap, "compliance.per_standard", f, lambda: compliance.rollup(standards(snap, f)))


def failing(snap: Snapshot, f: Filters) -> pd.DataFrame:
    """The failing controls of the selection (`compliance.failing_controls`): those of every scope are found once
    per snapshot, and a selection's rows picked from them once per selection."""
    f = f.only(FILTERS)
    every = computed_once(snap, "compliance.failing", Filters(), lambda: compliance.failing_controls(
        snap.tables, resources=compliance.unhealthy_resources(snap.tables)))
    if not f.active():
        return every
    return computed_once(snap, "compliance.failing", f, lambda: compliance.select(
        every, subscriptions=f.subscriptions, standards=f.standards))


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
    return len(failing(snap, f))
