"""What the live Azure pull asks for: Resource Graph tables and types per dataset record type, ARM lists.

Kept as data: one `ArgQuery` per Resource Graph table (all of a table's types in one query, so small record types
share pages with big ones), and the ARM lists used only where Resource Graph lacks the data.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ArgQuery:
    """One Resource Graph table and the record type each of its (lower-case) ARM types is written to."""

    table: str
    types: dict[str, str]  # ARM type (lower case) -> dataset record type

    @property
    def kql(self) -> str:
        """The query text: the table filtered to the types (whole rows, so `id` is there for stable paging)."""
        if len(self.types) == 1:
            return f"{self.table} | where type =~ '{next(iter(self.types))}'"
        quoted = ", ".join(f"'{t}'" for t in self.types)
        return f"{self.table} | where type in~ ({quoted})"

    def record_type(self, row: dict) -> str | None:
        return self.types.get(str(row.get("type", "")).lower())


SUBSCRIPTIONS = ArgQuery("resourcecontainers", {"microsoft.resources/subscriptions": "subscriptions"})

SECURITY = ArgQuery("securityresources", {
    "microsoft.security/assessments": "assessments",
    "microsoft.security/assessments/governanceassignments": "governanceassignments",
    "microsoft.security/pricings": "pricings",
    "microsoft.security/securescores": "securescores",
    "microsoft.security/securescores/securescorecontrols": "securescorecontrols",
    "microsoft.security/regulatorycompliancestandards": "regulatorycompliancestandards",
    "microsoft.security/regulatorycompliancestandards/regulatorycompliancecontrols": "regulatorycompliancecontrols",
    "microsoft.security/regulatorycompliancestandards/regulatorycompliancecontrols/regulatorycomplianceassessments":
        "regulatorycomplianceassessments",
})

# Security connectors live in `resources`; so does the inventory the coverage and cost pages need.
INVENTORY_TYPES = (
    "microsoft.compute/virtualmachines",
    "microsoft.compute/virtualmachinescalesets",
    "microsoft.containerservice/managedclusters",
    "microsoft.storage/storageaccounts",
    "microsoft.sql/servers",
    "microsoft.dbforpostgresql/flexibleservers",
    "microsoft.dbformysql/flexibleservers",
    "microsoft.web/serverfarms",
    "microsoft.web/sites",
    "microsoft.keyvault/vaults",
    "microsoft.documentdb/databaseaccounts",
    "microsoft.hybridcompute/machines",
)
RESOURCES = ArgQuery("resources", {
    "microsoft.security/securityconnectors": "securityconnectors",
    **{t: "resources" for t in INVENTORY_TYPES},
})

BATCHED_QUERIES: tuple[ArgQuery, ...] = (SECURITY, RESOURCES)

# Policy exemptions exist at management-group scope too, and Resource Graph returns those only to a query at
# management-group or tenant scope, never to one batched by subscription: this query is asked once, at that scope.
EXEMPTIONS = ArgQuery("policyresources", {"microsoft.authorization/policyexemptions": "policyexemptions"})


@dataclass(frozen=True)
class ArmList:
    """An ARM list Resource Graph does not serve; `path` may hold `{subscription}` (then one list per subscription)."""

    record_type: str
    path: str
    api_version: str
    why: str

    @property
    def per_subscription(self) -> bool:
        return "{subscription}" in self.path


ASSESSMENT_METADATA = ArmList(
    "assessmentmetadata", "/providers/Microsoft.Security/assessmentMetadata", "2021-06-01",
    "assessment metadata (severity, remediation, threats) is not a Resource Graph type")
CLASSIC_CONNECTORS = ArmList(
    "securityconnectors", "/subscriptions/{subscription}/providers/Microsoft.Security/connectors",
    "2020-01-01-preview", "classic AWS/GCP connectors (Microsoft.Security/connectors) are not in Resource Graph")

ARM_LISTS: tuple[ArmList, ...] = (ASSESSMENT_METADATA, CLASSIC_CONNECTORS)
