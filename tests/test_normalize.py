"""Normalisers on the published Azure examples and real recordings; expected values read by hand from the files."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest
from azure_examples import EXAMPLES, dataset_from, example_items

from mdcnb.core import schema
from mdcnb.normalize import common
from mdcnb.sources.dataset import RECORD_TYPES
from mdcnb.tables import load_tables

SUB = "20ff7fc3-e762-44dd-bd96-b71116dcdc23"

# Which record type each example directory holds (resourcegraph/ holds query envelopes, not MDC records).
RECORD_TYPE_OF = {
    "subscriptions": "subscriptions", "connectors": "securityconnectors", "pricings": "pricings",
    "compliance/getRegulatoryComplianceStandardList": "regulatorycompliancestandards",
    "compliance/getRegulatoryComplianceControlList": "regulatorycompliancecontrols",
    "compliance/getRegulatoryComplianceAssessmentList": "regulatorycomplianceassessments",
    "assessments/ListAssessmentsMetadata": "assessmentmetadata", "assessments/GetAssessmentsMetadata":
    "assessmentmetadata", "assessments/": "assessments",
    "securescore/ListSecureScores": "securescores", "securescore/GetSecureScores": "securescores",
    "securescore/ListSecureScoreControlsFor": "securescorecontrols",
    "securescore/ListSecureScoreControls_": "securescorecontrols",
    "recordings/Get-AzSecurityConnector": "securityconnectors", "recordings/SecurityPricing": "pricings",
    "recordings/SecurityAssessmentTests": "assessments",
    "recordings/SecurityAssessmentMetadata": "assessmentmetadata",
    "recordings/SecuritySecureScoreTests": "securescores",
    "recordings/SecuritySecureScoreControlTests": "securescorecontrols",
    "recordings/SecurityRegulatoryComplinceTests.GetStandard": "regulatorycompliancestandards",
    "recordings/SecurityRegulatoryComplinceTests.GetControl": "regulatorycompliancecontrols",
    "recordings/SecurityRegulatoryComplinceTests.GetAssessment": "regulatorycomplianceassessments",
    "recordings/New-AzSecurityConnector-3": "securityconnectors", "recordings/New-AzSecurityConnector-5":
    "securityconnectors", "recordings/New-AzSecurityConnector-7": "securityconnectors",
    "resourcegraph/": "resources", "recordings/ResourceGraphQueryTests.SkipTokenQuery": "resources",
    "governance/": "governanceassignments", "policy/": "policyexemptions",
}
# Files that hold no record a normaliser reads: control definitions (folded into the controls by $expand),
# connector PUT errors and DELETE bodies, an ARG error, ARG summarize/facet rows without ids.
NOT_RECORDS = ("ControlDefinitions", "New-AzSecurityConnector-1", "New-AzSecurityConnector-2",
               "New-AzSecurityConnector-4", "New-AzSecurityConnector-6", "New-AzSecurityConnector-8",
               "QueryError", "ResourcesSummarizeQuery", "ResourcesFacetQuery")


def _record_type(relative: str) -> str | None:
    if any(marker in relative for marker in NOT_RECORDS):
        return None
    return next((t for prefix, t in sorted(RECORD_TYPE_OF.items(), key=lambda kv: -len(kv[0]))
                 if relative.startswith(prefix) or prefix in relative), None)


EXAMPLE_FILES = sorted(str(p.relative_to(EXAMPLES)) for p in EXAMPLES.rglob("*.json"))
RECORD_FILES = [f for f in EXAMPLE_FILES if _record_type(f)]


def test_only_files_without_records_are_left_out():
    assert len(EXAMPLE_FILES) - len(RECORD_FILES) == 11  # 3 definition lists, 5 connector error/DELETE, 3 ARG


@pytest.mark.parametrize("relative", RECORD_FILES)
def test_every_example_parses_without_skips(tmp_path, relative):
    record_type = _record_type(relative)
    items = example_items(relative)
    assert items, f"no items in {relative}"
    if record_type == "assessmentmetadata":  # metadata is joined into assessments, not a table of its own
        assessments = [{"id": f"/subscriptions/s/providers/Microsoft.Security/assessments/{item['name']}",
                        "name": item["name"], "properties": {"status": {"code": "Healthy"}}} for item in items]
        tables = load_tables(dataset_from(tmp_path, assessmentmetadata=items, assessments=assessments))
        assert tables.skips.empty and len(tables.assessments) == len(items)
        assert tables.assessments["display_name"].notna().all()  # every one joined its metadata
        return
    tables = load_tables(dataset_from(tmp_path, **{record_type: items}))
    assert tables.skips.empty, tables.skips.to_dict("records")
    produced = sum(len(df) for name, df in tables.items() if name != "skips")
    assert produced >= len(items)


def _load(tmp_path, **records):
    return load_tables(dataset_from(tmp_path, **records))


def test_list_pricings_example(tmp_path):
    plans = _load(tmp_path, pricings=example_items("pricings/ListPricings_example.json")).plans
    assert len(plans) == 13
    by_plan = plans.set_index("plan")
    assert list(by_plan.loc["KubernetesService", "replaced_by"]) == ["Containers"]
    assert bool(by_plan.loc["KubernetesService", "deprecated"]) is True
    assert bool(by_plan.loc["VirtualMachines", "deprecated"]) is False
    assert by_plan.loc["VirtualMachines", "sub_plan"] == "P2"
    assert by_plan.loc["StorageAccounts", "sub_plan"] == "DefenderForStorageV2"
    assert bool(by_plan.loc["AppServices", "enabled"]) is False and by_plan.loc["AppServices", "tier"] == "Free"
    assert (plans["enforce"] == False).all()  # noqa: E712  the string "False" in every item
    assert (plans["level"] == "subscription").all()
    assert set(plans["subscription_id"]) == {SUB, "d34fd44c-ebfa-4a9c-bceb-9eeafe72ac15"}
    assert by_plan.loc["VirtualMachines", "coverage_status"] == "PartiallyCovered"
    assert by_plan.loc["VirtualMachines", "extensions_enabled"] == ["AgentlessVmScanning"]
    assert by_plan.loc["VirtualMachines", "enablement_time"] == pd.Timestamp("2023-03-01T12:42:42.1921106Z")


def test_resource_level_pricings_with_string_booleans_and_trial(tmp_path):
    tables = _load(tmp_path, pricings=example_items("pricings/ListResourcePricings_example.json")
                   + example_items("pricings/GetResourcePricingByNameContainers_example.json"))
    plans = tables.plans
    assert (plans["level"] == "resource").all()
    vm1 = plans[plans["scope_id"].str.endswith("/virtualmachines/vm-1")].iloc[0]
    assert vm1["scope_id"] == (f"/subscriptions/{SUB}/resourcegroups/demo/providers/microsoft.compute/"
                               "virtualmachines/vm-1")
    assert bool(vm1["inherited"]) is True and vm1["inherited_from"] == f"/subscriptions/{SUB}"
    aks = plans[plans["plan"] == "Containers"].iloc[0]
    assert bool(aks["inherited"]) is False and pd.isna(aks["inherited_from"])
    assert aks["free_trial_remaining_days"] == pytest.approx(26 + 17 / 24 + 24 / 1440)  # P26DT17H24M
    extensions = tables.plan_extensions
    mde = extensions[(extensions["extension"] == "MdeDesignatedSubscription")].iloc[0]
    assert bool(mde["enabled"]) is False  # "False" string
    assert len(extensions[extensions["plan"] == "Containers"]) == 5


def test_connectors_2024_example(tmp_path):
    tables = _load(tmp_path, securityconnectors=example_items(
        "connectors/GetSecurityConnectorsSubscription_example-2024-08-01-preview.json"))
    connectors = tables.connectors.set_index("name")
    assert len(connectors) == 5
    org = connectors.loc["exampleSecurityConnectorAwsOrganization"]
    assert org["environment"] == "AWS" and org["membership"] == "Organization"
    assert org["stackset_name"] == "myStackSetName" and list(org["excluded_ids"]) == ["excludedAccountIdExample"]
    assert org["scan_interval_hours"] == 4 and org["cspm_role_arn"] == "arn:aws:iam::00000000:role/ASCMonitor"
    assert org["resource_group"] == "exampleresourcegroup2" and org["kind"] == "native"
    gcp = connectors.loc["exampleSecurityConnectorGcp"]
    assert gcp["environment"] == "GCP" and gcp["account_name"] == "My-0GCP-Project"
    assert connectors.loc["githubTest", "environment"] == "Github"
    offerings = tables.offerings
    gcp_role = offerings[offerings["offering_type"] == "CspmMonitorGcp"].iloc[0]
    assert gcp_role["service_account"] == "capm@projectName.com" and gcp_role["feature"] == "nativeCloudConnection"
    aws_role = offerings[offerings["offering_type"] == "CspmMonitorAws"].iloc[0]
    assert aws_role["role_name"] == "ASCMonitor"
    github = offerings[offerings["offering_type"] == "CspmMonitorGithub"]
    assert github["role_arn"].isna().all() and github["feature"].isna().all()


def test_2023_connector_list_has_no_scan_interval(tmp_path):
    connectors = _load(tmp_path, securityconnectors=example_items(
        "connectors/GetSecurityConnectorsSubscription_example-2023-10-01-preview.json")).connectors
    assert connectors[connectors["environment"] == "AWS"]["scan_interval_hours"].isna().all()


def test_offering_roles_with_enabled_flags(tmp_path):
    record = {
        "id": "/subscriptions/S1/resourcegroups/rg/providers/Microsoft.Security/securityConnectors/aws-prod",
        "name": "aws-prod", "location": "westeurope",
        "properties": {"environmentName": "AWS", "hierarchyIdentifier": "123456789012",
                       "environmentData": {"environmentType": "AwsAccount", "regions": ["eu-west-1", "us-east-1"],
                                           "organizationalData": {"organizationMembershipType": "Member",
                                                                  "parentHierarchyId": "999999999999"}},
                       "offerings": [
                           {"offeringType": "CspmMonitorAws",
                            "nativeCloudConnection": {"cloudRoleArn": "arn:aws:iam::123456789012:role/CustomCspm"}},
                           {"offeringType": "DefenderForServersAws", "subPlan": {"type": "P2"},
                            "defenderForServers": {
                                "cloudRoleArn": "arn:aws:iam::123456789012:role/DefenderForCloud-DefenderForServers"},
                            "vmScanners": {"enabled": False, "configuration": {
                                "cloudRoleArn": "arn:aws:iam::123456789012:role/DefenderForCloud-AgentlessScanner"}}},
                       ]}}
    tables = _load(tmp_path, securityconnectors=[record])
    connector = tables.connectors.iloc[0]
    assert connector["membership"] == "Member" and connector["parent_hierarchy_id"] == "999999999999"
    assert list(connector["regions"]) == ["eu-west-1", "us-east-1"]
    assert connector["cspm_role_arn"] == "arn:aws:iam::123456789012:role/CustomCspm"
    assert connector["subscription_id"] == "s1"
    servers = tables.offerings[tables.offerings["offering_type"] == "DefenderForServersAws"].set_index("feature")
    assert set(servers.index) == {"defenderForServers", "vmScanners.configuration"}
    assert bool(servers.loc["vmScanners.configuration", "enabled"]) is False
    assert bool(servers.loc["defenderForServers", "enabled"]) is True
    assert (servers["sub_plan"] == "P2").all()


def test_classic_aws_connector(tmp_path):
    record = {"id": "/subscriptions/S1/providers/Microsoft.Security/connectors/aws_dev1", "name": "aws_dev1",
              "type": "Microsoft.Security/connectors",
              "properties": {"hybridComputeSettings": {"autoProvision": "Off"},
                             "authenticationDetails": {"authenticationType": "awsAssumeRole",
                                                       "awsAssumeRoleArn": "arn:aws:iam::81231569658:role/AscConnector",
                                                       "awsExternalId": "20ff7fc3-e762-44dd-bd96-b71116dcdc23"}}}
    tables = _load(tmp_path, securityconnectors=[record])
    connector = tables.connectors.iloc[0]
    assert connector["kind"] == "classic" and connector["environment"] == "AWS"
    assert connector["hierarchy_id"] == "81231569658"
    assert connector["cspm_role_arn"] == "arn:aws:iam::81231569658:role/AscConnector"
    assert tables.offerings.empty


def test_subscriptions_from_arm_and_resource_graph_agree(tmp_path):
    arm = {"id": "/subscriptions/291BBA3F-E0A5-47BC-A099-3BDCB2A50A05",
           "subscriptionId": "291bba3f-e0a5-47bc-a099-3bdcb2a50a05",
           "tenantId": "31c75423-32d6-4322-88b7-c478bdde4858", "displayName": "Prod", "state": "Enabled"}
    arg = {"id": "/subscriptions/291bba3f-e0a5-47bc-a099-3bdcb2a50a05", "name": "Prod",
           "type": "microsoft.resources/subscriptions", "tenantId": "31c75423-32d6-4322-88b7-c478bdde4858",
           "subscriptionId": "291bba3f-e0a5-47bc-a099-3bdcb2a50a05",
           "properties": {"state": "enabled", "managementGroupAncestorsChain": [
               {"name": "mg-prod", "displayName": "Production"}, {"name": "tenant-root", "displayName": "Root"}]}}
    rows_arm = _load(tmp_path / "a", subscriptions=[arm]).subscriptions
    rows_arg = _load(tmp_path / "b", subscriptions=[arg]).subscriptions
    columns = ["subscription_id", "display_name", "tenant_id", "state"]
    assert rows_arm[columns].to_dict("records") == rows_arg[columns].to_dict("records")
    assert rows_arg.loc[0, "management_group"] == "mg-prod"
    assert list(rows_arg.loc[0, "management_group_path"]) == ["tenant-root", "mg-prod"]


def _recase(obj, style):
    """The same record with every key re-cased (ARG style: PascalCase resourceDetails keys)."""
    if isinstance(obj, dict):
        return {style(k): _recase(v, style) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_recase(v, style) for v in obj]
    return obj


def test_rest_and_resource_graph_cased_assessments_give_equal_rows(tmp_path):
    rest = example_items("assessments/ListAssessments_example.json")
    arg = []
    for item in copy.deepcopy(rest):
        details = item["properties"]["resourceDetails"]
        item["properties"]["resourceDetails"] = {k[:1].upper() + k[1:]: v for k, v in details.items()}
        item["properties"]["status"]["code"] = item["properties"]["status"]["code"].lower()
        item["type"] = item["type"].lower()
        item["subscriptionId"] = SUB
        arg.append(item)
    assert "Source" in arg[0]["properties"]["resourceDetails"]
    metadata = example_items("assessments/ListAssessmentsMetadata_example.json")
    a = _load(tmp_path / "rest", assessments=rest, assessmentmetadata=metadata).assessments
    b = _load(tmp_path / "arg", assessments=arg, assessmentmetadata=_recase(metadata, str.upper)).assessments
    pd.testing.assert_frame_equal(a, b)
    assert set(a["status"]) == {"Healthy", "NotApplicable"}


def test_real_assessment_recording_with_capitalised_resource_details(tmp_path):
    items = example_items("recordings/SecurityAssessmentTests.GetAllAssessments-1.json")
    assessments = _load(tmp_path, assessments=items).assessments
    assert len(assessments) == len(items) == 15
    first = assessments.iloc[0]
    assert first["resource_id"] == ("/subscriptions/487bb485-b5b0-471e-9c0d-10717612f869/resourcegroups/myservice1/"
                                    "providers/microsoft.compute/virtualmachines/syslogmyservice1vm")
    assert first["environment"] == "Azure" and first["status"] == "NotApplicable" and first["cause"] == "NoNsgOnVm"
    assert first["resource_type"] == "microsoft.compute/virtualmachines"
    assert (assessments["resource_id"] == assessments["resource_id"].str.lower()).all()


def test_metadata_join_and_threat_casing(tmp_path):
    metadata = example_items("recordings/SecurityAssessmentMetadataTests.GetAllAssessmentMetadata-1.json")
    key = metadata[0]["name"]  # Install endpoint protection solution on Linux virtual machines, High, ThreatResistance
    assessment = {"id": f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"
                        f"/providers/Microsoft.Security/assessments/{key}", "name": key,
                  "properties": {"resourceDetails": {"Source": "Azure", "Id": f"/subscriptions/{SUB}/resourceGroups/rg/"
                                                     "providers/Microsoft.Compute/virtualMachines/vm1"},
                                 "status": {"code": "Unhealthy"}}}
    row = _load(tmp_path, assessments=[assessment], assessmentmetadata=metadata).assessments.iloc[0]
    assert row["display_name"] == "Install endpoint protection solution on Linux virtual machines"
    assert row["severity"] == "High" and list(row["threats"]) == ["threatResistance"]
    assert bool(row["preview"]) is True and row["assessment_type"] == "BuiltIn"


def test_multicloud_assessment_resource_ids(tmp_path):
    connector = f"/subscriptions/{SUB}/resourcegroups/rg/providers/microsoft.security/securityconnectors/aws-prod"
    native_id = f"{connector}/securityentitydata/aws-ec2-instance-i-0abc-eu-west-1"
    native = {"id": f"{native_id}/providers/Microsoft.Security/assessments/k1", "name": "k1",
              "properties": {"resourceDetails": {"Source": "Aws", "Id": native_id, "ConnectorId": "5d0f-guid",
                                                 "NativeResourceId":
                                                     "arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc",
                                                 "ResourceType": "instance", "Region": "eu-west-1",
                                                 "HierarchyId": "123456789012"},
                             "status": {"code": "Healthy"}}}
    classic = {"id": f"/subscriptions/{SUB}/resourcegroups/rg/providers/microsoft.security/assessments/k2",
               "name": "k2",
               "properties": {"resourceDetails": {"source": "aws", "awsResourceId": "arn:aws:s3:::bucket1",
                                                  "azureResourceId": f"/subscriptions/{SUB}/AwsRes/B1"},
                              "status": {"code": "Unhealthy"}}}
    rows = _load(tmp_path, assessments=[native, classic]).assessments.set_index("assessment_key")
    assert rows.loc["k1", "resource_id"] == native_id and rows.loc["k1", "connector_id"] == connector
    assert rows.loc["k1", "environment"] == "AWS" and rows.loc["k1", "hierarchy_id"] == "123456789012"
    assert rows.loc["k1", "native_resource_id"] == "arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc"
    assert rows.loc["k1", "resource_name"] == "i-0abc" and rows.loc["k1", "resource_type"] == "instance"
    assert rows.loc["k2", "resource_id"] == f"/subscriptions/{SUB}/awsres/b1"  # AzureResourceId wins, lower case
    assert pd.isna(rows.loc["k2", "connector_id"])


def test_secure_score_and_controls_examples(tmp_path):
    tables = _load(tmp_path, securescores=example_items("securescore/ListSecureScores_example.json"),
                   securescorecontrols=example_items(
                       "securescore/ListSecureScoreControlsForNameWithExpand_builtin_example.json"))
    score = tables.secure_scores.iloc[0]
    assert (score["current"], score["max"], score["percentage"], score["weight"]) == (23.53, 39, 0.6033, 67)
    assert score["scope_id"] == f"/subscriptions/{SUB}" and score["scope_type"] == "subscription"
    controls = tables.score_controls.set_index("control_name")
    ddos = controls.loc["Protect applications against DDoS attacks"]
    assert ddos["max"] == 0 and ddos["definition_max"] == 2 and ddos["not_applicable"] == 1
    assert len(ddos["assessment_keys"]) == 3 and ddos["assessment_keys"][0] == "e3de1cc0-f4dd-3b34-e496-8b5381ba2d70"
    transit = controls.loc["Encrypt data in transit"]
    assert (transit["healthy"], transit["unhealthy"], transit["current"]) == (5, 1, 3.33)
    assert controls["max"].sum() == 39 and round(controls["current"].sum(), 2) == 23.53


def test_connector_secure_score_scope_and_environment(tmp_path):
    connector_id = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Security/securityConnectors/aws-prod"
    score = {"id": f"{connector_id}/providers/Microsoft.Security/secureScores/ascScore", "name": "ascScore",
             "type": "microsoft.security/securescores",
             "properties": {"score": {"current": 7.5, "max": 10, "percentage": 0.75}, "weight": 3}}
    connector = {"id": connector_id, "name": "aws-prod",
                 "properties": {"environmentName": "AWS", "hierarchyIdentifier": "123456789012", "offerings": []}}
    row = _load(tmp_path, securescores=[score], securityconnectors=[connector]).secure_scores.iloc[0]
    assert row["scope_type"] == "connector" and row["scope_id"] == connector_id.lower()
    assert row["environment"] == "AWS"  # taken from the connector, the score does not say


def test_compliance_examples_states_canonical(tmp_path):
    tables = _load(tmp_path,
                   regulatorycompliancecontrols=example_items("compliance/getRegulatoryComplianceControlList_example.json"),
                   regulatorycomplianceassessments=example_items(
                       "recordings/SecurityRegulatoryComplinceTests.GetAssessmentSubscriptionScope-1.json"))
    assert list(tables.compliance_controls["state"]) == ["Failed", "Skipped", "Unsupported"]  # "failed" etc.
    assert list(tables.compliance_controls["control"]) == ["1.1", "2", "2.1"]
    assessments = tables.compliance_assessments
    assert set(assessments["standard"]) == {"SOC-TSP"} and set(assessments["control"]) == {"CC5.8"}
    assert assessments.loc[0, "assessment_key"] == "0392b393-395e-42bf-ba60-8d99efc4d2d4"
    assert assessments.loc[0, "passed_resources"] == 15 and assessments.loc[0, "skipped_resources"] == 6


def test_bad_records_become_skips_with_file_line_and_reason(tmp_path):
    good = example_items("securescore/ListSecureScores_example.json")[0]
    no_score = copy.deepcopy(good)
    no_score["id"] = no_score["id"].replace("ascScore", "other")
    del no_score["properties"]["score"]
    dataset_from(tmp_path, securescores=[good, no_score, good])
    with (tmp_path / "securescores.jsonl").open("a") as fh:
        fh.write('{"id": "/subscriptions/x/providers/Microsoft.Security/secureScores/asc", "properties": {\n')
        fh.write("[1, 2]\n")
    assessments = [{"id": "/subscriptions/s/providers/Microsoft.Security/assessments/k",
                    "properties": {"status": {"code": "Broken"}}},
                   {"id": "/subscriptions/s/providers/Microsoft.Security/assessments/k2", "properties": {}}]
    premium = {"id": "/subscriptions/s/providers/Microsoft.Security/pricings/Arm", "name": "Arm",
               "properties": {"pricingTier": "Premium"}}
    dataset_from(tmp_path, assessments=assessments, pricings=[premium])
    tables = load_tables(tmp_path)
    assert len(tables.secure_scores) == 1
    skips = tables.skips.sort_values(["record_type", "location"]).reset_index(drop=True)
    found = {(r.record_type, r.location): r.reason for r in skips.itertuples()}
    assert set(found) == {("securescores", "line 2"), ("securescores", "line 3"), ("securescores", "line 4"),
                          ("securescores", "line 5"), ("assessments", "line 1"), ("assessments", "line 2"),
                          ("pricings", "line 1")}
    assert "score.current" in found[("securescores", "line 2")]
    assert "duplicate id" in found[("securescores", "line 3")] and "line 1" in found[("securescores", "line 3")]
    assert "not JSON" in found[("securescores", "line 4")]
    assert "expected a JSON object" in found[("securescores", "line 5")]
    assert "Broken" in found[("assessments", "line 1")]
    assert "status.code" in found[("assessments", "line 2")]
    assert "Premium" in found[("pricings", "line 1")]
    assert skips["source"].str.endswith(".jsonl").all()


def test_unknown_fields_ignored_and_missing_optional_fields_null(tmp_path):
    record = {"id": "/subscriptions/s/providers/Microsoft.Security/pricings/Api", "name": "Api",
              "futureField": {"x": 1}, "properties": {"pricingTier": "standard", "brandNew": True}}
    row = _load(tmp_path, pricings=[record]).plans.iloc[0]
    assert row["tier"] == "Standard" and bool(row["enabled"]) is True
    assert pd.isna(row["sub_plan"]) and pd.isna(row["enforce"]) and list(row["replaced_by"]) == []


def test_missing_dataset_files_give_empty_tables_with_contract_columns(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"source": "test"}))
    tables = load_tables(tmp_path)
    assert tables.manifest == {"source": "test"} and tables.dataset == tmp_path
    for name, frame in tables.items():
        assert frame.empty and list(frame.columns) == schema.TABLES[name].names
    assert len(RECORD_TYPES) == 13


def test_missing_dataset_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="dataset directory not found"):
        load_tables(tmp_path / "nope")


@pytest.mark.parametrize(("value", "days"), [("PT0S", 0.0), ("P26DT17H24M", 26 + 17 / 24 + 24 / 1440),
                                             ("P30D", 30.0), ("PT12H", 0.5), ("P1W", 7.0), ("garbage", None),
                                             ("P", None), (None, None)])
def test_iso_durations(value, days):
    result = common.duration_days(value)
    assert result == (pytest.approx(days) if days is not None else None)


def test_case_insensitive_field_and_arm_type():
    record = common.fold({"Properties": {"ResourceDetails": {"Source": "Aws"}, "tags": {"Env": "Prod"}}})
    assert common.field(record, "properties", "tags") == {"Env": "Prod"}  # data keys keep their case
    assert common.field(record, "properties", "resourceDetails", "source") == "Aws"
    assert common.environment("Aws") == "AWS" and common.environment("gcp") == "GCP"
    assert common.arm_type("/subscriptions/s/resourceGroups/r/providers/Microsoft.Sql/servers/a/databases/b") == \
        "microsoft.sql/servers/databases"
    assert common.arm_type("/subscriptions/s") == "microsoft.resources/subscriptions"
    assert common.to_bool("True") is True and common.to_bool("false") is False and common.to_bool("x") is None


@pytest.mark.parametrize("scope", ["/subscriptions/s1", "/subscriptions/İ-sub", "/subscriptions/İİ/resourceGroups/Ǆ"])
def test_an_id_is_cut_at_its_provider_marker_whatever_its_scope_lower_cases_to(scope):
    """The marker is found in the lower-cased id; where a character of the scope lower-cases to two (İ -> i̇), the id
    is still cut at the marker's own place, not one character later per such character."""
    from mdcnb.normalize.common import split_provider_suffix

    got = split_provider_suffix(f"{scope}/providers/Microsoft.Security/pricings/VirtualMachines/",
                                "Microsoft.Security/pricings")
    assert got == (scope, ["VirtualMachines"])
    assert split_provider_suffix(f"{scope}/providers/Microsoft.Security/other/x", "Microsoft.Security/pricings") is None
