"""Raw record shapes: each builder returns one record exactly as ARM (REST list item) or Resource Graph returns it.

`shape="rest"`: `{id, name, type, properties}` with ARM-cased types and camelCase `resourceDetails.source/id`.
`shape="arg"`: a Resource Graph row: lower-case `type`, `tenantId`, `subscriptionId`, `resourceGroup`, ... and
PascalCase `resourceDetails.Source/Id` (see shared reference azure-api.md sections 4 and 7).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from mdcnb.sample.catalog import Control, Recommendation, recommendations
from mdcnb.sample.context import CloudResource, Connector, SampleContext, Subscription, iso
from mdcnb.sample.estate import (
    ARM_TYPES,
    DEPRECATED,
    ENTITY_TYPES,
    AzureResource,
    PlanSetting,
    Status,
    trial_remaining,
)
from mdcnb.sample.scores import ComplianceResult, ControlScore, ScopeScore

PORTAL = "portal.azure.com/#blade/Microsoft_Azure_Security/RecommendationsBlade/assessmentKey/"


def envelope(ctx: SampleContext, shape: str, rid: str, name: str, rtype: str, properties: dict[str, Any], *,
             subscription_id: str = "", resource_group: str = "", location: str = "", kind: str = "",
             sku: dict[str, Any] | None = None, tags: dict[str, str] | None = None) -> dict[str, Any]:
    if shape == "rest":
        return {"id": rid, "name": name, "type": rtype, "properties": properties}
    return {"id": rid, "name": name, "type": rtype.lower(), "tenantId": ctx.tenant_id, "kind": kind,
            "location": location, "resourceGroup": resource_group.lower(), "subscriptionId": subscription_id,
            "managedBy": "", "sku": sku, "plan": None, "properties": properties, "tags": tags,
            "identity": None, "zones": None, "extendedLocation": None}


def subscription_record(ctx: SampleContext, sub: Subscription) -> dict[str, Any]:
    """ARG `resourcecontainers` row, with the management-group chain (closest group first)."""
    groups = {g.name: g for g in ctx.management_groups}
    chain, name = [], sub.management_group
    while name:
        chain.append({"displayName": groups[name].display_name, "name": name})
        name = groups[name].parent
    return {"id": sub.scope_id, "name": sub.display_name, "type": "microsoft.resources/subscriptions",
            "tenantId": ctx.tenant_id, "kind": "", "location": "", "resourceGroup": "",
            "subscriptionId": sub.subscription_id, "managedBy": "", "sku": None, "plan": None,
            "properties": {"subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01",
                                                    "quotaId": "EnterpriseAgreement_2014-09-01",
                                                    "spendingLimit": "Off"},
                           "managementGroupAncestorsChain": chain, "state": "Enabled"},
            "tags": {"environment": "production" if sub.production else "non-production"},
            "identity": None, "zones": None, "extendedLocation": None}


# --- connectors ---------------------------------------------------------------------------------------------

def _aws_offering(c: Connector, offering: str) -> dict[str, Any]:
    arn = c.role_arn
    if offering == "CspmMonitorAws":
        return {"offeringType": offering, "nativeCloudConnection": {"cloudRoleArn": c.cspm_role_arn}}
    if offering == "DefenderCspmAws":
        return {"offeringType": offering,
                "vmScanners": {"enabled": True, "configuration": {
                    "cloudRoleArn": arn("DefenderForCloud-AgentlessScanner"), "scanningMode": "Default",
                    "exclusionTags": {}}},
                "dataSensitivityDiscovery": {"enabled": True, "cloudRoleArn": arn("SensitiveDataDiscovery")},
                "databasesDspm": {"enabled": True, "cloudRoleArn": arn("DefenderForCloud-DataSecurityPostureDB")},
                "ciem": {"ciemDiscovery": {"cloudRoleArn": arn("DefenderForCloud-Ciem")},
                         "ciemOidc": {"cloudRoleArn": arn("DefenderForCloud-OidcCiem"),
                                      "azureActiveDirectoryAppName": "mciem-aws-oidc-connector"}},
                "mdcContainersImageAssessment": {"enabled": True,
                                                 "cloudRoleArn": arn("MDCContainersImageAssessmentRole")},
                "mdcContainersAgentlessDiscoveryK8s": {
                    "enabled": True, "cloudRoleArn": arn("MDCContainersAgentlessDiscoveryK8sRole")}}
    if offering == "DefenderForServersAws":
        return {"offeringType": offering,
                "defenderForServers": {"cloudRoleArn": arn("DefenderForCloud-DefenderForServers")},
                "arcAutoProvisioning": {"enabled": True, "cloudRoleArn": arn("DefenderForCloud-ArcAutoProvisioning"),
                                        "configuration": {"proxy": "", "privateLinkScope": ""}},
                "vaAutoProvisioning": {"enabled": True, "configuration": {"type": "TVM"}},
                "mdeAutoProvisioning": {"enabled": True, "configuration": {}},
                "subPlan": {"type": c.servers_sub_plan},
                "vmScanners": {"enabled": c.servers_sub_plan == "P2", "configuration": {
                    "cloudRoleArn": arn("DefenderForCloud-AgentlessScanner"), "scanningMode": "Default",
                    "exclusionTags": {}}}}
    if offering == "DefenderForContainersAws":
        return {"offeringType": offering,
                "kubernetesService": {"cloudRoleArn": arn("DefenderForCloud-Containers-K8s")},
                "kubernetesScubaReader": {"cloudRoleArn": arn("DefenderForCloud-DataCollection")},
                "cloudWatchToKinesis": {"cloudRoleArn": arn("DefenderForCloud-Containers-K8s-cloudwatch-to-kinesis")},
                "kinesisToS3": {"cloudRoleArn": arn("DefenderForCloud-Containers-K8s-kinesis-to-s3")},
                "mdcContainersImageAssessment": {"enabled": True,
                                                 "cloudRoleArn": arn("MDCContainersImageAssessmentRole")},
                "mdcContainersAgentlessDiscoveryK8s": {
                    "enabled": True, "cloudRoleArn": arn("MDCContainersAgentlessDiscoveryK8sRole")},
                "enableContainerVulnerabilityAssessment": True, "autoProvisioning": True,
                "kubeAuditRetentionTime": 30, "scubaExternalId": c.guid}
    if offering == "DefenderForDatabasesAws":
        return {"offeringType": offering,
                "arcAutoProvisioning": {"enabled": True, "cloudRoleArn": arn("DefenderForCloud-ArcAutoProvisioning")},
                "rds": {"enabled": True, "cloudRoleArn": arn("DefenderForCloud-DefenderForDatabases")},
                "databasesDspm": {"enabled": True, "cloudRoleArn": arn("DefenderForCloud-DataSecurityPostureDB")}}
    raise ValueError(f"no shape for AWS offering {offering}")


def _gcp_offering(c: Connector, offering: str) -> dict[str, Any]:
    def sa(provider: str, account: str) -> dict[str, str]:
        return {"workloadIdentityProviderId": provider,
                "serviceAccountEmailAddress": f"{account}@{c.account_name}.iam.gserviceaccount.com"}
    if offering == "CspmMonitorGcp":
        return {"offeringType": offering, "nativeCloudConnection": sa("cspm", "microsoft-defender-cspm")}
    if offering == "DefenderCspmGcp":
        return {"offeringType": offering,
                "ciemDiscovery": sa("ciem-discovery", "microsoft-defender-ciem"),
                "vmScanners": {"enabled": True, "configuration": {"scanningMode": "Default", "exclusionTags": {}}},
                "dataSensitivityDiscovery": {"enabled": False, **sa("data-security-posture-storage",
                                                                     "microsoft-defender-data-scanner")}}
    if offering == "DefenderForServersGcp":
        return {"offeringType": offering,
                "defenderForServers": sa("defender-for-servers", "microsoft-defender-for-servers"),
                "arcAutoProvisioning": {"enabled": True},
                "vaAutoProvisioning": {"enabled": True, "configuration": {"type": "TVM"}},
                "mdeAutoProvisioning": {"enabled": True, "configuration": {}}, "subPlan": {"type": "P1"}}
    raise ValueError(f"no shape for GCP offering {offering}")


def connector_record(ctx: SampleContext, c: Connector) -> dict[str, Any]:
    """A native securityConnector (REST or ARG `resources` row) or a classic `Microsoft.Security/connectors`."""
    if c.kind == "classic":
        return {"id": c.arm_id, "name": c.name, "type": "Microsoft.Security/connectors", "properties": {
            "hybridComputeSettings": {"hybridComputeProvisioningState": "Valid", "autoProvision": "On",
                                      "resourceGroupName": c.resource_group, "region": c.location},
            "authenticationDetails": {"authenticationProvisioningState": "Valid",
                                      "grantedPermissions": ["AWSSecurityHubReadOnlyAccess",
                                                             "AmazonSSMAutomationRole"],
                                      "authenticationType": "awsAssumeRole",
                                      "awsAssumeRoleArn": c.cspm_role_arn,
                                      "awsExternalId": ctx.tenant_id}}}
    if c.environment == "AWS":
        data: dict[str, Any] = {"environmentType": "AwsAccount"}
        if c.membership == "Organization":
            data["organizationalData"] = {"organizationMembershipType": "Organization",
                                          "stacksetName": c.stackset_name, "excludedAccountIds": list(c.excluded_ids)}
        elif c.membership == "Member":
            data["organizationalData"] = {"organizationMembershipType": "Member",
                                          "parentHierarchyId": c.parent_hierarchy_id}
        data.update({"regions": list(c.regions), "accountName": c.account_name, "scanInterval": c.scan_interval_hours})
        offerings = [_aws_offering(c, o) for o in c.offerings]
    else:
        data = {"environmentType": "GcpProject",
                "projectDetails": {"projectNumber": c.hierarchy_id, "projectId": c.account_name,
                                   "workloadIdentityPoolId": c.guid.replace("-", "")[:32],
                                   "projectName": c.account_name},
                "scanInterval": c.scan_interval_hours}
        offerings = [_gcp_offering(c, o) for o in c.offerings]
    properties = {"hierarchyIdentifier": c.hierarchy_id, "environmentName": c.environment,
                  "environmentData": data, "offerings": offerings}
    record = envelope(ctx, c.shape, c.arm_id, c.name, "Microsoft.Security/securityconnectors", properties,
                      subscription_id=c.subscription_id, resource_group=c.resource_group, location=c.location,
                      tags={})
    if c.shape == "rest":
        record.update({"location": c.location, "tags": {}})
    record["systemData"] = {"createdBy": "8f0c3a7e-5b2d-4c1e-9a6f-3d2e1b0c4a5f", "createdByType": "Application",
                            "createdAt": c.created_at, "lastModifiedBy": "8f0c3a7e-5b2d-4c1e-9a6f-3d2e1b0c4a5f",
                            "lastModifiedByType": "Application", "lastModifiedAt": c.created_at}
    return record


# --- plans --------------------------------------------------------------------------------------------------

def pricing_record(ctx: SampleContext, sub: Subscription, setting: PlanSetting, moment: datetime,
                   coverage: str | None = None) -> dict[str, Any]:
    standard = setting.standard_at(moment)
    props: dict[str, Any] = {"pricingTier": "Standard" if standard else "Free"}
    if setting.sub_plan and standard:
        props["subPlan"] = setting.sub_plan
    props["freeTrialRemainingTime"] = trial_remaining(setting, moment)
    if standard:
        enabled = setting.enabled
        props["enablementTime"] = f"{enabled:%Y-%m-%dT%H:%M:%S}.{enabled.microsecond:06d}0Z"  # ARM's 7 digits
    props["enforce"] = setting.enforce
    props["resourcesCoverageStatus"] = coverage or ("FullyCovered" if standard else "NotCovered")
    if setting.name in ("Dns", "KubernetesService", "ContainerRegistry"):
        props["deprecated"] = True
        props["replacedBy"] = DEPRECATED[setting.name]
    if standard and setting.extensions:
        props["extensions"] = [dict(e) for e in setting.extensions]
    rid = f"{sub.scope_id}/providers/Microsoft.Security/pricings/{setting.name}"
    return envelope(ctx, sub.shape, rid, setting.name, "Microsoft.Security/pricings", props,
                    subscription_id=sub.subscription_id)


def resource_pricing_record(ctx: SampleContext, sub: Subscription, resource_id: str, tier: str) -> dict[str, Any]:
    """A resource-level VirtualMachines pricing that overrides the subscription (`Free`, or `P1`)."""
    props: dict[str, Any] = {"pricingTier": "Free" if tier == "Free" else "Standard"}
    if tier != "Free":
        props["subPlan"] = tier
    props.update({"freeTrialRemainingTime": "PT0S", "inherited": "False", "inheritedFrom": None})
    rid = f"{resource_id}/providers/Microsoft.Security/pricings/VirtualMachines"
    return envelope(ctx, sub.shape, rid, "VirtualMachines", "Microsoft.Security/pricings", props,
                    subscription_id=sub.subscription_id, resource_group=resource_id.split("/")[4])


# --- resources ----------------------------------------------------------------------------------------------

def resource_record(ctx: SampleContext, r: AzureResource) -> dict[str, Any]:
    """ARG `resources` row."""
    return envelope(ctx, "arg", r.resource_id, r.name, ARM_TYPES[r.kind], r.properties,
                    subscription_id=r.subscription_id, resource_group=r.resource_group, location=r.location,
                    kind=r.arm_kind, sku=r.sku, tags=dict(r.tags))


# --- assessments --------------------------------------------------------------------------------------------

def metadata_record(rec: Recommendation) -> dict[str, Any]:
    props: dict[str, Any] = {
        "displayName": rec.title, "policyDefinitionId": rec.policy_definition_id,
        "description": f"{rec.title}.", "remediationDescription": rec.remediation,
        "categories": list(rec.categories), "severity": rec.severity, "userImpact": rec.user_impact,
        "implementationEffort": rec.implementation_effort, "threats": list(rec.threats),
        "publishDates": {"GA": "06/01/2024", "public": "06/01/2024"}, "assessmentType": "BuiltIn"}
    if rec.preview:
        props["preview"] = True
    return {"id": f"/providers/Microsoft.Security/assessmentMetadata/{rec.key}", "name": rec.key,
            "type": "Microsoft.Security/assessmentMetadata", "properties": props}


@cache
def _arg_metadata(rec: Recommendation) -> dict[str, Any]:
    """Metadata as ARG embeds it in assessment rows (threats capitalised, as exports show them)."""
    meta: dict[str, Any] = {"displayName": rec.title, "severity": rec.severity, "categories": list(rec.categories),
                            "threats": [t[0].upper() + t[1:] for t in rec.threats], "userImpact": rec.user_impact,
                            "implementationEffort": rec.implementation_effort, "assessmentType": "BuiltIn",
                            "policyDefinitionId": rec.policy_definition_id}
    if rec.preview:
        meta["preview"] = True
    return meta


def assessment_record(ctx: SampleContext, shape: str, sub_id: str, resource_group: str, resource_id: str,
                      details: dict[str, Any], rec: Recommendation, st: Status, first: datetime,
                      changed: datetime, risk: dict[str, Any] | None = None) -> dict[str, Any]:
    """An assessment: `details` are the resourceDetails keys in PascalCase; REST shape camel-cases them. `risk` is
    `properties.risk` (assessments API 2025-05-04 / Resource Graph), given under Defender CSPM."""
    if shape == "rest":
        details = {k[0].lower() + k[1:]: v for k, v in details.items()}
    status: dict[str, Any] = {"code": st.code}
    if st.cause:
        status["cause"] = st.cause
    if st.description:
        status["description"] = st.description
    status["firstEvaluationDate"] = iso(first)
    status["statusChangeDate"] = iso(changed)
    props: dict[str, Any] = {"resourceDetails": details, "displayName": rec.title, "status": status}
    if risk is not None:
        props["risk"] = risk
    if shape == "rest":
        props["links"] = {"azurePortalUri": "https://" + PORTAL + rec.key}
    else:
        props["links"] = {"azurePortal": PORTAL + rec.key}
        props["metadata"] = _arg_metadata(rec)  # shared and never mutated: records are serialised as they come
        props["statusPerInitiative"] = [{"policyInitiativeName": "ASC Default",
                                         "assessmentStatus": {"code": st.code, **({"cause": st.cause}
                                                                                 if st.cause else {})}}]
    rid = f"{resource_id}/providers/Microsoft.Security/assessments/{rec.key}"
    return envelope(ctx, shape, rid, rec.key, "Microsoft.Security/assessments", props, subscription_id=sub_id,
                    resource_group=resource_group)


def azure_details(resource_id: str) -> dict[str, Any]:
    return {"Source": "Azure", "Id": resource_id}


def multicloud_details(connector: Connector, resource: CloudResource, entity: str) -> dict[str, Any]:
    service, rtype = ENTITY_TYPES[resource.kind]
    return {"Source": "Aws" if resource.cloud == "AWS" else "Gcp", "Id": entity, "ConnectorId": connector.guid,
            "NativeResourceId": resource.native_id, "Region": resource.region, "HierarchyId": resource.hierarchy_id,
            "ResourceName": resource.name, "ResourceType": rtype, "ResourceProvider": service}


def classic_details(arc_id: str, resource: CloudResource) -> dict[str, Any]:
    """Classic-connector findings: the legacy AzureResourceId / AwsResourceId pair, no connector id."""
    return {"Source": "Aws", "AzureResourceId": arc_id, "AwsResourceId": resource.native_id}


# --- secure score -------------------------------------------------------------------------------------------

def secure_score_record(ctx: SampleContext, shape: str, scope_id: str, sub_id: str, resource_group: str,
                        environment: str, score: ScopeScore) -> dict[str, Any]:
    props = {"displayName": "ASC score", "score": {"max": score.max, "current": score.current,
                                                   "percentage": score.percentage},
             "weight": score.weight, "environment": environment}
    return envelope(ctx, shape, f"{scope_id}/providers/Microsoft.Security/secureScores/ascScore", "ascScore",
                    "Microsoft.Security/secureScores", props, subscription_id=sub_id, resource_group=resource_group)


@cache
def _definition(control: Control) -> dict[str, Any]:
    keys = [r.key for r in recommendations() if r.control == control.name]
    return {"id": f"/providers/Microsoft.Security/secureScoreControlDefinitions/{control.control_id}",
            "name": control.control_id, "type": "Microsoft.Security/secureScoreControlDefinitions",
            "properties": {"source": {"sourceType": "BuiltIn"}, "displayName": control.name,
                           "maxScore": control.max_score,
                           "assessmentDefinitions": [{"id": f"/providers/Microsoft.Security/assessmentMetadata/{k}"}
                                                     for k in keys]}}


def score_control_record(ctx: SampleContext, shape: str, scope_id: str, sub_id: str, resource_group: str,
                         cs: ControlScore) -> dict[str, Any]:
    props = {"displayName": cs.control.name, "healthyResourceCount": cs.healthy,
             "unhealthyResourceCount": cs.unhealthy, "notApplicableResourceCount": cs.not_applicable,
             "score": {"max": cs.max, "current": cs.current, "percentage": cs.percentage},
             "definition": _definition(cs.control), "weight": cs.weight}
    rid = f"{scope_id}/providers/Microsoft.Security/secureScores/ascScore/secureScoreControls/{cs.control.control_id}"
    return envelope(ctx, shape, rid, cs.control.control_id, "Microsoft.Security/secureScores/secureScoreControls",
                    props, subscription_id=sub_id, resource_group=resource_group)


# --- regulatory compliance ----------------------------------------------------------------------------------

def compliance_records(ctx: SampleContext, sub: Subscription, result: ComplianceResult
                       ) -> dict[str, list[dict[str, Any]]]:
    """Standard, control and assessment records of one standard in one subscription.

    REST-shaped subscriptions write control states in lower case, as the published example does.
    """
    std = result.standard
    base = f"{sub.scope_id}/providers/Microsoft.Security/regulatoryComplianceStandards/{std.name}"
    arg = sub.shape == "arg"

    def state(s: str) -> str:
        return s if arg else s.lower()

    def wrap(rid: str, name: str, rtype: str, props: dict[str, Any]) -> dict[str, Any]:
        if arg:
            props["scope"] = std.scope
        return envelope(ctx, sub.shape, rid, name, rtype, props, subscription_id=sub.subscription_id)

    out: dict[str, list[dict[str, Any]]] = {"regulatorycompliancestandards": [], "regulatorycompliancecontrols": [],
                                            "regulatorycomplianceassessments": []}
    out["regulatorycompliancestandards"].append(wrap(
        base, std.name, "Microsoft.Security/regulatoryComplianceStandards", {
            "state": result.state, "passedControls": result.count("Passed"),
            "failedControls": result.count("Failed"), "skippedControls": result.count("Skipped"),
            "unsupportedControls": result.count("Unsupported")}))
    titles = {r.key: r.title for r in recommendations()}
    for control in result.controls:
        cid = f"{base}/regulatoryComplianceControls/{control.name}"
        out["regulatorycompliancecontrols"].append(wrap(
            cid, control.name, "Microsoft.Security/regulatoryComplianceStandards/regulatoryComplianceControls", {
                "description": control.description, "state": state(control.state),
                "passedAssessments": control.count("Passed"), "failedAssessments": control.count("Failed"),
                "skippedAssessments": control.count("Skipped")}))
        for a in control.assessments:
            out["regulatorycomplianceassessments"].append(wrap(
                f"{cid}/regulatoryComplianceAssessments/{a.key}", a.key,
                "Microsoft.Security/regulatoryComplianceStandards/regulatoryComplianceControls/"
                "regulatoryComplianceAssessments", {
                    "description": titles[a.key], "assessmentType": "AssessmentResult",
                    "assessmentDetailsLink": f"https://portal.azure.com/#blade/Microsoft_Azure_Security/"
                                             f"RecommendationsBlade/assessmentKey/{a.key}",
                    "state": a.state, "passedResources": a.passed, "failedResources": a.failed,
                    "skippedResources": a.skipped}))
    return out
