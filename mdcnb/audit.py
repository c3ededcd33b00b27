"""Python API of the AWS onboarding readiness audit: the Azure side from a dataset, the AWS side from the dataset's
`aws/` inventory or collected live.

    from mdcnb.audit import audit_dataset
    result = audit_dataset("data/sample")          # AuditResult: .results (aws_audit table), .skips, .as_of
    result.matrix()                                # accounts x checks
    result.failures()                              # failing checks with evidence and remediation

Live: `collect_live(profiles=["mgmt"], role_name="MdcnbAuditReadOnly")` returns inventories to pass as
`inventories=` (and `mdcnb aws audit --profile ...` does both).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from mdcnb import schema
from mdcnb.analysis import aws_audit
from mdcnb.dataset import Skip, default_dataset, read_manifest, read_records
from mdcnb.inventory import AccountInventory, arc_machines, read_inventories


@dataclass
class AuditResult:
    """The `aws_audit` table of one run, when it describes, and what could not be read."""

    results: pd.DataFrame
    as_of: datetime
    skips: list[Skip] = field(default_factory=list)

    def matrix(self) -> pd.DataFrame:
        return aws_audit.matrix(self.results)

    def failures(self) -> pd.DataFrame:
        return aws_audit.failures(self.results)

    def counts(self) -> pd.DataFrame:
        return aws_audit.status_counts(self.results)


def _manifest_time(dataset: Path) -> datetime | None:
    manifest = read_manifest(dataset)
    for key in ("as_of", "created"):
        value = manifest.get(key)
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def audit_dataset(dataset: Path | str | None = None, *, inventories: dict[str, AccountInventory] | None = None,
                  as_of: datetime | None = None, accounts: list[str] | None = None) -> AuditResult:
    """Audit every AWS account of a dataset (default: the embedded sample).

    `inventories` replaces the dataset's own `aws/` inventory (live collection). `as_of` defaults to the newest
    collection time, else the dataset's as-of time.
    """
    from mdcnb.tables import load_tables  # the core normalisers; imported late so the analysis stays importable

    dataset = Path(dataset) if dataset is not None else default_dataset()
    tables = load_tables(dataset)
    skips: list[Skip] = []
    if inventories is None:
        inventories, skips = read_inventories(dataset)
    raw = read_records(dataset, "resources")
    skips += raw.skips
    if as_of is None and not any(i.collected_at for i in inventories.values()):
        as_of = _manifest_time(dataset)
    results = aws_audit.audit(tables.connectors, tables.offerings, arc_machines(raw.records), inventories,
                              as_of=as_of, accounts=accounts)
    when = as_of or max((i.collected_at for i in inventories.values() if i.collected_at), default=datetime.now(UTC))
    return AuditResult(schema.AWS_AUDIT.conform(results), when, skips)


def collect_live(profiles: list[str | None], *, role_name: str | None = None, regions: list[str] | None = None,
                 endpoint_url: str | None = None) -> tuple[dict[str, AccountInventory], list[str]]:
    """Collect the inventory of each profile's account (and, with `role_name`, of every organisation member)."""
    from mdcnb.sources.aws_inventory import Collector

    collector = Collector(endpoint_url=endpoint_url, regions=regions)
    sessions, problems = collector.sessions(profiles, role_name)
    inventories = {}
    for session in sessions:
        inventory = collector.collect(session)
        inventories[inventory.account_id] = inventory
    return inventories, problems
