"""Table contracts: the one place that says which columns each table has and of which type.

The machinery (`Table`, the column types) is `contract`; each feature declares its tables in a module of the same
name as its normaliser (`inventory`, `posture`, `governance`, `cloudtrail`, `aws_inventory`, `readiness`, and
`common` for the skips). This package gathers them: `schema.ASSESSMENTS`, the registries below, and `documentation`.
Every normaliser returns tables built with `Table.frame`, every analysis function reads them, the dataclasses that
hold them (`mdcnb.tables.Tables`, `mdcnb.tables.aws_inventory.AwsInventory`) are generated from the registries, and
the history store persists them column for column. Conventions that hold for all tables:

- ARM ids (`*_id` columns holding `/subscriptions/...` paths) are lower-cased: ARM ids are
  case-insensitive and the services return them in mixed case. Display names keep their case.
- Enumerations from Azure are given one canonical spelling (`Healthy`, `Unhealthy`, `NotApplicable`;
  `Passed`, `Failed`, `Skipped`, `Unsupported`; `Azure`, `AWS`, `GCP`), whatever case the source used.
- `string` columns use pandas' nullable string dtype; missing values are `<NA>`. `Int64` and
  `boolean` are nullable too; `float64` uses NaN. Times are UTC.
- `list[str]` columns hold Python lists (empty list, never null).
"""

from __future__ import annotations

from mdcnb.core.schema.aws_inventory import (
    AWS_ATTACHED_POLICIES,
    AWS_BUCKETS,
    AWS_CALLS,
    AWS_COLLECTIONS,
    AWS_DB_INSTANCES,
    AWS_EKS_CLUSTERS,
    AWS_IMAGES,
    AWS_INSTANCE_PROFILES,
    AWS_INSTANCES,
    AWS_OIDC_PROVIDERS,
    AWS_ORG_ACCOUNTS,
    AWS_ROLES,
    AWS_SERVICE_ACCESS,
    AWS_SSM_INSTANCES,
)
from mdcnb.core.schema.cloudtrail import CLOUDTRAIL_DAILY, CLOUDTRAIL_HOURLY, CLOUDTRAIL_TRAILS, CLOUDTRAIL_VOLUME
from mdcnb.core.schema.common import SKIPS
from mdcnb.core.schema.contract import (
    BOOL,
    FLOAT,
    INT,
    JSON,
    LIST,
    PANDAS_DTYPE,
    STRING,
    TIME,
    Column,
    Table,
    by_code,
    identity_codes,
    per_object,
    shared_lists,
    shared_strings,
    small_codes,
    table,
    value_codes,
)
from mdcnb.core.schema.governance import EXEMPTIONS, GOVERNANCE_ASSIGNMENTS
from mdcnb.core.schema.inventory import (
    ARC_MACHINES,
    CONNECTORS,
    OFFERINGS,
    PLAN_EXTENSIONS,
    PLANS,
    RESOURCES,
    SUBSCRIPTIONS,
)
from mdcnb.core.schema.posture import (
    ASSESSMENTS,
    COMPLIANCE_ASSESSMENTS,
    COMPLIANCE_CONTROLS,
    COMPLIANCE_STANDARDS,
    SCORE_CONTROLS,
    SECURE_SCORES,
)
from mdcnb.core.schema.readiness import AWS_AUDIT


def _by_name(*tables: Table) -> dict[str, Table]:
    return {t.name: t for t in tables}


# The tables of a dataset's Azure records (`mdcnb.tables.Tables`, `load_tables`).
TABLES: dict[str, Table] = _by_name(
    SUBSCRIPTIONS, CONNECTORS, OFFERINGS, PLANS, PLAN_EXTENSIONS, ASSESSMENTS, SECURE_SCORES,
    SCORE_CONTROLS, COMPLIANCE_STANDARDS, COMPLIANCE_CONTROLS, COMPLIANCE_ASSESSMENTS, RESOURCES,
    GOVERNANCE_ASSIGNMENTS, EXEMPTIONS, SKIPS,
)

# The CloudTrail scan's tables and the trail audit (`mdcnb.tables.cloudtrail`).
CLOUDTRAIL_TABLES: dict[str, Table] = _by_name(CLOUDTRAIL_VOLUME, CLOUDTRAIL_HOURLY, CLOUDTRAIL_TRAILS)

# The AWS side of a dataset (`mdcnb.tables.aws_inventory.AwsInventory`, normalised from `aws/<account-id>/`).
AWS_INVENTORY_TABLES: dict[str, Table] = _by_name(
    AWS_COLLECTIONS, AWS_CALLS, AWS_OIDC_PROVIDERS, AWS_ROLES, AWS_INSTANCE_PROFILES, AWS_ATTACHED_POLICIES,
    AWS_ORG_ACCOUNTS, AWS_SERVICE_ACCESS, AWS_BUCKETS, AWS_INSTANCES, AWS_IMAGES, AWS_SSM_INSTANCES,
    AWS_EKS_CLUSTERS, AWS_DB_INSTANCES,
)

# The readiness audit's inputs and result that `load_tables` does not load (Arc machines are streamed from
# `resources` by `mdcnb.normalize.inventory.arc_machines`; `aws_audit` is `mdcnb.analysis.readiness.audit`).
AUDIT_TABLES: dict[str, Table] = _by_name(ARC_MACHINES, AWS_AUDIT)


def documentation() -> str:
    """All table contracts as Markdown (for the README and `mdcnb tables`)."""
    return "\n\n".join(t.markdown() for registry in (TABLES, CLOUDTRAIL_TABLES, AWS_INVENTORY_TABLES, AUDIT_TABLES)
                       for t in registry.values())


__all__ = [
    "ARC_MACHINES",
    "ASSESSMENTS",
    "AUDIT_TABLES",
    "AWS_ATTACHED_POLICIES",
    "AWS_AUDIT",
    "AWS_BUCKETS",
    "AWS_CALLS",
    "AWS_COLLECTIONS",
    "AWS_DB_INSTANCES",
    "AWS_EKS_CLUSTERS",
    "AWS_IMAGES",
    "AWS_INSTANCES",
    "AWS_INSTANCE_PROFILES",
    "AWS_INVENTORY_TABLES",
    "AWS_OIDC_PROVIDERS",
    "AWS_ORG_ACCOUNTS",
    "AWS_ROLES",
    "AWS_SERVICE_ACCESS",
    "AWS_SSM_INSTANCES",
    "BOOL",
    "CLOUDTRAIL_DAILY",
    "CLOUDTRAIL_HOURLY",
    "CLOUDTRAIL_TABLES",
    "CLOUDTRAIL_TRAILS",
    "CLOUDTRAIL_VOLUME",
    "COMPLIANCE_ASSESSMENTS",
    "COMPLIANCE_CONTROLS",
    "COMPLIANCE_STANDARDS",
    "CONNECTORS",
    "EXEMPTIONS",
    "FLOAT",
    "GOVERNANCE_ASSIGNMENTS",
    "INT",
    "JSON",
    "LIST",
    "OFFERINGS",
    "PANDAS_DTYPE",
    "PLANS",
    "PLAN_EXTENSIONS",
    "RESOURCES",
    "SCORE_CONTROLS",
    "SECURE_SCORES",
    "SKIPS",
    "STRING",
    "SUBSCRIPTIONS",
    "TABLES",
    "TIME",
    "Column",
    "Table",
    "by_code",
    "documentation",
    "identity_codes",
    "per_object",
    "shared_lists",
    "shared_strings",
    "small_codes",
    "table",
    "value_codes",
]
