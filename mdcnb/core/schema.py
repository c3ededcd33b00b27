"""Table contracts: the one place that says which columns each table has and of which type.

Every normaliser returns tables built with `Table.frame`, every analysis function reads them, and the
history store persists them column for column. Conventions that hold for all tables:

- ARM ids (`*_id` columns holding `/subscriptions/...` paths) are lower-cased: ARM ids are
  case-insensitive and the services return them in mixed case. Display names keep their case.
- Enumerations from Azure are given one canonical spelling (`Healthy`, `Unhealthy`, `NotApplicable`;
  `Passed`, `Failed`, `Skipped`, `Unsupported`; `Azure`, `AWS`, `GCP`), whatever case the source used.
- `string` columns use pandas' nullable string dtype; missing values are `<NA>`. `Int64` and
  `boolean` are nullable too; `float64` uses NaN. Times are UTC.
- `list[str]` columns hold Python lists (empty list, never null).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

STRING = "string"
INT = "Int64"
FLOAT = "float64"
BOOL = "boolean"
TIME = "datetime64[ns, UTC]"
LIST = "list[str]"
JSON = "json"  # a dict kept as-is (object dtype)

_PANDAS_DTYPE = {STRING: "string", INT: "Int64", FLOAT: "float64", BOOL: "boolean", TIME: TIME,
                 LIST: "object", JSON: "object"}


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str
    doc: str


@dataclass(frozen=True)
class Table:
    """A named table contract: ordered columns with types and meaning."""

    name: str
    doc: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def frame(self, rows: Iterable[Mapping[str, Any]] = ()) -> pd.DataFrame:
        """Build a DataFrame with exactly this table's columns and types from dict rows.

        Keys not in the contract are ignored; missing keys become nulls (empty lists for list columns).
        """
        rows = list(rows)
        return self.from_columns({col.name: [row.get(col.name) for row in rows] for col in self.columns},
                                 length=len(rows))

    def from_columns(self, columns: Mapping[str, list[Any]], length: int | None = None) -> pd.DataFrame:
        """Build a DataFrame of this table from value lists per column (cheaper than dict rows for big tables).

        Columns not in the contract are ignored; missing ones become nulls. `length` is needed only when
        `columns` holds none of the contract's columns.
        """
        if length is None:
            length = next((len(v) for name, v in columns.items() if name in self.names), 0)
        data = {col.name: _series(columns.get(col.name, [None] * length), col.dtype) for col in self.columns}
        return pd.DataFrame(data, index=pd.RangeIndex(length))

    def conform(self, df: pd.DataFrame) -> pd.DataFrame:
        """Return `df` restricted to, ordered by and typed as this contract (missing columns become null)."""
        return self.frame(df.to_dict("records")) if len(df) else self.frame()

    def markdown(self) -> str:
        lines = [f"### `{self.name}`", "", self.doc, "", "| column | type | meaning |", "|---|---|---|"]
        lines += [f"| `{c.name}` | {c.dtype} | {c.doc} |" for c in self.columns]
        return "\n".join(lines)


def shared_strings(values: Iterable[Any]) -> list[Any]:
    """The values with equal strings as one object. A big tenant repeats a few hundred ids, names and states over
    a million assessments: one object per distinct string instead of one per row keeps the tables (and every
    process that loads them) several times smaller; the values and the dtype are unchanged."""
    seen: dict[str, str] = {}
    return [seen.setdefault(v, v) if isinstance(v, str) else v for v in values]


def shared_lists(values: Iterable[Any]) -> list[list[str]]:
    """`list[str]` cells with equal lists as one list object (as `shared_strings`; cells are read, never mutated)."""
    seen: dict[tuple[str, ...], list[str]] = {}
    out = []
    for value in values:
        items = tuple(value) if isinstance(value, (list, tuple)) else ()
        try:
            out.append(seen.setdefault(items, list(items)))
        except TypeError:  # an unhashable item (not a string): its own list
            out.append(list(items))
    return out


def _series(values: list[Any], dtype: str) -> pd.Series:
    if dtype == LIST:
        return pd.Series(shared_lists(values), dtype="object")
    if dtype == JSON:
        return pd.Series([v if isinstance(v, dict) else None for v in values], dtype="object")
    if dtype == TIME:
        return pd.to_datetime(pd.Series(values, dtype="object"), utc=True, errors="coerce",
                              format="ISO8601").astype(TIME)
    if dtype == FLOAT:
        return pd.to_numeric(pd.Series(values, dtype="object"), errors="coerce").astype("float64")
    if dtype == INT:
        return pd.to_numeric(pd.Series(values, dtype="object"), errors="coerce").astype("Int64")
    if dtype == STRING:
        return pd.Series(shared_strings(values), dtype="string")
    return pd.Series(values, dtype=_PANDAS_DTYPE[dtype])


def _table(name: str, doc: str, *columns: tuple[str, str, str]) -> Table:
    return Table(name, doc, tuple(Column(*c) for c in columns))


SUBSCRIPTIONS = _table(
    "subscriptions",
    "One row per Azure subscription (ARG `resourcecontainers` or ARM `GET /subscriptions`).",
    ("subscription_id", STRING, "subscription GUID, lower case"),
    ("display_name", STRING, "subscription display name"),
    ("tenant_id", STRING, "Entra tenant GUID"),
    ("state", STRING, "Enabled, Warned, PastDue, Disabled or Deleted"),
    ("management_group", STRING, "name (id segment) of the closest management group, null if unknown"),
    ("management_group_display", STRING, "display name of the closest management group"),
    ("management_group_path", LIST, "management group names from the tenant root down to the parent"),
)

CONNECTORS = _table(
    "connectors",
    "One row per multicloud connector: native `securityConnectors` (AWS, GCP, DevOps) and classic AWS/GCP "
    "`connectors`, the latter kept because an account on both produces duplicate recommendations.",
    ("connector_id", STRING, "ARM id, lower case"),
    ("name", STRING, "connector name"),
    ("subscription_id", STRING, "subscription holding the connector"),
    ("resource_group", STRING, "resource group (lower case); null for classic connectors"),
    ("location", STRING, "Azure region of the connector resource"),
    ("kind", STRING, "`native` (Microsoft.Security/securityConnectors) or `classic` (Microsoft.Security/connectors)"),
    ("environment", STRING, "AWS, GCP, Github, AzureDevOps, GitLab, DockerHub or JFrog"),
    ("hierarchy_id", STRING, "AWS account id, GCP project number, or DevOps scope id"),
    ("account_name", STRING, "AWS account name or GCP project id, when the service reports one"),
    ("membership", STRING, "Organization (management account / GCP org), Member, or null for a single account"),
    ("parent_hierarchy_id", STRING, "for members: the management account id or management project number"),
    ("stackset_name", STRING, "AWS organisation connectors: the CloudFormation StackSet name"),
    ("excluded_ids", LIST, "organisation connectors: excluded account ids / project numbers"),
    ("regions", LIST, "regions the connector scans; empty list means all regions"),
    ("scan_interval_hours", INT, "hours between scans; null when the API version does not report it"),
    ("cspm_role_arn", STRING, "AWS: `cloudRoleArn` of the CspmMonitorAws offering (classic: the assumed role)"),
    ("offering_types", LIST, "offering types enabled on the connector"),
    ("created_at", TIME, "systemData.createdAt"),
)

OFFERINGS = _table(
    "offerings",
    "One row per (connector, offering, role): the IAM roles / service accounts each offering uses. An "
    "offering without any role gets one row with null role columns.",
    ("connector_id", STRING, "connector ARM id, lower case"),
    ("environment", STRING, "AWS, GCP, ..."),
    ("hierarchy_id", STRING, "AWS account id / GCP project number"),
    ("offering_type", STRING, "e.g. CspmMonitorAws, DefenderForServersAws, DefenderCspmAws"),
    ("feature", STRING, "path of the role in the offering, e.g. nativeCloudConnection, vmScanners.configuration"),
    ("enabled", BOOL, "the feature's `enabled` flag when it has one, else true"),
    ("role_arn", STRING, "AWS role ARN (cloudRoleArn)"),
    ("role_name", STRING, "last segment of the role ARN"),
    ("service_account", STRING, "GCP service account e-mail"),
    ("sub_plan", STRING, "DefenderForServersAws: P1 or P2"),
)

PLANS = _table(
    "plans",
    "One row per Defender plan (`pricings`) and scope: subscription level, or resource level overrides.",
    ("scope_id", STRING, "`/subscriptions/<id>` or a resource id, lower case"),
    ("subscription_id", STRING, "subscription the scope belongs to"),
    ("level", STRING, "`subscription` or `resource`"),
    ("plan", STRING, "pricing name, e.g. VirtualMachines, StorageAccounts, CloudPosture"),
    ("tier", STRING, "Free or Standard"),
    ("enabled", BOOL, "tier is Standard"),
    ("sub_plan", STRING, "P1, P2, DefenderForStorageV2, PerSubscription, ..."),
    ("free_trial_remaining_days", FLOAT, "free trial left in days (0 when none)"),
    ("enablement_time", TIME, "when the plan was switched to Standard"),
    ("enforce", BOOL, "subscription level: the plan is enforced on descendants (`\"True\"`/`\"False\"` strings)"),
    ("inherited", BOOL, "resource level: the setting is inherited from the parent scope"),
    ("inherited_from", STRING, "resource level: scope the setting is inherited from"),
    ("coverage_status", STRING, "FullyCovered, PartiallyCovered or NotCovered"),
    ("deprecated", BOOL, "the plan is deprecated (Dns, KubernetesService, ContainerRegistry)"),
    ("replaced_by", LIST, "plans that replace a deprecated one"),
    ("extensions_enabled", LIST, "names of the plan's extensions whose isEnabled is true"),
)

PLAN_EXTENSIONS = _table(
    "plan_extensions",
    "One row per plan extension (`properties.extensions[]` of a pricing).",
    ("scope_id", STRING, "scope of the pricing, lower case"),
    ("subscription_id", STRING, "subscription"),
    ("plan", STRING, "pricing name"),
    ("extension", STRING, "e.g. AgentlessVmScanning, OnUploadMalwareScanning, SensitiveDataDiscovery"),
    ("enabled", BOOL, "isEnabled (`\"True\"`/`\"False\"` strings)"),
    ("operation_status", STRING, "Succeeded or Failed, when reported"),
    ("properties", JSON, "additionalExtensionProperties as given"),
)

ASSESSMENTS = _table(
    "assessments",
    "One row per assessment (recommendation x resource), joined with its metadata.",
    ("assessment_id", STRING, "assessment ARM id, lower case"),
    ("assessment_key", STRING, "metadata name (GUID), lower case"),
    ("subscription_id", STRING, "subscription that holds the assessment"),
    ("environment", STRING, "Azure, AWS, GCP or OnPremise (resourceDetails.source)"),
    ("resource_id", STRING, "assessed resource id, lower case, chosen as Microsoft's own ARG queries choose it"),
    ("resource_name", STRING, "resource name (last id segment unless the source names it)"),
    ("resource_type", STRING, "resource type as reported (ARM type or AWS/GCP resource type)"),
    ("native_resource_id", STRING, "ARN or GCP resource id for multicloud resources"),
    ("connector_id", STRING, "native connector id for AWS/GCP resources, lower case"),
    ("hierarchy_id", STRING, "AWS account id / GCP project number for multicloud resources"),
    ("region", STRING, "AWS/GCP region for multicloud resources"),
    ("display_name", STRING, "recommendation title"),
    ("status", STRING, "Healthy, Unhealthy or NotApplicable"),
    ("cause", STRING, "status cause"),
    ("status_description", STRING, "status description"),
    ("first_evaluation", TIME, "status.firstEvaluationDate"),
    ("status_change", TIME, "status.statusChangeDate"),
    ("severity", STRING, "Low, Medium, High or Critical (metadata)"),
    ("categories", LIST, "metadata categories"),
    ("threats", LIST, "metadata threats, camelCase"),
    ("user_impact", STRING, "Low, Moderate or High"),
    ("implementation_effort", STRING, "Low, Moderate or High"),
    ("preview", BOOL, "preview recommendation (does not count in the secure score)"),
    ("assessment_type", STRING, "BuiltIn, CustomPolicy, CustomerManaged, ..."),
    ("policy_definition_id", STRING, "Azure Policy definition id, lower case"),
    ("remediation", STRING, "remediation text (metadata remediationDescription)"),
    ("portal_link", STRING, "links.azurePortal / azurePortalUri"),
    ("risk_level", STRING, "Critical, High, Medium or Low (`properties.risk.level`, Defender CSPM); null for none"),
    ("risk_factors", LIST, "`properties.risk.riskFactors`, e.g. Internet exposure, Sensitive data"),
)

GOVERNANCE_ASSIGNMENTS = _table(
    "governance_assignments",
    "One row per governance assignment (`Microsoft.Security/assessments/governanceAssignments`): who owns an "
    "assessment and by when it must be fixed.",
    ("assignment_id", STRING, "governance assignment ARM id, lower case"),
    ("assessment_id", STRING, "the assessment it governs (joins `assessments.assessment_id`), lower case"),
    ("assessment_key", STRING, "assessment metadata key (GUID), lower case"),
    ("subscription_id", STRING, "subscription"),
    ("owner", STRING, "owner e-mail, case-folded (e-mail addresses are case-insensitive)"),
    ("due_date", TIME, "remediationDueDate"),
    ("grace_period", BOOL, "isGracePeriod: the secure score is not affected until the due date"),
    ("eta", TIME, "remediationEta.eta, when the owner set one"),
    ("eta_justification", STRING, "remediationEta.justification"),
    ("notify_owner", BOOL, "owner e-mail notifications on (not governanceEmailNotification.disableOwner...)"),
    ("notify_manager", BOOL, "manager e-mail notifications on (not ...disableManagerEmailNotification)"),
    ("ticket", STRING, "additionalData ticketLink or ticketNumber, when given"),
    ("status", STRING, "status of the governed assessment (joined when the tables are loaded; null when the "
                       "dataset does not hold it), so each stored week can tell overdue work without its assessments"),
    ("risk_level", STRING, "risk level of the governed assessment (joined likewise)"),
    ("severity", STRING, "severity of the governed assessment (joined likewise)"),
    ("display_name", STRING, "recommendation title of the governed assessment (joined likewise)"),
    ("resource_name", STRING, "resource name of the governed assessment (joined likewise)"),
    ("environment", STRING, "environment of the governed assessment (joined likewise)"),
)

EXEMPTIONS = _table(
    "exemptions",
    "One row per Azure Policy exemption (`Microsoft.Authorization/policyExemptions`) at any scope: resource, "
    "resource group, subscription or management group.",
    ("exemption_id", STRING, "exemption ARM id, lower case"),
    ("name", STRING, "exemption name"),
    ("display_name", STRING, "display name"),
    ("scope_id", STRING, "the exempted scope (id before `/providers/Microsoft.Authorization/...`), lower case"),
    ("scope_type", STRING, "resource, resourcegroup, subscription or managementgroup"),
    ("subscription_id", STRING, "subscription of the scope; null at management-group scope"),
    ("management_group", STRING, "management group name at management-group scope, lower case"),
    ("category", STRING, "Waiver or Mitigated (exemptionCategory)"),
    ("expires_on", TIME, "expiresOn; null when it never expires"),
    ("policy_assignment_id", STRING, "policyAssignmentId, lower case"),
    ("policy_definition_reference_ids", LIST, "policyDefinitionReferenceIds, lower case (empty: the whole assignment)"),
    ("description", STRING, "description"),
    ("created_at", TIME, "systemData.createdAt"),
    ("created_by", STRING, "systemData.createdBy"),
)

SECURE_SCORES = _table(
    "secure_scores",
    "One row per secure score (`secureScores`, normally `ascScore`) of a subscription or a connector.",
    ("score_id", STRING, "secure score ARM id, lower case"),
    ("scope_id", STRING, "`/subscriptions/<id>` or the connector id, lower case"),
    ("scope_type", STRING, "`subscription` or `connector`"),
    ("subscription_id", STRING, "subscription (of the connector, for connector scores)"),
    ("environment", STRING, "Azure, AWS, GCP, ..."),
    ("score_name", STRING, "initiative score name, e.g. ascScore"),
    ("display_name", STRING, "e.g. ASC score"),
    ("current", FLOAT, "score.current (points)"),
    ("max", FLOAT, "score.max (points)"),
    ("percentage", FLOAT, "score.percentage as MDC reports it, 0..1 rounded to 4 digits"),
    ("weight", INT, "the scope's weight in aggregated scores (0 counts as 1)"),
)

SCORE_CONTROLS = _table(
    "score_controls",
    "One row per secure score control and scope (`secureScoreControls` with `$expand=definition`).",
    ("scope_id", STRING, "`/subscriptions/<id>` or connector id, lower case"),
    ("subscription_id", STRING, "subscription"),
    ("score_name", STRING, "secure score name, e.g. ascScore"),
    ("control_id", STRING, "control definition name (GUID), lower case"),
    ("control_name", STRING, "display name"),
    ("current", FLOAT, "score.current"),
    ("max", FLOAT, "score.max (0 when no resource is healthy or unhealthy)"),
    ("percentage", FLOAT, "score.percentage, 0..1"),
    ("healthy", INT, "healthyResourceCount"),
    ("unhealthy", INT, "unhealthyResourceCount"),
    ("not_applicable", INT, "notApplicableResourceCount"),
    ("weight", INT, "control weight"),
    ("definition_max", FLOAT, "definition.properties.maxScore"),
    ("source_type", STRING, "BuiltIn or Custom"),
    ("assessment_keys", LIST, "assessment metadata keys (GUIDs, lower case) in the control"),
)

COMPLIANCE_STANDARDS = _table(
    "compliance_standards",
    "One row per regulatory compliance standard and subscription.",
    ("scope_id", STRING, "`/subscriptions/<id>`"),
    ("subscription_id", STRING, "subscription"),
    ("standard", STRING, "standard name (id segment), e.g. Microsoft-cloud-security-benchmark"),
    ("state", STRING, "Passed, Failed, Skipped or Unsupported"),
    ("passed_controls", INT, "passedControls"),
    ("failed_controls", INT, "failedControls"),
    ("skipped_controls", INT, "skippedControls"),
    ("unsupported_controls", INT, "unsupportedControls"),
)

COMPLIANCE_CONTROLS = _table(
    "compliance_controls",
    "One row per control of a standard and subscription.",
    ("scope_id", STRING, "`/subscriptions/<id>`"),
    ("subscription_id", STRING, "subscription"),
    ("standard", STRING, "standard name"),
    ("control", STRING, "control name (id segment), e.g. NS.1"),
    ("description", STRING, "control description"),
    ("state", STRING, "Passed, Failed, Skipped or Unsupported"),
    ("passed_assessments", INT, "passedAssessments"),
    ("failed_assessments", INT, "failedAssessments"),
    ("skipped_assessments", INT, "skippedAssessments"),
    ("unsupported_assessments", INT, "unsupportedAssessments (not always reported)"),
)

COMPLIANCE_ASSESSMENTS = _table(
    "compliance_assessments",
    "One row per assessment of a control of a standard and subscription.",
    ("scope_id", STRING, "`/subscriptions/<id>`"),
    ("subscription_id", STRING, "subscription"),
    ("standard", STRING, "standard name"),
    ("control", STRING, "control name"),
    ("assessment_key", STRING, "assessment key (GUID), joins `assessments.assessment_key`"),
    ("description", STRING, "assessment description"),
    ("state", STRING, "Passed, Failed, Skipped or Unsupported"),
    ("assessment_type", STRING, "AssessmentResult, RuleResult, MicrosoftManaged, ..."),
    ("passed_resources", INT, "passedResources"),
    ("failed_resources", INT, "failedResources"),
    ("skipped_resources", INT, "skippedResources"),
)

RESOURCES = _table(
    "resources",
    "Inventory: one row per Azure resource (ARG `resources`) relevant to Defender plans and their billing.",
    ("resource_id", STRING, "ARM id, lower case"),
    ("name", STRING, "resource name"),
    ("type", STRING, "ARM type, lower case (e.g. microsoft.compute/virtualmachines)"),
    ("kind", STRING, "ARM kind, when set"),
    ("subscription_id", STRING, "subscription"),
    ("resource_group", STRING, "resource group, lower case"),
    ("location", STRING, "Azure region"),
    ("sku", STRING, "sku name or VM size"),
    ("capacity", INT, "instances / nodes where the type has them (VMSS sku.capacity, AKS node count)"),
    ("vcores", INT, "vCores where the type bills by them (AKS nodes x cores)"),
    ("power_state", STRING, "running / deallocated / stopped where reported"),
    ("tags", JSON, "resource tags"),
)

SKIPS = _table(
    "skips",
    "Records or files that could not be read: listed, never dropped silently.",
    ("source", STRING, "file or request the record came from"),
    ("location", STRING, "line number, page or key within the source"),
    ("record_type", STRING, "dataset record type (e.g. assessments)"),
    ("reason", STRING, "why it was skipped"),
)

TABLES: dict[str, Table] = {t.name: t for t in (
    SUBSCRIPTIONS, CONNECTORS, OFFERINGS, PLANS, PLAN_EXTENSIONS, ASSESSMENTS, SECURE_SCORES,
    SCORE_CONTROLS, COMPLIANCE_STANDARDS, COMPLIANCE_CONTROLS, COMPLIANCE_ASSESSMENTS, RESOURCES,
    GOVERNANCE_ASSIGNMENTS, EXEMPTIONS, SKIPS,
)}


CLOUDTRAIL_VOLUME = _table(
    "cloudtrail_volume",
    "CloudTrail events by day x account x region x eventSource x eventName x actor, de-duplicated by eventID "
    "(`mdcnb.tables.cloudtrail`; not loaded by `load_tables`: it comes from scanning log files). Bytes are the size of "
    "each record's JSON as delivered, without whitespace between tokens (strings byte for byte as written).",
    ("date", STRING, "event day, YYYY-MM-DD (UTC, from eventTime)"),
    ("account_id", STRING, "recipientAccountId (else the account in the log path)"),
    ("region", STRING, "awsRegion"),
    ("event_source", STRING, "eventSource, e.g. ec2.amazonaws.com"),
    ("event_name", STRING, "eventName, e.g. DescribeInstances"),
    ("actor", STRING, "cspm (CspmMonitorAws session), cspm_assume_role (its AssumeRoleWithWebIdentity), "
                      "mdc_other (another MDC role) or other"),
    ("role_arn", STRING, "IAM role ARN (session issuer, or roleArn of AssumeRoleWithWebIdentity) for MDC rows"),
    ("role_name", STRING, "IAM role name for MDC rows, else null"),
    ("events", INT, "events"),
    ("read_only_events", INT, "events with readOnly true"),
    ("bytes", INT, "bytes of those events"),
    ("read_only_bytes", INT, "bytes of the read-only events"),
)

CLOUDTRAIL_HOURLY = _table(
    "cloudtrail_hourly",
    "CloudTrail events by hour x account x region x actor (same counting rules as `cloudtrail_volume`).",
    ("hour", TIME, "start of the hour (UTC)"),
    ("account_id", STRING, "account"),
    ("region", STRING, "awsRegion"),
    ("actor", STRING, "cspm, cspm_assume_role, mdc_other or other"),
    ("events", INT, "events"),
    ("read_only_events", INT, "read-only events"),
    ("bytes", INT, "bytes"),
)

CLOUDTRAIL_DAILY = Table(
    "cloudtrail_daily",
    "CloudTrail volume per day x account x region x actor: `cloudtrail_volume` summed over event sources and "
    "names (`mdcnb.tables.cloudtrail.result.cloudtrail_daily`), with its columns. Each history snapshot stores it "
    "(`mdcnb.tables.history`) so the weekly trend needs no log rescan.",
    tuple(c for c in CLOUDTRAIL_VOLUME.columns if c.name not in ("event_source", "event_name", "role_arn",
                                                                 "role_name")),
)

CLOUDTRAIL_TRAILS = _table(
    "cloudtrail_trails",
    "Trail audit (`mdcnb cloudtrail trails`): does each trail record read-only management events, and where "
    "does it deliver them.",
    ("trail_arn", STRING, "TrailARN"),
    ("name", STRING, "trail name"),
    ("account_id", STRING, "account that owns the trail (from its ARN)"),
    ("home_region", STRING, "HomeRegion"),
    ("multi_region", BOOL, "IsMultiRegionTrail"),
    ("organization_trail", BOOL, "IsOrganizationTrail"),
    ("logging", BOOL, "GetTrailStatus IsLogging (null when unknown)"),
    ("selector_kind", STRING, "basic, advanced, default (no custom selectors: all management events), none or unknown"),
    ("records_management_reads", BOOL, "read-only management events are recorded"),
    ("excluded_sources", LIST, "management event sources excluded (e.g. kms.amazonaws.com)"),
    ("s3_bucket", STRING, "S3BucketName"),
    ("s3_prefix", STRING, "S3KeyPrefix"),
    ("cloudwatch_log_group", STRING, "CloudWatchLogsLogGroupArn"),
    ("note", STRING, "what this means for CSPM's reads"),
)

CLOUDTRAIL_TABLES: dict[str, Table] = {t.name: t for t in (CLOUDTRAIL_VOLUME, CLOUDTRAIL_HOURLY, CLOUDTRAIL_TRAILS)}


# ------------------------------------------------------------------ audit tables (not loaded by `load_tables`)
# Built by `mdcnb.normalize.inventory.arc_machines` from the raw `resources` records and by
# `mdcnb.analysis.readiness.audit`.

ARC_MACHINES = _table(
    "arc_machines",
    "One row per Azure Arc machine (`microsoft.hybridcompute/machines` in ARG `resources`), with the connection "
    "status the AWS audit needs to tell a live EC2 machine from one kept after its instance was deleted.",
    ("resource_id", STRING, "ARM id, lower case"),
    ("name", STRING, "machine name (for EC2 onboarding: usually the instance id)"),
    ("subscription_id", STRING, "subscription"),
    ("status", STRING, "properties.status: Connected, Disconnected, Expired, Error"),
    ("last_status_change", TIME, "properties.lastStatusChange"),
    ("tags", JSON, "resource tags (AccountId, Cloud, InstanceId, MDFCSecurityConnector for EC2)"),
)

AWS_AUDIT = _table(
    "aws_audit",
    "One row per (AWS account, readiness check) of `mdcnb aws audit`: MDC's AWS onboarding prerequisites.",
    ("account_id", STRING, "AWS account id"),
    ("account_name", STRING, "account name from the connector or AWS Organizations"),
    ("connector_id", STRING, "native connector id (else classic), lower case; null for an account without one"),
    ("connector_kind", STRING, "native or classic"),
    ("membership", STRING, "Organization, Member or null (single account)"),
    ("check_id", STRING, "check id, e.g. identity.trust_policy"),
    ("area", STRING, "Identity, Connector type, Servers plan, Databases plan, Containers plan, Regions, ..."),
    ("plan", STRING, "offering the check belongs to, or `all`"),
    ("title", STRING, "what the check verifies"),
    ("status", STRING, "pass, fail, not applicable or could not check"),
    ("evidence", STRING, "what was found (ids, names, counts) or why it could not be checked"),
    ("remediation", STRING, "what to do, for failing checks"),
    ("guide", STRING, "section of MDC's AWS connection guide the check comes from"),
)

AUDIT_TABLES: dict[str, Table] = {t.name: t for t in (ARC_MACHINES, AWS_AUDIT)}


def documentation() -> str:
    """All table contracts as Markdown (for the README and `mdcnb tables`)."""
    return "\n\n".join(t.markdown() for t in (*TABLES.values(), *CLOUDTRAIL_TABLES.values(),
                                                *AUDIT_TABLES.values()))
