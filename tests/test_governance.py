"""Governance assignments, exemptions and risk levels (issue 20) on the sample tenant and on built inputs.

Expected figures come from the sample generator's declared cases (`mdcnb.sample.governance.ASSIGNMENTS` /
`EXEMPTIONS`) and from the raw records read with `gzip` + `json` here, never from the code under test.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import timedelta

import pandas as pd
import pytest
from azure_examples import dataset_from, example_items

from mdcnb.analysis import governance
from mdcnb.cli import main
from mdcnb.normalize.governance import governance_assignment, policy_exemption
from mdcnb.sample import governance as cases
from mdcnb.sample.context import AS_OF
from mdcnb.sources.dataset import SAMPLE_DATASET
from mdcnb.tables import load_tables

NONPROD = "mg-nonproduction"


def raw(record_type: str, dataset=SAMPLE_DATASET) -> list[dict]:
    with gzip.open(dataset / f"{record_type}.jsonl.gz", "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def cli_json(capsys, *args: str) -> dict:
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def live_cases() -> list[cases.AssignmentCase]:
    """Declared assignments that exist at the as-of time (made `CREATED_BEFORE_DUE` before their due date)."""
    return [c for c in cases.ASSIGNMENTS
            if AS_OF + timedelta(days=c.due_days) - cases.CREATED_BEFORE_DUE <= AS_OF]


def test_governance_json_is_the_declared_cases_per_folded_owner(capsys):
    counted = [c for c in live_cases() if c.kind == "unhealthy"]
    expected = {}
    for c in counted:
        owner = expected.setdefault(c.owner.casefold(), {"assigned": 0, "overdue": 0})
        owner["assigned"] += 1
        owner["overdue"] += c.due_days < 0
    out = cli_json(capsys, "governance")
    assert set(out) == {"assignments", "overdue", "unassigned_unhealthy", "owners"}
    assert out["assignments"] == len(counted) == 9
    assert out["overdue"] == sum(c.due_days < 0 for c in counted) == 5
    assert {o["owner"]: {"assigned": o["assigned"], "overdue": o["overdue"]} for o in out["owners"]} == expected
    assert [o["overdue"] for o in out["owners"]] == sorted((o["overdue"] for o in out["owners"]), reverse=True)


def test_owner_emails_differing_only_in_case_are_one_owner():
    spelled = {r["properties"]["owner"] for r in raw("governanceassignments")}
    folded = {o.casefold() for o in spelled}
    assert len(spelled) > len(folded)  # the sample really carries case variants
    assert set(load_tables().governance_assignments["owner"]) == folded


def unhealthy_without_owner() -> set[str]:
    """Ids of raw unhealthy assessments that no raw governance assignment names (case-insensitively)."""
    unhealthy = {r["id"].lower() for r in raw("assessments") if r["properties"]["status"]["code"] == "Unhealthy"}
    owned = {r["id"].lower().rsplit("/governanceassignments/", 1)[0] for r in raw("governanceassignments")}
    return unhealthy - owned


def test_unassigned_unhealthy_counts_raw_unhealthy_without_an_assignment(capsys):
    assert cli_json(capsys, "governance")["unassigned_unhealthy"] == len(unhealthy_without_owner())


def test_assignment_on_a_now_healthy_assessment_is_never_counted():
    remediated = [c for c in cases.ASSIGNMENTS if c.kind == "remediated"]
    assert remediated and all(c.due_days < 0 for c in remediated)  # its due date has passed
    status = {r["id"].lower(): r["properties"]["status"]["code"] for r in raw("assessments")}
    healthy = [r for r in raw("governanceassignments")
               if status[r["id"].lower().rsplit("/governanceassignments/", 1)[0]] == "Healthy"]
    assert len(healthy) == len(remediated)
    tables = load_tables()
    counted = governance.assignments(tables, pd.Timestamp(AS_OF))
    assert healthy[0]["id"].lower().rsplit("/governanceassignments/", 1)[0] not in set(counted["assessment_id"])


def test_grace_period_with_a_passed_due_date_is_overdue():
    grace_late = [c for c in live_cases() if c.grace_period and c.due_days < 0 and c.kind == "unhealthy"]
    grace_in_time = [c for c in live_cases() if c.grace_period and c.due_days > 0 and c.kind == "unhealthy"]
    assert grace_late and grace_in_time
    counted = governance.assignments(load_tables(), pd.Timestamp(AS_OF))
    grace = counted[counted["grace_period"].astype(bool)]
    assert int(grace["overdue"].sum()) == len(grace_late)
    assert int((~grace["overdue"]).sum()) == len(grace_in_time)


def test_exemptions_json_counts_each_declared_exemption_once(capsys):
    declared = cases.EXEMPTIONS
    out = cli_json(capsys, "exemptions")
    assert out == {"exemptions": len(declared),
                   "waiver": sum(c.category == "Waiver" for c in declared),
                   "mitigated": sum(c.category == "Mitigated" for c in declared),
                   "expired": sum(c.expires_days is not None and c.expires_days <= 0 for c in declared),
                   "expiring_30d": sum(c.expires_days is not None and 0 < c.expires_days <= 30 for c in declared)}
    assert out["waiver"] + out["mitigated"] == out["exemptions"] == 5
    assert out["expired"] == 1 and out["expiring_30d"] == 2


def test_management_group_exemption_applies_to_each_subscription_under_it(capsys):
    subs = raw("subscriptions")
    under = [s["subscriptionId"] for s in subs
             if any(g["name"] == NONPROD for g in s["properties"]["managementGroupAncestorsChain"])]
    outside = [s["subscriptionId"] for s in subs if s["subscriptionId"] not in under]
    assert under and outside
    declared_at = Counter(c.target for c in cases.EXEMPTIONS if c.scope != "managementgroup")
    names = {s["subscriptionId"]: s["name"] for s in subs}
    for sub in under + outside:
        expected = declared_at[names[sub]] + (sub in under)
        assert cli_json(capsys, "exemptions", "--subscription", sub)["exemptions"] == expected, names[sub]
    assert cli_json(capsys, "exemptions", "--subscription", under[0], "--subscription", under[1])["exemptions"] == 1


def test_risk_json_is_the_raw_risk_levels_of_unhealthy_assessments(capsys):
    expected = Counter((r["properties"].get("risk") or {}).get("level", "None") for r in raw("assessments")
                       if r["properties"]["status"]["code"] == "Unhealthy")
    out = cli_json(capsys, "risk")
    assert out == {"unhealthy_by_risk": {k: expected[k] for k in ("Critical", "High", "Medium", "Low", "None")}}
    assert all(out["unhealthy_by_risk"].values())  # every level, none included, occurs in the sample


def test_scope_filter_of_risk_is_that_of_score(capsys):
    sub = raw("subscriptions")[0]["subscriptionId"]
    expected = Counter((r["properties"].get("risk") or {}).get("level", "None") for r in raw("assessments")
                       if r["properties"]["status"]["code"] == "Unhealthy" and r["id"].lower().startswith(
                           f"/subscriptions/{sub}"))
    out = cli_json(capsys, "risk", "--subscription", sub)["unhealthy_by_risk"]
    assert out == {k: expected[k] for k in out}


def test_score_without_the_expiring_subscription_exemption_recomputed_by_hand():
    """The DDoS exemption of contoso-security: its one assessment counted unhealthy adds the control's maximum
    to that subscription's max with no points (the control had no healthy or unhealthy resource)."""
    case = next(c for c in cases.EXEMPTIONS if c.scope == "subscription")
    sub = next(s["subscriptionId"] for s in raw("subscriptions") if s["name"] == case.target)
    exempt = [r for r in raw("assessments") if r["properties"]["status"].get("cause") == "Exempt"
              and r["id"].lower().startswith(f"/subscriptions/{sub}/providers/")]
    assert len(exempt) == 1
    key = exempt[0]["name"]
    control = next(r for r in raw("securescorecontrols") if r["id"].lower().startswith(f"/subscriptions/{sub}/")
                   and any(d["id"].endswith(key) for d in r["properties"]["definition"]["properties"][
                       "assessmentDefinitions"]))
    assert control["properties"]["healthyResourceCount"] + control["properties"]["unhealthyResourceCount"] == 0
    added = control["properties"]["definition"]["properties"]["maxScore"]
    terms, weights = 0.0, 0.0
    for s in raw("securescores"):
        score, weight = s["properties"]["score"], s["properties"]["weight"] or 1
        maximum = score["max"] + (added if s["id"].lower() == f"/subscriptions/{sub}/providers/microsoft.security/"
                                                              f"securescores/ascscore" else 0)
        terms += round(s["properties"]["weight"] * score["current"] / maximum, 2) if maximum else 0.0
        weights += weight
    tables = load_tables()
    frame = governance.exemptions(tables, pd.Timestamp(AS_OF))
    held = governance.score_held_up(tables, frame[frame["name"] == case.name]).iloc[0]
    assert held["assessments"] == 1
    assert held["score_without"] == pytest.approx(round(terms / weights * 100, 2), abs=0.01)
    assert held["held_up"] > 0


def test_ids_join_case_insensitively_and_owners_fold(tmp_path):
    assessment = {"id": "/subscriptions/AAAA/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/VM1/"
                        "providers/Microsoft.Security/assessments/KEY1",
                  "name": "KEY1", "properties": {"status": {"code": "Unhealthy"}, "resourceDetails": {
                      "Source": "Azure", "Id": "/subscriptions/AAAA/resourceGroups/RG/providers/Microsoft.Compute/"
                                           "virtualMachines/VM1"}}}
    other_case = assessment["id"].lower().replace("virtualmachines", "VIRTUALMACHINES")
    assignment = {"id": other_case + "/governanceAssignments/G1",
                  "properties": {"owner": "Someone@Example.COM", "remediationDueDate": "2026-01-01T00:00:00Z"}}
    tables = load_tables(dataset_from(tmp_path, assessments=[assessment], governanceassignments=[assignment]))
    summary = governance.governance_summary(tables, pd.Timestamp("2026-02-01T00:00:00Z"))
    assert summary["owners"] == [{"owner": "someone@example.com", "assigned": 1, "overdue": 1}]
    assert summary["unassigned_unhealthy"] == 0


def test_unreadable_governance_and_exemption_records_are_counted_skips(tmp_path):
    dataset = dataset_from(tmp_path, governanceassignments=[{"id": "/subscriptions/x/providers/Foo/bar"}],
                           policyexemptions=[{"id": "/subscriptions/x/providers/Microsoft.Authorization/"
                                                    "policyExemptions/e", "properties": {}}])
    skips = load_tables(dataset).skips
    assert sorted(skips["record_type"]) == ["governanceassignments", "policyexemptions"]
    assert "not a governance assignment id" in " ".join(skips["reason"])
    assert "exemptionCategory" in " ".join(skips["reason"])


def test_published_examples_normalise():
    rows = [governance_assignment(_folded(r))["governance_assignments"][0]
            for r in example_items("governance/ListGovernanceAssignments_example.json")]
    assert [r["owner"] for r in rows] == ["user@contoso.com", "user2@contoso.com"]
    assert rows[0]["assessment_id"].endswith("/virtualmachines/win2012/providers/microsoft.security/assessments/"
                                             "6b9421dd-5555-2251-9b3d-2be58e2f82cd")
    assert rows[0]["grace_period"] is True and rows[0]["due_date"] == "2022-01-07T13:00:00.0000000Z"
    one = governance_assignment(_folded(example_items("governance/GetGovernanceAssignment_example.json")[0]))
    assert one["governance_assignments"][0]["notify_owner"] is True
    exemptions = [policy_exemption(_folded(r))["exemptions"][0]
                  for r in example_items("policy/listPolicyExemptionsForResourceGroup.json")]
    assert [(e["scope_type"], e["category"], e["policy_definition_reference_ids"], e["expires_on"])
            for e in exemptions] == [("subscription", "Waiver", ["limit_skus"], None),
                                     ("resourcegroup", "Mitigated", [], None)]


def _folded(record: dict) -> dict:
    from mdcnb.normalize.common import fold

    return fold(record)


def test_as_of_moves_the_judgement_and_bad_input_exits_2(capsys):
    """Judged a week after the sample's time, the declared cases due within that week become overdue too."""
    later = AS_OF + timedelta(days=7)
    expected = sum(1 for c in live_cases() if c.kind == "unhealthy" and c.due_days < 7)
    assert cli_json(capsys, "governance", "--as-of", later.isoformat())["overdue"] == expected > 5
    with pytest.raises(SystemExit) as stop:
        main(["exemptions", "--as-of", "next monday"])
    assert stop.value.code == 2 and "not an ISO date or time" in capsys.readouterr().err


def test_governance_panel_follows_owner_risk_and_scope():
    """The panel's owner table and overdue list follow the owner and risk pickers; the numbers come from the
    declared cases (Alice's two overdue items are the High/Critical ones the generator asked for)."""
    from mdcnb import widgets
    from mdcnb.snapshot import build

    panel = widgets.governance_explorer(build(SAMPLE_DATASET, with_history=False))
    headlines, owners, late, unowned, exemptions = (v.result for v in panel.views)
    assert dict(zip(headlines["measure"], headlines["value"], strict=True))["governance.overdue"] == 5
    assert len(owners) == 4 and int(late["overdue"].sum()) == 5 and len(exemptions) == len(cases.EXEMPTIONS)
    assert len(unowned) == min(50, len(unhealthy_without_owner()))
    alice = "alice.ng@contoso.com"
    panel.controls["owners"].value = (alice,)
    assert panel.views[1].result.to_dict("records") == [{"owner": alice, "assigned": 3, "overdue": 2}]
    panel.controls["risks"].value = ("Critical", "High")
    late_high = [c for c in cases.ASSIGNMENTS if c.owner.casefold() == alice and c.high_risk and c.due_days < 0]
    assert len(panel.views[2].result) == len(late_high) == 2
    assert panel.views[3].result.empty and panel.views[3].notice  # an owner picked: no unowned work, said so


def test_exempted_assessments_on_coded_columns_match_a_count_by_hand():
    """Each exemption matched on the assessments' columns coded once: NotApplicable with cause Exempt (any case),
    in its resource group (rg10 is not under rg1), resource, or subscriptions, and of its policy definitions."""
    from types import SimpleNamespace

    rg1 = "/subscriptions/sub1/resourcegroups/rg1"
    rows = [("a0", "sub1", f"{rg1}/providers/x/vm1", "NotApplicable", "Exempt", "/p/policyDefinitions/defA"),
            ("a1", "sub1", f"{rg1}/providers/x/vm2", "NotApplicable", "exempt", "/p/policyDefinitions/defB"),
            ("a2", "sub1", "/subscriptions/sub1/resourcegroups/rg10/providers/x/vm3", "NotApplicable", "Exempt",
             "/p/policyDefinitions/defA"),
            ("a3", "sub2", "/subscriptions/sub2/resourcegroups/rg1/providers/x/vm4", "NotApplicable", "Exempt",
             "/p/policyDefinitions/defA"),
            ("a4", "sub1", f"{rg1}/providers/x/vm1", "Unhealthy", "Exempt", "/p/policyDefinitions/defA"),
            ("a5", "sub1", f"{rg1}/providers/x/vm1", "NotApplicable", "OffByPolicy", "/p/policyDefinitions/defA"),
            ("a6", "sub2", None, "NotApplicable", "Exempt", None)]
    frame = pd.DataFrame(rows, columns=["assessment_id", "subscription_id", "resource_id", "status", "cause",
                                        "policy_definition_id"]).astype("string")
    tables = SimpleNamespace(assessments=frame)

    def exempted(scope_type: str, scope_id: str = "", subscriptions: tuple = (), references: tuple = ()) -> set:
        exemption = pd.Series({"scope_type": scope_type, "scope_id": scope_id, "subscriptions": list(subscriptions),
                               "policy_definition_reference_ids": list(references)})
        return set(governance.exempted_assessments(tables, exemption)["assessment_id"])

    assert exempted("resourcegroup", rg1) == {"a0", "a1"}
    assert exempted("resourcegroup", rg1, references=("defA",)) == {"a0"}
    assert exempted("resource", f"{rg1}/providers/x/vm1") == {"a0"}
    assert exempted("subscription", "/subscriptions/sub2", subscriptions=("sub2",)) == {"a3", "a6"}
    assert exempted("managementgroup", "/mg", subscriptions=("sub1", "sub2"), references=("defB",)) == {"a1"}
