"""Readiness measures: the AWS onboarding checks that fail or could not be checked."""

from __future__ import annotations

import pandas as pd

from mdcnb.analysis import coverage
from mdcnb.measures.registry import Filters, define
from mdcnb.snapshot import Snapshot

FILTERS = ("environments", "accounts")


@define("readiness.results", "AWS readiness checks (account x check)", "count", "{:,}", filters=FILTERS,
        table=True)
def results(snap: Snapshot, f: Filters) -> pd.DataFrame:
    """Table measure: the audit's rows (one per account and check) of the accounts the filters keep."""
    return coverage.audit_selection(snap.audit.results, environments=f.environments, accounts=f.accounts)


@define("readiness.over_time", "AWS readiness outcomes per week", "count", "{:,}", table=True)
def over_time(snap: Snapshot, f: Filters) -> pd.DataFrame:
    """Table measure: per ISO week and status, the (account, check) results of the weeks the dataset ships."""
    return snap.readiness_weeks


@define("readiness.failures", "AWS readiness checks failing (account x check)", "count", "{:,}", filters=FILTERS)
def failures(snap: Snapshot, f: Filters) -> int:
    return int(results(snap, f)["status"].eq("fail").sum())


@define("readiness.could_not_check", "AWS readiness checks that could not be checked", "count", "{:,}",
        filters=FILTERS)
def could_not_check(snap: Snapshot, f: Filters) -> int:
    return int(results(snap, f)["status"].eq("could not check").sum())


@define("readiness.accounts", "AWS accounts audited", "count", "{:,}", filters=FILTERS)
def accounts(snap: Snapshot, f: Filters) -> int:
    return int(results(snap, f)["account_id"].nunique())
