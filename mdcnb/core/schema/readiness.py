"""The contract of the AWS readiness audit's result (`mdcnb.analysis.readiness`)."""

from __future__ import annotations

from mdcnb.core.schema.contract import STRING, table

AWS_AUDIT = table(
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
