"""Readiness measures: the AWS onboarding checks that fail or could not be checked."""

from __future__ import annotations

from mdcnb.analysis import coverage
from mdcnb.measures.registry import Filters, define
from mdcnb.snapshot import Snapshot

FILTERS = ("environments", "accounts")


def _results(snap: Snapshot, f: Filters):
    return coverage.audit_selection(snap.audit.results, environments=f.environments, accounts=f.accounts)


@define("readiness.failures", "AWS readiness checks failing (account x check)", "count", "{:,}", filters=FILTERS)
def failures(snap: Snapshot, f: Filters) -> int:
    return int(_results(snap, f)["status"].eq("fail").sum())


@define("readiness.could_not_check", "AWS readiness checks that could not be checked", "count", "{:,}",
        filters=FILTERS)
def could_not_check(snap: Snapshot, f: Filters) -> int:
    return int(_results(snap, f)["status"].eq("could not check").sum())
