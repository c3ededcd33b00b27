"""Contracts of governance: owner assignments and policy exemptions (normalised by
`mdcnb.normalize.governance`)."""

from __future__ import annotations

from mdcnb.core.schema.contract import BOOL, LIST, STRING, TIME, table

GOVERNANCE_ASSIGNMENTS = table(
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

EXEMPTIONS = table(
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
