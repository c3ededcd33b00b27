"""A small tenant for the live-path tests, in the raw shapes of Resource Graph rows and ARM list items.

Every record type of the dataset layout is present; row counts are chosen so that, with a small server page size,
each query spans several pages and the forbidden-subscription case removes a known number of rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mdcnb.sources.dataset_write import write_manifest, write_records

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
GROUPS = (("mg-prod", "Production"), ("mg-dev", "Development"))
CONTROLS = (("0e55495e-034f-4abc-8293-767229250176", "Encrypt data in transit", 4),
            ("8fd574ec-43cf-426e-a439-a67cbaf2d564", "Enable encryption at rest", 4))
KEYS = ("21300918-b2e3-0346-785f-c77ff57d243b", "bc303248-3d14-44c2-96a0-55f5c326b5fe",
        "4fb67663-9ab9-475d-b026-8c544cced439")
STATES = ("Healthy", "Unhealthy", "NotApplicable")


def subscription_ids(n: int) -> list[str]:
    return [f"{i:08x}-aaaa-4bbb-8ccc-{i:012x}" for i in range(1, n + 1)]


def build(dataset: Path, subscriptions: int = 6, vms_per_subscription: int = 4) -> dict[str, int]:
    """Write the tenant; returns rows per record type (what a complete pull must bring back)."""
    subs = subscription_ids(subscriptions)
    records: dict[str, list[dict[str, Any]]] = {name: [] for name in (
        "subscriptions", "securityconnectors", "pricings", "assessments", "assessmentmetadata", "securescores",
        "securescorecontrols", "regulatorycompliancestandards", "regulatorycompliancecontrols",
        "regulatorycomplianceassessments", "resources", "governanceassignments", "policyexemptions")}
    for n, sub in enumerate(subs):
        group, group_name = GROUPS[n % 2]
        records["subscriptions"].append(_arg(
            f"/subscriptions/{sub}", f"Subscription {n}", "microsoft.resources/subscriptions", sub,
            {"state": "Enabled", "managementGroupAncestorsChain": [
                {"name": group, "displayName": group_name}, {"name": TENANT, "displayName": "Tenant Root Group"}]}))
        for plan, tier in (("VirtualMachines", "Standard"), ("StorageAccounts", "Free"), ("CloudPosture", "Standard")):
            records["pricings"].append(_arg(
                f"/subscriptions/{sub}/providers/Microsoft.Security/pricings/{plan}", plan,
                "microsoft.security/pricings", sub,
                {"pricingTier": tier, "freeTrialRemainingTime": "PT0S", "enforce": "False"}))
        for v in range(vms_per_subscription):
            vm = f"/subscriptions/{sub}/resourceGroups/rg-{n}/providers/Microsoft.Compute/virtualMachines/vm-{v}"
            records["resources"].append(_arg(vm, f"vm-{v}", "microsoft.compute/virtualmachines", sub, {
                "hardwareProfile": {"vmSize": "Standard_D2s_v3"},
                "extended": {"instanceView": {"powerState": {"code": "PowerState/running"}}}}))
            for k, key in enumerate(KEYS):
                state = STATES[(v + k + n) % 3]
                assessment = f"{vm}/providers/Microsoft.Security/assessments/{key}"
                records["assessments"].append(_arg(
                    assessment, key, "microsoft.security/assessments",
                    sub, {"resourceDetails": {"Source": "Azure", "Id": vm}, "displayName": f"Recommendation {k}",
                          "status": {"code": state}}))
                if state == "Unhealthy":
                    records["governanceassignments"].append(_arg(
                        f"{assessment}/governanceAssignments/{n:04d}{v:04d}-0000-4000-8000-{k:012d}",
                        f"{n:04d}{v:04d}-0000-4000-8000-{k:012d}",
                        "microsoft.security/assessments/governanceassignments", sub,
                        {"owner": f"Owner{v}@Contoso.com", "remediationDueDate": f"2026-1{k}-15T00:00:00Z",
                         "isGracePeriod": v % 2 == 0}))
        records["policyexemptions"].append(_arg(
            f"/subscriptions/{sub}/providers/Microsoft.Authorization/policyExemptions/waiver-{n}", f"waiver-{n}",
            "microsoft.authorization/policyexemptions", sub,
            {"policyAssignmentId": f"/subscriptions/{sub}/providers/Microsoft.Authorization/policyAssignments/asc",
             "exemptionCategory": ("Waiver", "Mitigated")[n % 2], "expiresOn": f"2027-0{1 + n % 9}-01T00:00:00Z"}))
        records["resources"].append(_arg(
            f"/subscriptions/{sub}/resourceGroups/rg-{n}/providers/Microsoft.KeyVault/vaults/kv-{n}", f"kv-{n}",
            "microsoft.keyvault/vaults", sub, {}))
        score = f"/subscriptions/{sub}/providers/Microsoft.Security/secureScores/ascScore"
        records["securescores"].append(_arg(score, "ascScore", "microsoft.security/securescores", sub, {
            "displayName": "ASC score", "score": {"max": 8, "current": 4.0, "percentage": 0.5}, "weight": 5}))
        for control, name, points in CONTROLS:
            records["securescorecontrols"].append(_arg(
                f"{score}/secureScoreControls/{control}", control,
                "microsoft.security/securescores/securescorecontrols", sub,
                {"displayName": name, "healthyResourceCount": 1, "unhealthyResourceCount": 1,
                 "notApplicableResourceCount": 0, "score": {"max": points, "current": points / 2, "percentage": 0.5},
                 "weight": 2}))
        standard = f"/subscriptions/{sub}/providers/Microsoft.Security/regulatoryComplianceStandards/PCI-DSS-4"
        records["regulatorycompliancestandards"].append(_arg(
            standard, "PCI-DSS-4", "microsoft.security/regulatorycompliancestandards", sub,
            {"state": "Failed", "passedControls": 1, "failedControls": 1, "skippedControls": 0,
             "unsupportedControls": 0}))
        for c, state in enumerate(("Passed", "Failed")):
            control = f"{standard}/regulatoryComplianceControls/1.{c}"
            records["regulatorycompliancecontrols"].append(_arg(
                control, f"1.{c}", "microsoft.security/regulatorycompliancestandards/regulatorycompliancecontrols",
                sub, {"description": f"Control 1.{c}", "state": state.lower(), "passedAssessments": 1 - c,
                      "failedAssessments": c, "skippedAssessments": 0}))
            records["regulatorycomplianceassessments"].append(_arg(
                f"{control}/regulatoryComplianceAssessments/{KEYS[c]}", KEYS[c],
                "microsoft.security/regulatorycompliancestandards/regulatorycompliancecontrols/"
                "regulatorycomplianceassessments", sub,
                {"description": f"Recommendation {c}", "state": state, "passedResources": 2, "failedResources": c,
                 "skippedResources": 0, "assessmentType": "AssessmentResult"}))
    aws = f"/subscriptions/{subs[0]}/resourcegroups/security/providers/Microsoft.Security/securityConnectors/aws-org"
    records["securityconnectors"].append(_arg(aws, "aws-org", "microsoft.security/securityconnectors", subs[0], {
        "hierarchyIdentifier": "123456789012", "environmentName": "AWS",
        "environmentData": {"environmentType": "AwsAccount", "scanInterval": 12, "organizationalData": {
            "organizationMembershipType": "Organization", "stacksetName": "mdc-stackset", "excludedAccountIds": []}},
        "offerings": [{"offeringType": "CspmMonitorAws",
                       "nativeCloudConnection": {"cloudRoleArn": "arn:aws:iam::123456789012:role/CspmMonitorAws"}}]}))
    records["securityconnectors"].append({  # a classic connector, as ARM lists it (not in Resource Graph)
        "id": f"/subscriptions/{subs[1]}/providers/Microsoft.Security/connectors/aws-classic",
        "name": "aws-classic", "type": "Microsoft.Security/connectors",
        "properties": {"hybridComputeSettings": {"autoProvision": "Off"}, "authenticationDetails": {
            "authenticationType": "awsAssumeRole", "awsAssumeRoleArn": "arn:aws:iam::210987654321:role/mdc-classic",
            "awsExternalId": "20ff7fc3-e762-44dd-bd96-b71116dcdc23"}}})
    for k, key in enumerate(KEYS):
        records["assessmentmetadata"].append({
            "id": f"/providers/Microsoft.Security/assessmentMetadata/{key}", "name": key,
            "type": "Microsoft.Security/assessmentMetadata",
            "properties": {"displayName": f"Recommendation {k}", "severity": ("Low", "Medium", "High")[k],
                           "categories": ["Compute"], "threats": ["dataExfiltration"], "assessmentType": "BuiltIn",
                           "userImpact": "Low", "implementationEffort": "Low", "preview": False}})
    for group, _ in GROUPS:  # exemptions at management-group scope: no subscription, only at group or tenant scope
        exemption = _arg(f"/providers/Microsoft.Management/managementGroups/{group}/providers/"
                         f"Microsoft.Authorization/policyExemptions/mg-waiver", "mg-waiver",
                         "microsoft.authorization/policyexemptions", "",
                         {"policyAssignmentId": f"/providers/Microsoft.Management/managementGroups/{group}/providers/"
                                                "Microsoft.Authorization/policyAssignments/asc",
                          "exemptionCategory": "Waiver"})
        records["policyexemptions"].append({**exemption, "location": ""})
    counts = {name: write_records(dataset, name, rows) for name, rows in records.items()}
    write_manifest(dataset, source="test", scope={"kind": "tenant"}, counts=counts)
    return counts


def _arg(id_: str, name: str, type_: str, sub: str, properties: dict[str, Any]) -> dict[str, Any]:
    """A Resource Graph row (objectArray result format)."""
    parts = id_.split("/")
    group = parts[4] if len(parts) > 4 and parts[3].lower() == "resourcegroups" else ""
    return {"id": id_, "name": name, "type": type_, "tenantId": TENANT, "kind": "", "location": "westeurope",
            "resourceGroup": group, "subscriptionId": sub, "managedBy": "", "sku": None, "plan": None,
            "properties": properties, "tags": {}, "identity": None, "zones": None, "extendedLocation": None}
