"""Normalisers for governance assignments (who owns an assessment, by when) and Azure Policy exemptions.

REST list items and Resource Graph rows (`securityresources` / `policyresources`) share `id` and `properties`, so
one function reads both. Owners are case-folded (e-mail addresses are case-insensitive), ids lower-cased.
"""

from __future__ import annotations

from typing import Any

from mdcnb.normalize.common import (
    LOWER_ID,
    RecordError,
    canonical,
    field,
    lower,
    require,
    split_provider_suffix,
    string_list,
    subscription_of,
    text,
    to_bool,
)
from mdcnb.normalize.inventory import Rows

EXEMPTION_CATEGORIES = ("Waiver", "Mitigated")
_MG_PREFIX = "/providers/microsoft.management/managementgroups/"


def _owner(value: Any) -> str | None:
    owner = text(value)
    return owner.casefold() if owner else None


def _negated(value: Any) -> bool | None:
    flag = to_bool(value)
    return None if flag is None else not flag


def governance_assignment(record: dict[str, Any]) -> Rows:
    """A `governanceAssignments` item / ARG row -> one `governance_assignments` row."""
    assignment_id = record.get(LOWER_ID) or require(lower(record.get("id")), "id")
    split = split_provider_suffix(assignment_id, "microsoft.security/assessments")
    if split is None or len(split[1]) != 3 or split[1][1] != "governanceassignments":
        raise RecordError(f"not a governance assignment id: {assignment_id}")
    scope, (key, _, _) = split
    props = field(record, "properties", default={})
    notification = field(props, "governanceEmailNotification", default={})
    ticket = field(props, "additionalData", default={})
    return {"governance_assignments": [{
        "assignment_id": assignment_id,
        "assessment_id": f"{scope}/providers/microsoft.security/assessments/{key}",
        "assessment_key": key,
        "subscription_id": lower(record.get("subscriptionid")) or subscription_of(assignment_id),
        "owner": _owner(field(props, "owner")),
        "due_date": text(field(props, "remediationDueDate")),
        "grace_period": to_bool(field(props, "isGracePeriod")),
        "eta": text(field(props, "remediationEta", "eta")),
        "eta_justification": text(field(props, "remediationEta", "justification")),
        "notify_owner": _negated(field(notification, "disableOwnerEmailNotification")),
        "notify_manager": _negated(field(notification, "disableManagerEmailNotification")),
        "ticket": text(field(ticket, "ticketLink")) or text(field(ticket, "ticketNumber")),
    }]}


def exemption_scope(scope_id: str) -> tuple[str, str | None, str | None]:
    """(scope type, subscription, management group) of an exemption's scope id (lower case)."""
    if scope_id.startswith(_MG_PREFIX):
        return "managementgroup", None, scope_id[len(_MG_PREFIX):].split("/", 1)[0]
    parts = scope_id.strip("/").split("/")
    if parts[0] != "subscriptions" or len(parts) < 2:
        raise RecordError(f"unknown exemption scope: {scope_id or '(tenant)'}")
    kind = "subscription" if len(parts) == 2 else "resourcegroup" if len(parts) == 4 else "resource"
    return kind, parts[1], None


def policy_exemption(record: dict[str, Any]) -> Rows:
    """A `policyExemptions` item / ARG `policyresources` row -> one `exemptions` row."""
    exemption_id = record.get(LOWER_ID) or require(lower(record.get("id")), "id")
    split = split_provider_suffix(exemption_id, "microsoft.authorization/policyexemptions")
    if split is None or len(split[1]) != 1:
        raise RecordError(f"not a policy exemption id: {exemption_id}")
    scope_id = split[0]
    scope_type, subscription, group = exemption_scope(scope_id)
    props = field(record, "properties", default={})
    category = canonical(require(field(props, "exemptionCategory"), "properties.exemptionCategory"),
                         EXEMPTION_CATEGORIES)
    if category not in EXEMPTION_CATEGORIES:
        raise RecordError(f"unknown exemptionCategory {category!r}")
    return {"exemptions": [{
        "exemption_id": exemption_id,
        "name": text(record.get("name")) or split[1][0],
        "display_name": text(field(props, "displayName")),
        "scope_id": scope_id,
        "scope_type": scope_type,
        "subscription_id": subscription,
        "management_group": group,
        "category": category,
        "expires_on": text(field(props, "expiresOn")),
        "policy_assignment_id": lower(field(props, "policyAssignmentId")),
        "policy_definition_reference_ids": [r.lower() for r in string_list(
            field(props, "policyDefinitionReferenceIds"))],
        "description": text(field(props, "description")),
        "created_at": text(field(record, "systemData", "createdAt")),
        "created_by": text(field(record, "systemData", "createdBy")),
    }]}
