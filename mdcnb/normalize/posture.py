"""Normalisers for the posture records: assessments (joined with their metadata), secure scores, secure
score controls and regulatory compliance standards / controls / assessments.

REST list items and Resource Graph `securityresources` rows share `id` and `properties`, so one function
reads both. Ids are lower-cased, enums get their canonical spelling, JSON keys are read case-insensitively.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mdcnb.normalize.common import (
    LOWER_ID,
    RecordError,
    arm_type,
    canonical,
    environment,
    field,
    first_field,
    fold,
    last_segment,
    lower,
    require,
    split_provider_suffix,
    string_list,
    subscription_of,
    text,
    to_bool,
    to_int,
    to_number,
)
from mdcnb.normalize.inventory import Rows

STATUSES = ("Healthy", "Unhealthy", "NotApplicable")
SEVERITIES = ("Low", "Medium", "High", "Critical")
IMPACTS = ("Low", "Moderate", "High")
COMPLIANCE_STATES = ("Passed", "Failed", "Skipped", "Unsupported")
ASSESSMENT_TYPES = ("BuiltIn", "CustomPolicy", "CustomerManaged", "VerifiedPartner", "BuiltInPolicy",
                    "DynamicBuiltIn", "Custom", "Unknown")


# ---------------------------------------------------------------- assessments

def metadata_entry(record: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """An `assessmentMetadata` item -> (assessment key, its properties)."""
    key = lower(first_field(record, "name")) or lower(last_segment(field(record, "id")))
    require(key, "name")
    props = field(record, "properties")
    if not isinstance(props, dict):
        raise RecordError("missing properties")
    return key, props


class AssessmentNormaliser:
    """A normaliser for `assessments` items / ARG rows, joining the metadata of each assessment key.

    Metadata comes from the record itself (`$expand=metadata`, continuous export) or else from `metadata`
    (assessment key -> metadata properties). Its columns are computed once per key, from the first record of that
    key that reaches them: one recommendation has one metadata, and a big tenant has a million assessments of a
    hundred recommendations. The columnar reader (`mdcnb.normalize.assessment_columns`) shares this lookup, so
    both paths join the same metadata.
    """

    def __init__(self, metadata: Mapping[str, dict[str, Any]],
                 decided: Mapping[str | None, dict[str, Any]] | None = None) -> None:
        self._metadata = metadata
        self._by_key: dict[str | None, dict[str, Any]] = dict(decided or {})  # as records before these decided
        self._strings: dict[str, str] = {}

    def share(self, value: str | None) -> str | None:
        """One object per distinct value (ids, types, dates repeat across many assessments): saves memory."""
        return self._strings.setdefault(value, value) if value else None

    @property
    def decided(self) -> dict[str | None, dict[str, Any]]:
        """The metadata columns of each key met so far, as the first record of that key decided them."""
        return self._by_key

    def metadata_columns(self, key: str | None, inline: Any) -> dict[str, Any]:
        """The metadata columns of an assessment key; `inline` (the record's own metadata) decides for a new key."""
        columns = self._by_key.get(key)
        if columns is None:
            meta = fold(inline) if isinstance(inline, dict) else self._metadata.get(key, {})
            columns = self._by_key[key] = _metadata_columns(meta)
        return columns

    def __call__(self, record: dict[str, Any]) -> Rows:
        assessment_id = record.get(LOWER_ID) or require(lower(record.get("id")), "id")
        key = self.share(lower(record.get("name")) or lower(last_segment(assessment_id)))
        props = record.get("properties") or {}
        meta_columns = self.metadata_columns(key, props.get("metadata"))
        return {"assessments": [_assessment_row(record, assessment_id, key, props, meta_columns, self.share)]}


def _metadata_columns(meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata_display_name": text(field(meta, "displayName")),
        "severity": canonical(field(meta, "severity"), SEVERITIES),
        "categories": string_list(field(meta, "categories")),
        "threats": [t[:1].lower() + t[1:] for t in string_list(field(meta, "threats"))],
        "user_impact": canonical(field(meta, "userImpact"), IMPACTS),
        "implementation_effort": canonical(field(meta, "implementationEffort"), IMPACTS),
        "preview": to_bool(field(meta, "preview")) or False,
        "assessment_type": canonical(field(meta, "assessmentType"), ASSESSMENT_TYPES),
        "policy_definition_id": lower(field(meta, "policyDefinitionId")),
        "remediation": text(field(meta, "remediationDescription")),
    }


def _assessment_row(record: dict[str, Any], assessment_id: str, key: str, props: dict[str, Any],
                    meta_columns: dict[str, Any], share: Callable[[str | None], str | None]) -> dict[str, Any]:
    status_obj = props.get("status") or {}
    status = status_code(status_obj.get("code"))
    resource = resource_columns(assessment_id, props.get("resourcedetails") or {}, props)
    return {
        **meta_columns,
        "assessment_id": assessment_id,
        "assessment_key": key,
        "subscription_id": share(lower(record.get("subscriptionid")) or subscription_of(assessment_id)),
        **{name: share(value) for name, value in resource.items()},
        "display_name": share(text(props.get("displayname"))) or meta_columns["metadata_display_name"],
        "status": status,
        "cause": share(text(status_obj.get("cause"))),
        "status_description": share(text(status_obj.get("description"))),
        "first_evaluation": share(text(status_obj.get("firstevaluationdate"))),
        "status_change": share(text(status_obj.get("statuschangedate"))),
        "portal_link": share(portal_link(props.get("links"))),
        **risk_columns(props.get("risk")),
    }


def status_code(code: Any) -> str:
    """`properties.status.code` canonical (`Healthy`, `Unhealthy`, `NotApplicable`); a RecordError otherwise."""
    status = canonical(require(code, "properties.status.code"), STATUSES)
    if status not in STATUSES:
        raise RecordError(f"unknown status.code {status!r}")
    return status


def portal_link(links: Any) -> str | None:
    """`properties.links`: `azurePortal`, else `azurePortalUri`."""
    return text(first_field(links, "azurePortal", "azurePortalUri"))


def resource_columns(assessment_id: str, details: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    """The assessed resource's columns from a (folded) `resourceDetails`; `props` is read only for
    `additionalData.ResourceType`. A RecordError when no resource id can be chosen."""
    source = environment(details.get("source"))
    resource_id = _assessed_resource_id(assessment_id, details, source)
    native_id = text(first_field(details, "NativeResourceId", "nativeCloudUniqueIdentifier", "AwsResourceId",
                                 "GcpResourceId"))
    return {
        "environment": source,
        "resource_id": resource_id,
        "resource_name": text(details.get("resourcename")) or last_segment(native_id or resource_id),
        "resource_type": _resource_type(details, props, resource_id),
        "native_resource_id": native_id,
        "connector_id": _connector_of(details.get("id")),
        "hierarchy_id": text(details.get("hierarchyid")),
        "region": text(details.get("region")),
    }


def _resource_type(details: dict[str, Any], props: dict[str, Any], resource_id: str) -> str | None:
    """The assessed resource's full type: `resourceDetails.ResourceType` under its `ResourceProvider` namespace
    (`Microsoft.Compute` + `virtualMachines` -> `Microsoft.Compute/virtualMachines`, `ec2` + `instance` ->
    `ec2/instance`), else `additionalData.ResourceType`, else the ARM type of the resource id."""
    reported = text(details.get("resourcetype"))
    provider = text(details.get("resourceprovider"))
    if reported and provider and "/" not in reported:
        return f"{provider}/{reported}"
    return reported or text(field(props, "additionalData", "ResourceType")) or arm_type(resource_id)


_NO_RISK: dict[str, Any] = {"risk_level": None, "risk_factors": []}


def risk_columns(risk: Any) -> dict[str, Any]:
    """`properties.risk` (assessments API 2025-05-04, Resource Graph): level and risk factors; none without it."""
    if not isinstance(risk, dict):
        return _NO_RISK
    level = canonical(risk.get("level"), SEVERITIES)
    return {"risk_level": level if level in SEVERITIES else None,
            "risk_factors": string_list(risk.get("riskfactors"))}


def _assessed_resource_id(assessment_id: str, details: Any, source: str | None) -> str:
    """The assessed resource's id as Microsoft's multicloud-aware ARG queries choose it (lower case).

    Azure: `resourceDetails.Id`; AWS/GCP through a native connector (ConnectorId set): `resourceDetails.Id`;
    AWS/GCP through a classic connector: `AzureResourceId` (or `AwsResourceId`/`GcpResourceId`); otherwise
    the assessment id without its `/providers/Microsoft.Security/assessments/<key>` suffix.
    """
    chosen = None
    if source == "Azure" or (source in ("AWS", "GCP") and field(details, "ConnectorId")):
        chosen = field(details, "Id")
    elif source == "AWS":
        chosen = first_field(details, "AzureResourceId", "AwsResourceId")
    elif source == "GCP":
        chosen = first_field(details, "AzureResourceId", "GcpResourceId")
    if not text(chosen):
        split = split_provider_suffix(assessment_id, "Microsoft.Security/assessments")
        chosen = split[0] if split else None
    return require(lower(chosen), "resource id (resourceDetails.Id or an assessment id under a resource)")


def _connector_of(resource_id: Any) -> str | None:
    """`.../securityconnectors/<name>` prefix of a multicloud resource id, lower case."""
    value = lower(resource_id)
    marker = "/providers/microsoft.security/securityconnectors/"
    if not value or marker not in value:
        return None
    head, tail = value.split(marker, 1)
    return f"{head}{marker}{tail.split('/', 1)[0]}"


# ---------------------------------------------------------------- secure score

def _score_scope(record_id: str) -> tuple[str, list[str]]:
    split = split_provider_suffix(record_id, "Microsoft.Security/secureScores")
    if split is None or not split[1]:
        raise RecordError(f"not a secure score id: {record_id}")
    return split[0].lower(), split[1]


def _scope_type(scope_id: str) -> str:
    return "connector" if "/providers/microsoft.security/securityconnectors/" in scope_id else "subscription"


def secure_score(record: dict[str, Any]) -> Rows:
    """A `secureScores` item / ARG row -> one `secure_scores` row."""
    score_id = require(text(field(record, "id")), "id")
    scope_id, rest = _score_scope(score_id)
    props = field(record, "properties", default={})
    current = to_number(field(props, "score", "current"))
    maximum = to_number(field(props, "score", "max"))
    if current is None or maximum is None:
        raise RecordError("missing properties.score.current or properties.score.max")
    scope_type = _scope_type(scope_id)
    env = environment(field(props, "environment")) or ("Azure" if scope_type == "subscription" else None)
    return {"secure_scores": [{
        "score_id": score_id.lower(),
        "scope_id": scope_id,
        "scope_type": scope_type,
        "subscription_id": subscription_of(scope_id),
        "environment": env,
        "score_name": rest[0],
        "display_name": text(field(props, "displayName")),
        "current": current,
        "max": maximum,
        "percentage": to_number(field(props, "score", "percentage")),
        "weight": to_int(field(props, "weight")),
    }]}


def assessment_keys(definition: Any) -> list[str]:
    """The recommendation keys a (folded) score control definition's properties list, lower case, in order."""
    keys = [lower(last_segment(field(d, "id"))) for d in field(definition, "assessmentDefinitions", default=[])
            if isinstance(d, dict)]
    return [k for k in keys if k]


def score_control(record: dict[str, Any], keys: list[str] | None = None) -> Rows:
    """A `secureScoreControls` item (with `$expand=definition`) / ARG row -> one `score_controls` row. `keys`: the
    definition's recommendation keys when already read (`assessment_keys`: a reader of many records sharing a
    definition reads them once)."""
    control_id = require(text(field(record, "id")), "id")
    scope_id, rest = _score_scope(control_id)
    if len(rest) < 3:
        raise RecordError(f"not a secure score control id: {control_id}")
    props = field(record, "properties", default={})
    definition = field(props, "definition", "properties", default={})
    current = to_number(field(props, "score", "current"))
    maximum = to_number(field(props, "score", "max"))
    if current is None or maximum is None:
        raise RecordError("missing properties.score.current or properties.score.max")
    keys = assessment_keys(definition) if keys is None else keys
    return {"score_controls": [{
        "scope_id": scope_id,
        "subscription_id": subscription_of(scope_id),
        "score_name": rest[0],
        "control_id": rest[-1].lower(),
        "control_name": text(field(props, "displayName")) or text(field(definition, "displayName")),
        "current": current,
        "max": maximum,
        "percentage": to_number(field(props, "score", "percentage")),
        "healthy": to_int(field(props, "healthyResourceCount")),
        "unhealthy": to_int(field(props, "unhealthyResourceCount")),
        "not_applicable": to_int(field(props, "notApplicableResourceCount")),
        "weight": to_int(field(props, "weight")),
        "definition_max": to_number(field(definition, "maxScore")),
        "source_type": text(field(definition, "source", "sourceType")),
        "assessment_keys": keys,
    }]}


# ---------------------------------------------------------------- regulatory compliance

def _compliance_parts(record: dict[str, Any], depth: int) -> tuple[str, list[str], dict[str, Any]]:
    """(scope id, [standard, control?, assessment?], properties) of a compliance record at `depth` levels."""
    scope_id, names = compliance_id(field(record, "id"), depth)
    return scope_id, names, field(record, "properties", default={})


COMPLIANCE_PROVIDER = "Microsoft.Security/regulatoryComplianceStandards"  # the provider part of a compliance id


def compliance_id(value: Any, depth: int) -> tuple[str, list[str]]:
    """(scope id, [standard, control?, assessment?]) of a compliance record's id at `depth` levels; a RecordError
    for an id of another shape."""
    record_id = require(text(value), "id")
    split = split_provider_suffix(record_id, COMPLIANCE_PROVIDER)
    if split is None:
        raise RecordError(f"not a regulatory compliance id: {record_id}")
    scope_id, rest = split[0].lower(), split[1]
    names = rest[0::2]  # standard / regulatoryComplianceControls / control / ... / assessment
    if len(rest) != 2 * depth - 1:
        raise RecordError(f"unexpected regulatory compliance id shape: {record_id}")
    return scope_id, names


def _state(props: dict[str, Any]) -> str | None:
    return canonical(field(props, "state"), COMPLIANCE_STATES)


def compliance_standard(record: dict[str, Any]) -> Rows:
    scope_id, (standard,), props = _compliance_parts(record, 1)
    return {"compliance_standards": [{
        "scope_id": scope_id, "subscription_id": subscription_of(scope_id), "standard": standard,
        "state": _state(props),
        "passed_controls": to_int(field(props, "passedControls")),
        "failed_controls": to_int(field(props, "failedControls")),
        "skipped_controls": to_int(field(props, "skippedControls")),
        "unsupported_controls": to_int(field(props, "unsupportedControls")),
    }]}


def compliance_control(record: dict[str, Any]) -> Rows:
    scope_id, (standard, control), props = _compliance_parts(record, 2)
    return {"compliance_controls": [{
        "scope_id": scope_id, "subscription_id": subscription_of(scope_id), "standard": standard,
        "control": control, "description": text(field(props, "description")), "state": _state(props),
        "passed_assessments": to_int(field(props, "passedAssessments")),
        "failed_assessments": to_int(field(props, "failedAssessments")),
        "skipped_assessments": to_int(field(props, "skippedAssessments")),
        "unsupported_assessments": to_int(field(props, "unsupportedAssessments")),
    }]}


def compliance_assessment(record: dict[str, Any]) -> Rows:
    scope_id, (standard, control, key), props = _compliance_parts(record, 3)
    return {"compliance_assessments": [{
        "scope_id": scope_id, "subscription_id": subscription_of(scope_id), "standard": standard,
        "control": control, "assessment_key": key.lower(), "description": text(field(props, "description")),
        "state": _state(props), "assessment_type": text(field(props, "assessmentType")),
        "passed_resources": to_int(field(props, "passedResources")),
        "failed_resources": to_int(field(props, "failedResources")),
        "skipped_resources": to_int(field(props, "skippedResources")),
    }]}
