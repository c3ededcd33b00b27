"""Build the sample tenant model (`SampleContext`) from seed, scale and weeks.

The default (`small`) tenant is the estate described in issue 2: a dozen named subscriptions under two
management groups, an AWS organisation with member connectors (one member also on a classic connector, one
member account without any connector, one excluded), a stand-alone AWS account, a GCP project. Larger scales
add generic subscriptions and more resources per subscription; the multicloud part stays the same.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from mdcnb.sample.context import (
    DEFAULT_WEEKS,
    LARGE_SUBSCRIPTIONS,
    AwsAccount,
    CloudResource,
    Connector,
    ManagementGroup,
    SampleContext,
    Subscription,
    lifetime,
)

# name, production
SMALL_SUBSCRIPTIONS = (
    ("contoso-prod-platform", True), ("contoso-prod-payments", True), ("contoso-prod-web", True),
    ("contoso-prod-data", True), ("contoso-prod-identity", True), ("contoso-security", True),
    ("contoso-dev-web", False), ("contoso-dev-data", False), ("contoso-test-payments", False),
    ("contoso-sandbox-01", False), ("contoso-sandbox-02", False), ("contoso-shared-dev", False),
)
SECURITY_SUBSCRIPTION = 5  # index of the subscription that holds the multicloud connectors
LARGE_DENSITY = 6  # resources per subscription multiplier beyond the small tenant: >= 500 assessments each
REST_SHAPED = {2, 7, 10}  # subscriptions whose records are stored as ARM REST list items (others: ARG rows)
CONNECTOR_RG = "mdc-multicloud"
ALL_AWS_OFFERINGS = ("CspmMonitorAws", "DefenderCspmAws", "DefenderForServersAws", "DefenderForContainersAws",
                     "DefenderForDatabasesAws")


def parse_scale(scale: str) -> tuple[int, int]:
    """`small` | `large` | `<N>` (or `<N>-subscriptions`) -> (subscriptions, density)."""
    if scale == "small":
        return len(SMALL_SUBSCRIPTIONS), 1
    if scale == "large":
        return LARGE_SUBSCRIPTIONS, LARGE_DENSITY
    count = scale.removesuffix("-subscriptions")
    if not count.isdigit() or int(count) < 1:
        raise ValueError(f"--scale must be small, large or a number of subscriptions, not {scale!r}")
    n = int(count)
    return n, 1 if n <= len(SMALL_SUBSCRIPTIONS) else LARGE_DENSITY


def build_context(seed: int = 0, scale: str = "small", out: Path | str = Path("data/sample"),
                  weeks: int | None = None, plain: bool = False) -> SampleContext:
    count, density = parse_scale(scale)
    if weeks is None:
        weeks = DEFAULT_WEEKS if scale == "small" else 1
    if weeks < 1:
        raise ValueError("--weeks must be at least 1")
    ctx = SampleContext(seed=seed, scale=scale, out=Path(out), weeks=weeks, density=density, plain=plain)
    root = ManagementGroup(ctx.tenant_id, "Tenant Root Group", None)
    prod = ManagementGroup("mg-production", "Production", root.name)
    nonprod = ManagementGroup("mg-nonproduction", "Non-production", root.name)
    ctx.management_groups = [root, prod, nonprod]
    ctx.subscriptions = [_subscription(ctx, i, prod, nonprod) for i in range(count)]
    _multicloud(ctx)
    return ctx


def _guid(ctx: SampleContext, *key: object) -> str:
    return str(uuid.UUID(int=ctx.rng("guid", *key).getrandbits(128), version=4))


def _subscription(ctx: SampleContext, i: int, prod: ManagementGroup, nonprod: ManagementGroup) -> Subscription:
    if i < len(SMALL_SUBSCRIPTIONS):
        name, production = SMALL_SUBSCRIPTIONS[i]
    else:
        production = i % 3 != 0
        name = f"contoso-{'prod' if production else 'dev'}-{i:04d}"
    return Subscription(_guid(ctx, "subscription", i), name, (prod if production else nonprod).name, production,
                        "rest" if i in REST_SHAPED else "arg")


def _account_id(ctx: SampleContext, *key: object) -> str:
    return str(ctx.rng("aws-account", *key).randrange(10**11, 10**12))


def _multicloud(ctx: SampleContext) -> None:
    """AWS organisation + member connectors, classic duplicate, stand-alone account, GCP project."""
    weeks = ctx.weeks
    sub = ctx.subscriptions[min(SECURITY_SUBSCRIPTION, len(ctx.subscriptions) - 1)].subscription_id
    management = AwsAccount(_account_id(ctx, "management"), "contoso-management", management=True)
    members = [AwsAccount(_account_id(ctx, "member", n), n) for n in (
        "contoso-prod-workloads", "contoso-prod-data", "contoso-dev-workloads", "contoso-log-archive",
        "contoso-new-acquisition", "contoso-suspended-legacy")]
    standalone = AwsAccount(_account_id(ctx, "standalone"), "fabrikam-partner-sandbox")
    ctx.aws_accounts = [management, *members]  # the organisation; the stand-alone account is outside it
    org_name = "contoso-aws-org"
    excluded = members[5].account_id  # excluded from the organisation connector
    # members[4] (contoso-new-acquisition) joined the org after onboarding: listed in the org, no connector.
    org = Connector(org_name, sub, CONNECTOR_RG, "westeurope", "AWS", "native", management.account_id,
                    management.name, membership="Organization", stackset_name="MDC-Member-Onboarding",
                    excluded_ids=(excluded,), regions=("us-east-1", "eu-west-1"), scan_interval_hours=12,
                    offerings=("CspmMonitorAws", "DefenderCspmAws"), created_at="2026-02-03T10:15:22.4181234Z",
                    shape="rest")
    member_specs = [  # account, regions, scan interval, CSPM role name, offerings, first week, shape
        (members[0], ("us-east-1", "us-west-2", "eu-west-1"), 4, "CspmMonitorAws", ALL_AWS_OFFERINGS, 0, "arg"),
        (members[1], ("eu-west-1", "eu-central-1"), 6, "mdc-cspm-reader",
         ("CspmMonitorAws", "DefenderCspmAws", "DefenderForDatabasesAws"), 0, "arg"),
        (members[2], ("us-east-1",), 24, "CspmMonitorAws",
         ("CspmMonitorAws", "DefenderForServersAws"), 0, "rest"),
        (members[3], (), 12, "CspmMonitorAws", ("CspmMonitorAws",), max(0, weeks - 2), "arg"),
    ]
    connectors = [org]
    for account, regions, interval, role, offerings, first_week, shape in member_specs:
        connectors.append(Connector(
            f"{org_name}_{account.account_id}", sub, CONNECTOR_RG, "westeurope", "AWS", "native",
            account.account_id, account.name, membership="Member", parent_hierarchy_id=management.account_id,
            regions=regions, scan_interval_hours=interval, cspm_role_name=role, offerings=offerings,
            servers_sub_plan="P1" if account is members[2] else "P2", first_week=first_week,
            created_at="2026-02-03T10:41:07.1180000Z" if first_week == 0 else "2026-11-16T14:02:51.9020000Z",
            shape=shape))
    connectors.append(Connector(
        "fabrikam-partner-sandbox", sub, CONNECTOR_RG, "northeurope", "AWS", "native", standalone.account_id,
        standalone.name, regions=("ap-southeast-2",), scan_interval_hours=24,
        offerings=("CspmMonitorAws", "DefenderForServersAws", "DefenderForContainersAws"),
        created_at="2026-05-19T08:03:44.0000000Z", shape="arg"))
    # the duplicate-recommendations case: a member account also on the classic (deprecated) connector
    connectors.append(Connector(f"classic-{members[0].name}", sub, CONNECTOR_RG, "westeurope", "AWS", "classic",
                                members[0].account_id, members[0].name, created_at="2024-03-11T12:00:00Z"))
    gcp_number = str(ctx.rng("gcp").randrange(10**11, 10**12))
    connectors.append(Connector(
        "contoso-gcp-analytics", sub, CONNECTOR_RG, "westeurope", "GCP", "native", gcp_number,
        "contoso-analytics-prod", regions=("europe-west1", "us-central1"), scan_interval_hours=12,
        offerings=("CspmMonitorGcp", "DefenderCspmGcp", "DefenderForServersGcp"),
        created_at="2026-04-22T16:20:10.5550000Z", shape="arg"))
    ctx.connectors = connectors
    aws = _aws_resources(ctx, [management, *members, standalone])
    ctx.cloud_resources = aws + _gcp_resources(ctx, connectors[-1])



def _aws_resources(ctx: SampleContext, accounts: list[AwsAccount]) -> list[CloudResource]:
    out: list[CloudResource] = []
    for account in accounts:
        connector = ctx.connector_for_account(account.account_id)
        rng = ctx.rng("aws-resources", account.account_id)
        regions = (connector.regions if connector and connector.regions else ("us-east-1", "eu-west-1"))
        acct = account.account_id
        out.append(CloudResource("AWS", "account", acct, "global", acct, account.name, f"arn:aws::::account/{acct}"))
        arc = connector is not None and "DefenderForServersAws" in connector.offerings
        for n in range(rng.randint(3, 7)):
            region = rng.choice(regions)
            iid = f"i-0{rng.getrandbits(64):016x}"
            first, last = lifetime(ctx, rng)
            out.append(CloudResource(
                "AWS", "ec2", acct, region, iid, f"{account.name.split('-', 1)[1]}-app-{n:02d}",
                f"arn:aws:ec2:{region}:{acct}:instance/{iid}", instance_type=rng.choice(
                    ("t3.medium", "m5.large", "m6i.xlarge", "c6g.2xlarge", "r5.large")),
                state="stopped" if rng.random() < 0.15 else "running",
                arc_machine=arc and rng.random() < 0.7, first_week=first, last_week=last))
        for region in regions[:2]:
            sg = f"sg-0{rng.getrandbits(56):014x}"
            out.append(CloudResource("AWS", "sg", acct, region, sg, "default",
                                     f"arn:aws:ec2:{region}:{acct}:security-group/{sg}"))
        for n in range(rng.randint(1, 4)):
            bucket = f"{account.name}-{['logs', 'assets', 'backup', 'exports'][n]}-{rng.getrandbits(24):06x}"
            out.append(CloudResource("AWS", "s3", acct, regions[0], bucket, bucket, f"arn:aws:s3:::{bucket}"))
        if rng.random() < 0.6:
            db = f"{account.name.split('-', 1)[1]}-db"
            out.append(CloudResource("AWS", "rds", acct, regions[0], db, db,
                                     f"arn:aws:rds:{regions[0]}:{acct}:db:{db}"))
        if connector and "DefenderForContainersAws" in connector.offerings:
            eks = f"{account.name.split('-', 1)[1]}-eks"
            out.append(CloudResource("AWS", "eks", acct, regions[0], eks, eks,
                                     f"arn:aws:eks:{regions[0]}:{acct}:cluster/{eks}"))
    return out


def _gcp_resources(ctx: SampleContext, connector: Connector) -> list[CloudResource]:
    rng = ctx.rng("gcp-resources")
    project, number = connector.account_name, connector.hierarchy_id
    out = [CloudResource("GCP", "project", number, "global", number, project, f"//cloudresourcemanager.googleapis"
                         f".com/projects/{number}")]
    for n in range(4):
        zone = f"{rng.choice(connector.regions)}-b"
        name = f"analytics-worker-{n}"
        out.append(CloudResource("GCP", "gce", number, zone[:-2], name, name,
                                 f"//compute.googleapis.com/projects/{project}/zones/{zone}/instances/{name}",
                                 instance_type="e2-standard-4", state="running"))
    for n in range(3):
        bucket = f"{project}-{['raw', 'curated', 'exports'][n]}"
        out.append(CloudResource("GCP", "gcs", number, "europe-west1", bucket, bucket,
                                 f"//storage.googleapis.com/projects/_/buckets/{bucket}"))
    out.append(CloudResource("GCP", "gke", number, "europe-west1", "analytics-gke", "analytics-gke",
                             f"//container.googleapis.com/projects/{project}/locations/europe-west1/clusters/"
                             "analytics-gke"))
    return out
