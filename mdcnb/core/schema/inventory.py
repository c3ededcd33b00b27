"""Contracts of the estate: subscriptions, connectors and their offerings, Defender plans, resources, and the
Azure Arc machines the AWS audit reads (normalised by `mdcnb.normalize.inventory`)."""

from __future__ import annotations

from mdcnb.core.schema.contract import BOOL, FLOAT, INT, JSON, LIST, STRING, TIME, table

SUBSCRIPTIONS = table(
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

CONNECTORS = table(
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

OFFERINGS = table(
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

PLANS = table(
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

PLAN_EXTENSIONS = table(
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


RESOURCES = table(
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


ARC_MACHINES = table(
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
