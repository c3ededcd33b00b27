"""Small raw records in Azure's shapes for hand-computed analysis tests."""

from __future__ import annotations

from typing import Any

SECURITY = "providers/Microsoft.Security"


def secure_score(scope: str, current: float, maximum: float, weight: int, **props: Any) -> dict[str, Any]:
    ratio = round(current / maximum, 4) if maximum else 0
    return {"id": f"{scope}/{SECURITY}/secureScores/ascScore", "name": "ascScore",
            "type": "Microsoft.Security/secureScores",
            "properties": {"displayName": "ASC score",
                           "score": {"current": current, "max": maximum, "percentage": ratio},
                           "weight": weight, **props}}


def score_control(scope: str, control: str, *, current: float, maximum: float, healthy: int, unhealthy: int,
                  not_applicable: int = 0, definition_max: float | None = None, keys: tuple[str, ...] = (),
                  name: str | None = None) -> dict[str, Any]:
    return {"id": f"{scope}/{SECURITY}/secureScores/ascScore/secureScoreControls/{control}", "name": control,
            "type": "Microsoft.Security/secureScores/secureScoreControls",
            "properties": {"displayName": name or control, "healthyResourceCount": healthy,
                           "unhealthyResourceCount": unhealthy, "notApplicableResourceCount": not_applicable,
                           "score": {"max": maximum, "current": current,
                                     "percentage": round(current / maximum, 4) if maximum else 0},
                           "weight": healthy + unhealthy,
                           "definition": {"id": f"/{SECURITY}/secureScoreControlDefinitions/{control}",
                                          "name": control, "properties": {
                                              "displayName": name or control,
                                              "maxScore": maximum if definition_max is None else definition_max,
                                              "source": {"sourceType": "BuiltIn"},
                                              "assessmentDefinitions": [
                                                  {"id": f"/{SECURITY}/assessmentMetadata/{k}"} for k in keys]}}}}


def assessment(resource_id: str, key: str, status: str, **details: Any) -> dict[str, Any]:
    source = details.pop("source", "Azure")
    return {"id": f"{resource_id}/{SECURITY}/assessments/{key}", "name": key, "type": "Microsoft.Security/assessments",
            "properties": {"resourceDetails": {"source": source, "id": resource_id, **details},
                           "displayName": f"recommendation {key}", "status": {"code": status}}}


def metadata(key: str, *, preview: bool = False, severity: str = "Medium") -> dict[str, Any]:
    return {"id": f"/{SECURITY}/assessmentMetadata/{key}", "name": key,
            "properties": {"displayName": f"recommendation {key}", "severity": severity, "preview": preview,
                           "assessmentType": "BuiltIn"}}


def compliance_standard(sub: str, standard: str, passed: int, failed: int, skipped: int = 0,
                        unsupported: int = 0, state: str = "Failed") -> dict[str, Any]:
    return {"id": f"/subscriptions/{sub}/{SECURITY}/regulatoryComplianceStandards/{standard}", "name": standard,
            "properties": {"state": state, "passedControls": passed, "failedControls": failed,
                           "skippedControls": skipped, "unsupportedControls": unsupported}}


def compliance_control(sub: str, standard: str, control: str, state: str) -> dict[str, Any]:
    return {"id": f"/subscriptions/{sub}/{SECURITY}/regulatoryComplianceStandards/{standard}"
                  f"/regulatoryComplianceControls/{control}", "name": control,
            "properties": {"description": f"control {control}", "state": state}}


def compliance_assessment(sub: str, standard: str, control: str, key: str, state: str,
                          failed_resources: int = 0) -> dict[str, Any]:
    return {"id": f"/subscriptions/{sub}/{SECURITY}/regulatoryComplianceStandards/{standard}"
                  f"/regulatoryComplianceControls/{control}/regulatoryComplianceAssessments/{key}", "name": key,
            "properties": {"description": f"assessment {key}", "state": state, "failedResources": failed_resources,
                           "assessmentType": "MicrosoftManaged"}}


def subscription_records(scope: str, name: str) -> list[dict[str, Any]]:
    sub = scope.rsplit("/", 1)[1]
    return [{"id": scope, "subscriptionId": sub, "displayName": name, "state": "Enabled",
             "tenantId": "00000000-0000-0000-0000-0000000000aa"}]
