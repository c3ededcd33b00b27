"""Python API of the AWS onboarding readiness audit: the Azure side from a dataset's tables, the AWS side from the
dataset's `aws/` inventory (see `mdcnb.sources.aws_dataset`) or collected live through boto3, normalised into the
`aws_*` tables (`mdcnb.tables.aws_inventory`) the checks read.

    from mdcnb.snapshot.readiness import audit_dataset
    result = audit_dataset("data/sample")      # AuditResult: .results (the aws_audit table), .skips, .as_of
    result.matrix()                            # accounts x checks
    result.failures()                          # failing checks with evidence and remediation

Live: `collect_live(["mgmt"], role_name="MdcnbReadOnly")` returns inventories to pass as `inventories=`
(`mdcnb aws audit --profile ...` does both).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd

from mdcnb.analysis import readiness as aws_audit
from mdcnb.normalize.inventory import arc_machines
from mdcnb.sources.aws_dataset import AccountInventory, read_inventories
from mdcnb.sources.dataset import Skip, existing_record_path, iter_records
from mdcnb.tables import Tables, load_tables
from mdcnb.tables.aws_inventory import aws_inventory
from mdcnb.tables.history import dataset_as_of


@dataclass
class AuditResult:
    """The `aws_audit` table of one run, the time it judges at, and what could not be read."""

    results: pd.DataFrame
    as_of: datetime
    skips: list[Skip] = field(default_factory=list)

    def matrix(self) -> pd.DataFrame:
        return aws_audit.matrix(self.results)

    def failures(self) -> pd.DataFrame:
        return aws_audit.failures(self.results)

    def counts(self) -> pd.DataFrame:
        return aws_audit.status_counts(self.results)


def audit_tables(tables: Tables, *, inventories: dict[str, AccountInventory] | None = None,
                 as_of: datetime | None = None, accounts: list[str] | None = None) -> AuditResult:
    """Audit every AWS account of the dataset the tables were loaded from.

    `inventories` replaces the dataset's own `aws/` inventory (live collection). `as_of` defaults to the newest
    collection time of the inventories, else the dataset's as-of time.
    """
    skips: list[Skip] = []
    if inventories is None:
        inventories, skips = read_inventories(tables.dataset) if tables.dataset is not None else ({}, [])
    inventory = aws_inventory(inventories)
    when = as_of or inventory.collected_at() or dataset_as_of(tables.manifest).to_pydatetime()
    resource_skips: list[Skip] = []  # resources streamed: only the Arc machines among them are kept
    resources = iter_records(tables.dataset, "resources", resource_skips) if tables.dataset is not None else ()
    source = existing_record_path(tables.dataset, "resources") if tables.dataset is not None else None
    arc = arc_machines(resources, str(source or ""), resource_skips)
    results = aws_audit.audit(tables.connectors, tables.offerings, arc, inventory, as_of=when, accounts=accounts)
    return AuditResult(results, when, skips + resource_skips)


# The tables `audit_tables` reads (a big tenant's assessments are not loaded for the audit).
AUDIT_TABLES = ("connectors", "offerings")


def audit_dataset(dataset: Path | str | None = None, **kwargs) -> AuditResult:
    """`audit_tables` on a dataset directory (None: the embedded sample)."""
    return audit_tables(load_tables(dataset, names=AUDIT_TABLES), **kwargs)


def collect_live(profiles: list[str | None], *, role_name: str | None = None, regions: list[str] | None = None,
                 endpoint_url: str | None = None) -> tuple[dict[str, AccountInventory], list[str]]:
    """Collect each profile's account (and, with `role_name`, every organisation member) read-only."""
    from mdcnb.sources.aws_inventory import Collector  # boto3 only when reading live

    collector = Collector(endpoint_url=endpoint_url, regions=regions)
    sessions, problems = collector.sessions(profiles, role_name)
    inventories = {}
    for session in sessions:
        inventory = collector.collect(session)
        inventories[inventory.account_id] = inventory
    return inventories, problems
