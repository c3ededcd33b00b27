"""Readiness measures: the AWS onboarding checks that fail or could not be checked."""

from __future__ import annotations

import pandas as pd

from mdcnb.analysis import coverage, readiness
from mdcnb.measures.registry import Filters, define
from mdcnb.snapshot import Snapshot

FILTERS = ("environments", "accounts")


@define("readiness.results", "AWS readiness checks (account x check)", "count", "{:,}", filters=FILTERS,
        table=True)
def results(snap: Snapshot, f: Filters) -> pd.DataFrame:
    """Table measure: the audit's rows (one per account and check) of the accounts the filters keep."""
    return coverage.audit_selection(snap.audit.results, environments=f.environments, accounts=f.accounts)


@define("readiness.over_time", "AWS readiness outcomes per week", "count", "{:,}", filters=FILTERS, table=True)
def over_time(snap: Snapshot, f: Filters) -> pd.DataFrame:
    """Table measure: per ISO week and status, the (account, check) results of the accounts the filters keep, from
    the readiness audit each week of the history store keeps (this week: the snapshot's own)."""
    audits = snap.history.audits if snap.history is not None else {}
    kept = {week: coverage.audit_selection(results if results is not None else snap.audit.results.iloc[0:0],
                                           environments=f.environments, accounts=f.accounts)
            for week, results in audits.items()}
    return readiness.outcomes_by_week(kept)


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
