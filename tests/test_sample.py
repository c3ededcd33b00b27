"""The sample tenant generator: determinism, internal consistency, required features, committed copy.

Consistency is checked by plain counting over the raw records written, with MDC's formulas restated here
(reference/azure-api.md section 5), not by calling the generator's own score code.
"""

from __future__ import annotations

import filecmp
import gzip
import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from mdcnb.cli import main
from mdcnb.sample import build_context, generate
from mdcnb.sources.dataset import SAMPLE_DATASET, read_manifest, read_records
from mdcnb.sources.dataset_write import write_records

RANK = {"unhealthy": 2, "healthy": 1, "notapplicable": 0}
AWS_STANDARD = "AWS-Foundational-Security-Best-Practices"


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sample") / "ds"
    generate(out)
    return out


def rows(dataset: Path, record_type: str) -> list[dict]:
    raw = read_records(dataset, record_type)
    assert not raw.skips, raw.skips
    return raw.records


def ci(mapping: dict, key: str):
    """Case-insensitive key lookup (ARG rows are PascalCase, REST items camelCase)."""
    return next((v for k, v in mapping.items() if k.lower() == key.lower()), None)


def datasets(root: Path) -> list[Path]:
    return [root, *sorted((root / "history").iterdir())]


def tree(root: Path) -> dict[str, bytes]:
    """Every file below root, gzip members decompressed (compressed bytes may differ across zlib builds)."""
    out = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        out[str(path.relative_to(root))] = gzip.decompress(data) if path.suffix == ".gz" else data
    return out


# --- determinism ----------------------------------------------------------------------------------------------

def test_same_seed_gives_identical_bytes(sample, tmp_path):
    generate(tmp_path / "again")
    match, mismatch, errors = filecmp.cmpfiles(sample, tmp_path / "again", list(tree(sample)), shallow=False)
    assert not mismatch and not errors
    assert len(match) == len(tree(sample)) > 60


def test_different_seed_differs(sample, tmp_path):
    generate(tmp_path / "other", seed=1, weeks=1)
    ours, theirs = tree(sample), tree(tmp_path / "other")
    # the latest week's record files keep their names; CloudTrail paths and aws/<account-id>/ folders carry the
    # (seeded) account ids, so only their number is compared
    latest = lambda t: {k for k in t if k.endswith(".jsonl.gz") and "/" not in k}  # noqa: E731
    assert latest(ours) == latest(theirs) and len(latest(ours)) >= 11
    assert len([k for k in ours if k.startswith("aws/")]) == len([k for k in theirs if k.startswith("aws/")]) > 0
    assert ours["assessments.jsonl.gz"] != theirs["assessments.jsonl.gz"]
    assert ours["subscriptions.jsonl.gz"] != theirs["subscriptions.jsonl.gz"]


def test_committed_sample_is_a_fresh_generation(sample):
    committed, fresh = tree(SAMPLE_DATASET), tree(sample)
    assert committed.keys() == fresh.keys(), "data/sample is stale: run `make sample`"
    stale = [name for name in fresh if committed[name] != fresh[name]]
    assert not stale, f"data/sample differs from `mdcnb sample --out data/sample` in {stale[:5]}: run `make sample`"


# --- internal consistency -------------------------------------------------------------------------------------

def scope_of(assessment: dict) -> str:
    details = assessment["properties"]["resourceDetails"]
    if ci(details, "ConnectorId"):
        return ci(details, "Id").lower().split("/securityentitydata/")[0]
    return "/subscriptions/" + assessment["id"].split("/")[2].lower()


def assessed_resource(assessment: dict) -> str:
    return assessment["id"].lower().split("/providers/microsoft.security/assessments/")[0]


def control_definitions(dataset: Path) -> tuple[dict[str, str], dict[str, int]]:
    """key -> control id, control id -> definition max, from the control definitions in the records."""
    control_of, max_of = {}, {}
    for row in rows(dataset, "securescorecontrols"):
        definition = row["properties"]["definition"]
        max_of[definition["name"]] = definition["properties"]["maxScore"]
        for ref in definition["properties"]["assessmentDefinitions"]:
            control_of[ref["id"].rsplit("/", 1)[1]] = definition["name"]
    return control_of, max_of


@pytest.mark.parametrize("week", range(6))
def test_secure_scores_follow_mdc_formulas(sample, week):
    dataset = datasets(sample)[week]
    control_of, max_of = control_definitions(dataset)
    preview = {m["name"] for m in rows(dataset, "assessmentmetadata") if m["properties"].get("preview")}
    worst: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)  # (scope, control) -> resource -> status
    assessed: dict[str, set[str]] = defaultdict(set)
    for a in rows(dataset, "assessments"):
        if a["name"] in preview:
            continue
        scope, resource = scope_of(a), assessed_resource(a)
        code = a["properties"]["status"]["code"].lower()
        cell = worst[(scope, control_of[a["name"]])]
        if resource not in cell or RANK[code] > RANK[cell[resource]]:
            cell[resource] = code
        if code != "notapplicable":
            assessed[scope].add(resource)

    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    controls = rows(dataset, "securescorecontrols")
    for row in controls:
        scope = row["id"].lower().split("/providers/microsoft.security/securescores/")[0]
        p = row["properties"]
        counts = Counter(worst[(scope, row["name"])].values())
        healthy, unhealthy = counts["healthy"], counts["unhealthy"]
        assert (p["healthyResourceCount"], p["unhealthyResourceCount"], p["notApplicableResourceCount"]) == (
            healthy, unhealthy, counts["notapplicable"]), row["id"]
        expected_max = max_of[row["name"]] if healthy + unhealthy else 0
        expected_current = round(expected_max * healthy / (healthy + unhealthy), 2) if expected_max else 0
        assert p["score"]["max"] == expected_max
        assert p["score"]["current"] == pytest.approx(expected_current, abs=1e-9)
        assert p["score"]["percentage"] == pytest.approx(
            round(expected_current / expected_max, 4) if expected_max else 0, abs=1e-9)
        assert p["weight"] == healthy + unhealthy
        totals[scope][0] += expected_current
        totals[scope][1] += expected_max

    scores = rows(dataset, "securescores")
    assert {s["id"].lower().split("/providers/microsoft.security/securescores/")[0] for s in scores} == set(totals)
    for score in scores:
        scope = score["id"].lower().split("/providers/microsoft.security/securescores/")[0]
        current, maximum = totals[scope]
        p = score["properties"]
        assert p["score"]["max"] == maximum
        assert p["score"]["current"] == pytest.approx(round(current, 2), abs=1e-9)
        assert p["score"]["percentage"] == pytest.approx(round(round(current, 2) / maximum, 4) if maximum else 0)
        assert p["weight"] == len(assessed[scope])
    assert len(controls) == 15 * len(scores)


def _state(failed: int, passed: int, skipped: int, unsupported: int = 0) -> str:
    return "failed" if failed else "passed" if passed else "skipped" if skipped else "unsupported"


@pytest.mark.parametrize("week", [0, 5])
def test_compliance_counts_agree_with_assessments(sample, week):
    dataset = datasets(sample)[week]
    per_scope_key: dict[tuple[str, str], Counter] = defaultdict(Counter)
    aws_connector_scopes: dict[str, set[str]] = defaultdict(set)
    for a in rows(dataset, "assessments"):
        scope = scope_of(a)
        per_scope_key[(scope, a["name"])][a["properties"]["status"]["code"].lower()] += 1
        if ci(a["properties"]["resourceDetails"], "Source").lower() == "aws" and scope != "/subscriptions/" + \
                a["id"].split("/")[2].lower():
            aws_connector_scopes["/subscriptions/" + a["id"].split("/")[2].lower()].add(scope)

    def expected(subscription: str, standard: str, key: str) -> Counter:
        if standard == AWS_STANDARD:
            total = Counter()
            for scope in aws_connector_scopes[subscription]:
                total += per_scope_key[(scope, key)]
            return total
        return per_scope_key[(subscription, key)]

    control_states: dict[tuple[str, str, str], Counter] = defaultdict(Counter)
    for row in rows(dataset, "regulatorycomplianceassessments"):
        parts = row["id"].split("/")
        sub, standard, control = "/subscriptions/" + parts[2].lower(), parts[6], parts[8]
        p, want = row["properties"], expected(sub, standard, row["name"])
        assert (p["passedResources"], p["failedResources"], p["skippedResources"]) == (
            want["healthy"], want["unhealthy"], want["notapplicable"]), row["id"]
        assert p["state"].lower() == _state(want["unhealthy"], want["healthy"], 1)
        control_states[(sub, standard, control)][p["state"].lower()] += 1

    standard_states: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for row in rows(dataset, "regulatorycompliancecontrols"):
        parts = row["id"].split("/")
        key = ("/subscriptions/" + parts[2].lower(), parts[6], parts[8])
        p, states = row["properties"], control_states[key]
        assert (p["passedAssessments"], p["failedAssessments"], p["skippedAssessments"]) == (
            states["passed"], states["failed"], states["skipped"])
        assert p["state"].lower() == _state(states["failed"], states["passed"], states["skipped"])
        standard_states[key[:2]][p["state"].lower()] += 1

    standards = rows(dataset, "regulatorycompliancestandards")
    assert len(standards) == len(standard_states)
    for row in standards:
        states = standard_states[("/subscriptions/" + row["id"].split("/")[2].lower(), row["name"])]
        p = row["properties"]
        assert (p["passedControls"], p["failedControls"], p["skippedControls"], p["unsupportedControls"]) == (
            states["passed"], states["failed"], states["skipped"], states["unsupported"])
        assert p["state"].lower() == _state(states["failed"], states["passed"], states["skipped"])


# --- required content -------------------------------------------------------------------------------------------

def test_subscriptions_sit_in_two_management_groups(sample):
    subs = rows(sample, "subscriptions")
    assert 10 <= len(subs) <= 14
    chains = [s["properties"]["managementGroupAncestorsChain"] for s in subs]
    assert len({c[0]["name"] for c in chains}) == 2
    assert {c[-1]["displayName"] for c in chains} == {"Tenant Root Group"}
    assert all(s["type"] == "microsoft.resources/subscriptions" for s in subs)


def test_plans_cover_tiers_sub_plans_deprecations_overrides_and_trials(sample):
    pricings = rows(sample, "pricings")
    subscription_level = [p for p in pricings if "/resourceGroups/" not in p["id"]]
    by_name = defaultdict(list)
    for p in subscription_level:
        by_name[p["name"]].append(p["properties"])
    assert {p.get("subPlan") for p in by_name["VirtualMachines"]} >= {"P1", "P2"}
    assert {p["pricingTier"] for p in by_name["VirtualMachines"]} == {"Free", "Standard"}
    assert "DefenderForStorageV2" in {p.get("subPlan") for p in by_name["StorageAccounts"]}
    assert all(p["deprecated"] is True and p["replacedBy"] == ["VirtualMachines"] for p in by_name["Dns"])
    assert all(p["replacedBy"] == ["Containers"] for p in by_name["KubernetesService"])
    assert {p["pricingTier"] for p in by_name["CloudPosture"]} == {"Free", "Standard"}
    assert "P12DT3H" in {p["freeTrialRemainingTime"] for p in by_name["VirtualMachines"]}
    flags = {e["isEnabled"] for p in subscription_level for e in p["properties"].get("extensions", [])}
    assert flags == {"True", "False"}
    assert {p["enforce"] for p in by_name["CloudPosture"]} == {"True", "False"}
    overrides = [p for p in pricings if "/virtualMachines/" in p["id"]]
    assert overrides and all(p["properties"]["inherited"] == "False" for p in overrides)
    assert {p["properties"]["pricingTier"] for p in overrides} == {"Free", "Standard"}


def test_a_plan_is_free_where_its_resources_exist(sample):
    vm_subs = {r["subscriptionId"] for r in rows(sample, "resources")
               if r["type"] == "microsoft.compute/virtualmachines"}
    free = {p["id"].split("/")[2] for p in rows(sample, "pricings")
            if p["name"] == "VirtualMachines" and p["properties"]["pricingTier"] == "Free" and "/resourceGroups/"
            not in p["id"]}
    assert vm_subs & free


def test_connectors_cover_the_multicloud_cases(sample):
    connectors = rows(sample, "securityconnectors")
    native = [c for c in connectors if c["type"].lower() == "microsoft.security/securityconnectors"]
    classic = [c for c in connectors if c["type"] == "Microsoft.Security/connectors"]
    aws = [c for c in native if c["properties"]["environmentName"] == "AWS"]
    org = [c for c in aws if c["properties"]["environmentData"].get("organizationalData", {}).get(
        "organizationMembershipType") == "Organization"]
    assert len(org) == 1
    org_data = org[0]["properties"]["environmentData"]["organizationalData"]
    assert org_data["stacksetName"] and org_data["excludedAccountIds"]
    members = [c for c in aws if c["properties"]["environmentData"].get("organizationalData", {}).get(
        "organizationMembershipType") == "Member"]
    assert len(members) >= 3
    for m in members:
        assert m["name"] == f"{org[0]['name']}_{m['properties']['hierarchyIdentifier']}"
        assert m["properties"]["environmentData"]["organizationalData"]["parentHierarchyId"] == \
            org[0]["properties"]["hierarchyIdentifier"]
    assert len(classic) == 1
    classic_account = classic[0]["properties"]["authenticationDetails"]["awsAssumeRoleArn"].split(":")[4]
    assert classic_account in {m["properties"]["hierarchyIdentifier"] for m in members}
    assert {c["properties"]["environmentData"]["scanInterval"] for c in aws} >= {4, 6, 12, 24}
    assert len({tuple(c["properties"]["environmentData"]["regions"]) for c in aws}) >= 4
    roles = [o["nativeCloudConnection"]["cloudRoleArn"] for c in aws for o in c["properties"]["offerings"]
             if o["offeringType"] == "CspmMonitorAws"]
    assert any(r.endswith(":role/CspmMonitorAws") for r in roles)
    assert any(not r.endswith(":role/CspmMonitorAws") for r in roles)
    offerings = {o["offeringType"] for c in aws for o in c["properties"]["offerings"]}
    assert offerings == {"CspmMonitorAws", "DefenderCspmAws", "DefenderForServersAws", "DefenderForContainersAws",
                         "DefenderForDatabasesAws"}
    assert [c for c in native if c["properties"]["environmentName"] == "GCP"]
    assert {"type" in c and c["type"].islower() for c in native} == {True, False}  # ARG rows and REST items


def test_an_organisation_account_has_no_connector():
    ctx = build_context()
    org = next(c for c in ctx.connectors if c.membership == "Organization")
    covered = {c.hierarchy_id for c in ctx.connectors} | set(org.excluded_ids)
    assert [a for a in ctx.aws_accounts if a.account_id not in covered]
    assert [e for e in ctx.ec2_instances if ctx.connector_for_account(e.hierarchy_id) and not e.arc_machine]


def test_recommendations_metadata_and_assessments(sample):
    metadata = rows(sample, "assessmentmetadata")
    assert 55 <= len(metadata) <= 80
    props = [m["properties"] for m in metadata]
    assert 2 <= sum(bool(p.get("preview")) for p in props) <= 8
    assert {p["severity"] for p in props} == {"Low", "Medium", "High", "Critical"}
    assert all(p["categories"] and p["threats"] and p["userImpact"] and p["implementationEffort"]
               and p["assessmentType"] for p in props)
    control_of, _ = control_definitions(sample)
    assert len(set(control_of.values())) == 15 and set(control_of) == {m["name"] for m in metadata}
    assessments = rows(sample, "assessments")
    sources = Counter(ci(a["properties"]["resourceDetails"], "Source") for a in assessments)
    assert set(sources) == {"Azure", "Aws", "Gcp"}
    assert {a["properties"]["status"]["code"] for a in assessments} == {"Healthy", "Unhealthy", "NotApplicable"}
    keys = {k for a in assessments for k in a["properties"]["resourceDetails"]}
    assert {"Source", "Id", "source", "id", "ConnectorId", "AzureResourceId", "AwsResourceId"} <= keys
    assert {a["type"] for a in assessments} == {"microsoft.security/assessments", "Microsoft.Security/assessments"}


def test_duplicate_findings_from_native_and_classic_connectors(sample):
    assessments = rows(sample, "assessments")
    arns = defaultdict(set)
    for a in assessments:
        details = a["properties"]["resourceDetails"]
        arn = ci(details, "NativeResourceId") or ci(details, "AwsResourceId")
        if arn:
            arns[(arn, a["name"])].add("classic" if ci(details, "AwsResourceId") else "native")
    assert [k for k, kinds in arns.items() if kinds == {"native", "classic"}]


def test_compliance_standards_present(sample):
    names = {s["name"] for s in rows(sample, "regulatorycompliancestandards")}
    assert names == {"Microsoft-cloud-security-benchmark", "PCI-DSS-4", "ISO-27001", AWS_STANDARD}


def test_resources_inventory(sample):
    resources = rows(sample, "resources")
    by_type = defaultdict(list)
    for r in resources:
        by_type[r["type"]].append(r)
    for t in ("microsoft.compute/virtualmachines", "microsoft.compute/virtualmachinescalesets",
              "microsoft.containerservice/managedclusters", "microsoft.storage/storageaccounts",
              "microsoft.sql/servers",
              "microsoft.dbforpostgresql/flexibleservers", "microsoft.dbformysql/flexibleservers",
              "microsoft.web/serverfarms", "microsoft.keyvault/vaults", "microsoft.documentdb/databaseaccounts",
              "microsoft.hybridcompute/machines"):
        assert by_type[t], t
    vm = by_type["microsoft.compute/virtualmachines"][0]["properties"]
    assert vm["hardwareProfile"]["vmSize"] and vm["extended"]["instanceView"]["powerState"]["code"]
    assert all(r["sku"]["capacity"] >= 1 for r in by_type["microsoft.compute/virtualmachinescalesets"])
    assert all(p["count"] and p["vmSize"] for r in by_type["microsoft.containerservice/managedclusters"]
               for p in r["properties"]["agentPoolProfiles"])
    assert all(r["sku"]["capacity"] >= 1 for r in by_type["microsoft.web/serverfarms"])
    arc_tags = [r["tags"] for r in by_type["microsoft.hybridcompute/machines"]]
    assert all({"AccountId", "Cloud", "InstanceId", "MDFCSecurityConnector"} <= set(t) for t in arc_tags)
    assert "<img src=x onerror=alert(1)>" in {r["name"] for r in resources}


def test_history_changes_week_to_week(sample):
    weeks = datasets(sample)
    labels = [read_manifest(d)["week"] for d in weeks]
    assert labels[0] == "2026-W48" and [p.name for p in weeks[1:]] == labels[1:] == [
        "2026-W43", "2026-W44", "2026-W45", "2026-W46", "2026-W47"]
    oldest, latest = weeks[1], weeks[0]
    assert list(oldest.glob("*.jsonl.gz")) and not list(oldest.glob("*.jsonl"))

    def statuses(d):
        return {a["id"].lower(): a["properties"]["status"]["code"] for a in rows(d, "assessments")}

    before, after = statuses(oldest), statuses(latest)
    common = before.keys() & after.keys()
    assert any(before[k] == "Unhealthy" and after[k] == "Healthy" for k in common)  # remediated
    assert any(before[k] == "Healthy" and after[k] == "Unhealthy" for k in common)  # newly failing
    ids = [{r["id"] for r in rows(d, "resources")} for d in (oldest, latest)]
    assert ids[0] - ids[1] and ids[1] - ids[0]  # resources removed and added
    tiers = [{(p["id"], p["properties"]["pricingTier"]) for p in rows(d, "pricings")} for d in (oldest, latest)]
    assert any(tier == "Standard" and (pid, "Free") in tiers[0] for pid, tier in tiers[1])  # a plan switched on
    assert len(rows(latest, "securityconnectors")) > len(rows(oldest, "securityconnectors"))  # a connector added


def test_manifest_records_source_seed_scale_and_time(sample):
    manifest = read_manifest(sample)
    assert manifest["source"] == "sample" and manifest["seed"] == 0 and manifest["scale"] == "small"
    assert manifest["as_of"] == manifest["created"] == "2026-11-27T06:00:00Z"
    assert manifest["counts"]["assessments"] == len(rows(sample, "assessments"))


def test_scaled_tenant_has_the_requested_subscriptions(tmp_path):
    generate(tmp_path / "scaled", scale="30-subscriptions")
    assert len(rows(tmp_path / "scaled", "subscriptions")) == 30
    assert not (tmp_path / "scaled" / "history").exists()


# --- command and dataset reading ---------------------------------------------------------------------------------

def test_cli_generates_and_rejects_bad_input(tmp_path, capsys):
    assert main(["sample", "--out", str(tmp_path / "cli"), "--weeks", "2", "--plain"]) == 0
    weeks = list((tmp_path / "cli" / "history").iterdir())
    assert len(weeks) == 1
    # --plain: the latest week as plain JSON Lines (like `mdcnb pull`), earlier weeks still gzipped
    assert (tmp_path / "cli" / "assessments.jsonl").exists() and not list((tmp_path / "cli").glob("*.jsonl.gz"))
    assert list(weeks[0].glob("*.jsonl.gz")) and not list(weeks[0].glob("*.jsonl"))
    assert main(["sample", "--out", str(tmp_path / "bad"), "--scale", "huge"]) == 2
    assert "--scale" in capsys.readouterr().err
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "notes.txt").write_text("mine")
    assert main(["sample", "--out", str(tmp_path / "precious")]) == 2
    assert (tmp_path / "precious" / "notes.txt").exists()
    assert main(["sample", "--out", str(tmp_path / "precious" / "notes.txt")]) == 2
    assert main(["sample", "--out", str(tmp_path / "zero"), "--weeks", "0"]) == 2


def test_gzipped_records_read_transparently_and_truncation_is_a_skip(tmp_path):
    records = [{"id": f"/x/{i}", "n": i} for i in range(500)]
    assert write_records(tmp_path, "assessments", records, compress=True) == 500
    assert not (tmp_path / "assessments.jsonl").exists()
    assert read_records(tmp_path, "assessments").records == records
    path = tmp_path / "assessments.jsonl.gz"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    raw = read_records(tmp_path, "assessments")
    assert any("unreadable" in s.reason for s in raw.skips)
    assert 0 < len(raw.records) < 500 and raw.records == records[: len(raw.records)]
    assert json.loads(json.dumps(raw.skips[0].as_row()))["record_type"] == "assessments"


def test_blank_lines_are_passed_over_and_other_bytes_are_skips(tmp_path):
    """A line of ASCII whitespace only (space, tab, CR, vertical tab, form feed) or nothing is no record and no
    skip; a line with any other byte (here a non-breaking space, which is no ASCII whitespace) is a skip."""
    (tmp_path / "assessments.jsonl").write_bytes(
        b'{"id": "/x/1"}\n\n \t\r\x0b\x0c\n{"id": "/x/4"}\n\xa0\n   ')
    raw = read_records(tmp_path, "assessments")
    assert raw.records == [{"id": "/x/1"}, {"id": "/x/4"}] and raw.lines == [1, 4]
    assert [(s.location, s.reason.split(":")[0]) for s in raw.skips] == [("line 5", "not JSON")]
