"""Contracts of the security posture: assessments, secure scores and their controls, regulatory compliance
(normalised by `mdcnb.normalize.posture`)."""

from __future__ import annotations

from mdcnb.core.schema.contract import BOOL, FLOAT, INT, LIST, STRING, TIME, table

ASSESSMENTS = table(
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


SECURE_SCORES = table(
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

SCORE_CONTROLS = table(
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

COMPLIANCE_STANDARDS = table(
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

COMPLIANCE_CONTROLS = table(
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

COMPLIANCE_ASSESSMENTS = table(
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
