"""`SampleContext`: everything a part of the sample generator needs, built once from seed and scale.

The tenant model is plain frozen data (management groups, subscriptions, connectors, AWS organisation accounts,
AWS/GCP resources including EC2 instances with or without an Arc machine). Randomness is derived from the seed
and the identity of what is being drawn (`ctx.rng(...)`, `ctx.unit(...)`), never from call order, so a part
produces the same output whatever the other parts do.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

AS_OF = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)  # fixed "now" of the sample: output is byte-for-byte stable
TENANT_ID = "7c1e4b2a-3f5d-4e8a-9b6c-2d1f0e3a4b5c"
DEFAULT_WEEKS = 6
LARGE_SUBSCRIPTIONS = 2000


@dataclass(frozen=True)
class ManagementGroup:
    name: str
    display_name: str
    parent: str | None


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    display_name: str
    management_group: str
    production: bool
    shape: str  # "arg" (Resource Graph rows, PascalCase resourceDetails) or "rest" (ARM list items)

    @property
    def scope_id(self) -> str:
        return f"/subscriptions/{self.subscription_id}"


@dataclass(frozen=True)
class Connector:
    """A multicloud connector: native `securityConnectors` (AWS/GCP) or a classic AWS `connectors` resource."""

    name: str
    subscription_id: str
    resource_group: str
    location: str
    environment: str  # AWS or GCP
    kind: str  # native or classic
    hierarchy_id: str  # AWS account id / GCP project number
    account_name: str  # AWS account name / GCP project id
    membership: str | None = None  # Organization, Member or None
    parent_hierarchy_id: str | None = None
    stackset_name: str | None = None
    excluded_ids: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    scan_interval_hours: int | None = None
    cspm_role_name: str = "CspmMonitorAws"
    offerings: tuple[str, ...] = ()
    servers_sub_plan: str = "P2"
    first_week: int = 0
    created_at: str = "2026-01-12T09:30:00Z"
    shape: str = "rest"

    @property
    def arm_id(self) -> str:
        if self.kind == "classic":
            return f"/subscriptions/{self.subscription_id}/providers/Microsoft.Security/connectors/{self.name}"
        return (f"/subscriptions/{self.subscription_id}/resourcegroups/{self.resource_group}"
                f"/providers/Microsoft.Security/securityConnectors/{self.name}")

    @property
    def guid(self) -> str:
        """The connector GUID that assessments carry in resourceDetails.ConnectorId."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, self.arm_id.lower()))

    def role_arn(self, role_name: str) -> str:
        return f"arn:aws:iam::{self.hierarchy_id}:role/{role_name}"

    @property
    def cspm_role_arn(self) -> str | None:
        """ARN of the role MDC's CSPM reads with (classic connectors: the assumed role)."""
        if self.environment != "AWS":
            return None
        return self.role_arn("ASCMonitor" if self.kind == "classic" else self.cspm_role_name)

    def active(self, week: int) -> bool:
        return week >= self.first_week


@dataclass(frozen=True)
class AwsAccount:
    """An account of the AWS organisation (whether or not a connector covers it)."""

    account_id: str
    name: str
    management: bool = False


@dataclass(frozen=True)
class CloudResource:
    """An AWS or GCP resource MDC assesses through a connector (EC2 instances carry size, state and Arc)."""

    cloud: str  # AWS or GCP
    kind: str  # account, ec2, s3, sg, rds, eks | project, gce, gcs, gke
    hierarchy_id: str
    region: str
    resource_id: str
    name: str
    native_id: str  # ARN / GCP resource path
    instance_type: str | None = None
    state: str | None = None  # EC2: running / stopped
    arc_machine: bool = False  # EC2: onboarded to Azure Arc by the connector
    first_week: int = 0
    last_week: int = 10**6

    def alive(self, week: int) -> bool:
        return self.first_week <= week <= self.last_week


@dataclass
class SampleContext:
    """What every generator part receives.

    - `seed`, `scale`, `out` (dataset directory), `as_of` (the latest snapshot's time), `weeks` (snapshots:
      the latest in `out`, `weeks - 1` earlier ones in `out/history/<ISO week>/`), `density` (resources per
      subscription multiplier), `plain` (write the latest snapshot's record files as plain `<type>.jsonl`, as
      `mdcnb pull` does, instead of `<type>.jsonl.gz`; history weeks are always gzipped).
    - the tenant: `tenant_id`, `management_groups`, `subscriptions`, `connectors` (native + classic),
      `aws_accounts` (every account of the organisation), `cloud_resources` (AWS/GCP inventory).
    """

    seed: int
    scale: str
    out: Path
    as_of: datetime = AS_OF
    weeks: int = DEFAULT_WEEKS
    density: int = 1
    plain: bool = False
    tenant_id: str = TENANT_ID
    management_groups: list[ManagementGroup] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)
    connectors: list[Connector] = field(default_factory=list)
    aws_accounts: list[AwsAccount] = field(default_factory=list)
    cloud_resources: list[CloudResource] = field(default_factory=list)

    # --- randomness keyed by identity ---
    def rng(self, *key: object) -> random.Random:
        """A generator seeded by the sample seed and `key` (string seeding is stable across runs)."""
        return random.Random(f"{self.seed}|" + "|".join(map(str, key)))

    def unit(self, *key: object) -> tuple[float, float, float]:
        """Three uniform numbers in [0, 1) from the seed and `key`: cheap enough for a million assessments."""
        digest = hashlib.blake2b(f"{self.seed}|{'|'.join(map(str, key))}".encode(), digest_size=12).digest()
        return tuple(int.from_bytes(digest[i:i + 4], "big") / 2**32 for i in (0, 4, 8))  # type: ignore[return-value]

    # --- time ---
    @property
    def latest_week(self) -> int:
        return self.weeks - 1

    def week_time(self, week: int) -> datetime:
        """Snapshot time of week index `week` (0 = oldest, `latest_week` = `as_of`)."""
        return self.as_of - timedelta(days=7 * (self.latest_week - week))

    def week_label(self, week: int) -> str:
        year, number, _ = self.week_time(week).isocalendar()
        return f"{year}-W{number:02d}"

    def week_dir(self, week: int) -> Path:
        return self.out if week == self.latest_week else self.out / "history" / self.week_label(week)

    # --- tenant views ---
    @property
    def subscription_by_id(self) -> dict[str, Subscription]:
        return {s.subscription_id: s for s in self.subscriptions}

    @property
    def ec2_instances(self) -> list[CloudResource]:
        return [r for r in self.cloud_resources if r.kind == "ec2"]

    def native_connectors(self, environment: str | None = None) -> list[Connector]:
        return [c for c in self.connectors if c.kind == "native"
                and (environment is None or c.environment == environment)]

    def connector_for_account(self, hierarchy_id: str) -> Connector | None:
        """The native connector covering an AWS account / GCP project, if any."""
        return next((c for c in self.native_connectors() if c.hierarchy_id == hierarchy_id), None)


def iso(moment: datetime) -> str:
    """ISO-8601 UTC with a Z, as ARM writes times."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def lifetime(ctx: SampleContext, rng, churn: bool = True) -> tuple[int, int]:
    """(first_week, last_week) of a resource: most live all along, some are added or removed."""
    first, last = 0, 10**6
    if churn and ctx.weeks > 1:
        draw = rng.random()
        if draw < 0.10:
            first = rng.randrange(1, ctx.weeks)
        elif draw < 0.16:
            last = rng.randrange(0, ctx.weeks - 1)
    return first, last
