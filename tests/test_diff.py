"""The week-over-week diff on two hand-built snapshots: every expected change is counted by hand below."""

from __future__ import annotations

import pandas as pd
import pytest

from mdcnb import schema
from mdcnb.analysis.diff import CHANGE_LABELS, diff_tables
from mdcnb.tables import Tables

S1, S2, S3 = "/subscriptions/s1", "/subscriptions/s2", "/subscriptions/s3"
C0 = "/subscriptions/s1/resourcegroups/rg/providers/microsoft.security/securityconnectors/c0"
C1 = "/subscriptions/s1/resourcegroups/rg/providers/microsoft.security/securityconnectors/c1"
VM1, VM2, VM3 = (f"{S1}/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm{i}" for i in (1, 2, 3))
ST1 = f"{S2}/resourcegroups/rg/providers/microsoft.storage/storageaccounts/st1"
EC2_1 = "arn:aws:ec2:us-east-1:111111111111:instance/i-1"
EC2_2 = "arn:aws:ec2:us-east-1:111111111111:instance/i-2"


def _assessment(key: str, resource: str, status: str, severity: str, env: str = "Azure") -> dict:
    sub = "s2" if resource == ST1 else "s1"
    return {"assessment_id": f"{resource}/providers/microsoft.security/assessments/{key}", "assessment_key": key,
            "subscription_id": sub, "environment": env, "resource_id": resource, "resource_name": resource[-4:],
            "resource_type": "t", "display_name": f"rec {key}", "status": status, "severity": severity}


def _resource(rid: str) -> dict:
    return {"resource_id": rid, "name": rid.rsplit("/", 1)[-1], "type": rid.split("/providers/")[1].rsplit("/", 1)[0],
            "subscription_id": "s2" if rid == ST1 else "s1"}


def _score(scope: str, pct: float, scope_type: str = "subscription") -> dict:
    return {"scope_id": scope, "score_name": "ascScore", "scope_type": scope_type, "environment": "Azure",
            "percentage": pct, "current": pct * 10, "max": 10.0, "weight": 1}


def _control(scope: str, control: str, current: float, mx: float) -> dict:
    return {"scope_id": scope, "score_name": "ascScore", "control_id": control, "control_name": f"ctl {control}",
            "current": current, "max": mx, "healthy": 1, "unhealthy": 1}


def _compliance(scope: str, standard: str, control: str, state: str) -> dict:
    return {"scope_id": scope, "subscription_id": scope.rsplit("/", 1)[1], "standard": standard, "control": control,
            "state": state, "description": f"{standard} {control}"}


def _plan(scope: str, plan: str, tier: str) -> dict:
    return {"scope_id": scope, "subscription_id": scope.rsplit("/", 1)[1], "level": "subscription", "plan": plan,
            "tier": tier, "enabled": tier == "Standard"}


def _connector(cid: str) -> dict:
    return {"connector_id": cid, "name": cid.rsplit("/", 1)[1], "environment": "AWS", "kind": "native"}


BEFORE = Tables(
    subscriptions=schema.SUBSCRIPTIONS.frame([{"subscription_id": "s1"}, {"subscription_id": "s2"}]),
    connectors=schema.CONNECTORS.frame([_connector(C0)]),
    resources=schema.RESOURCES.frame([_resource(VM1), _resource(VM2), _resource(ST1)]),
    assessments=schema.ASSESSMENTS.frame([
        _assessment("k1", VM1, "Unhealthy", "High"),
        _assessment("k2", VM1, "Healthy", "Medium"),
        _assessment("k1", VM2, "Unhealthy", "High"),
        _assessment("k3", ST1, "Unhealthy", "Low"),
        _assessment("k4", EC2_1, "Healthy", "Medium", env="AWS"),
    ]),
    secure_scores=schema.SECURE_SCORES.frame([_score(S1, 0.60), _score(S2, 0.50)]),
    score_controls=schema.SCORE_CONTROLS.frame([_control(S1, "x", 2.0, 4.0), _control(S1, "y", 1.0, 2.0)]),
    compliance_controls=schema.COMPLIANCE_CONTROLS.frame([
        _compliance(S1, "MCSB", "NS.1", "Failed"), _compliance(S1, "MCSB", "NS.2", "Passed"),
        _compliance(S2, "PCI", "1.1", "Failed"),
    ]),
    plans=schema.PLANS.frame([_plan(S1, "VirtualMachines", "Free"), _plan(S1, "StorageAccounts", "Standard"),
                              _plan(S2, "StorageAccounts", "Standard"), _plan(S2, "Containers", "Free")]),
)

AFTER = Tables(
    subscriptions=schema.SUBSCRIPTIONS.frame([{"subscription_id": s} for s in ("s1", "s2", "s3")]),
    connectors=schema.CONNECTORS.frame([_connector(C1)]),
    resources=schema.RESOURCES.frame([_resource(VM1), _resource(VM3), _resource(ST1)]),
    assessments=schema.ASSESSMENTS.frame([
        _assessment("k1", VM1, "Healthy", "High"),          # resolved
        _assessment("k2", VM1, "Unhealthy", "Medium"),      # newly unhealthy (was Healthy)
        _assessment("k3", ST1, "Unhealthy", "Low"),         # still unhealthy: no change
        _assessment("k4", EC2_1, "NotApplicable", "Medium", env="AWS"),  # healthy -> N/A: no change listed
        _assessment("k1", VM3, "Unhealthy", "Critical"),    # newly unhealthy (new resource)
        _assessment("k5", EC2_2, "Healthy", "Low", env="AWS"),  # new AWS resource, healthy
    ]),
    secure_scores=schema.SECURE_SCORES.frame([_score(S1, 0.70), _score(S2, 0.45), _score(C1, 0.80, "connector")]),
    score_controls=schema.SCORE_CONTROLS.frame([_control(S1, "x", 3.0, 4.0), _control(S1, "y", 1.0, 2.0)]),
    compliance_controls=schema.COMPLIANCE_CONTROLS.frame([
        _compliance(S1, "MCSB", "NS.1", "Passed"), _compliance(S1, "MCSB", "NS.2", "passed"),
        _compliance(S2, "PCI", "1.2", "Failed"),
    ]),
    plans=schema.PLANS.frame([_plan(S1, "VirtualMachines", "Standard"), _plan(S1, "StorageAccounts", "Standard"),
                              _plan(S2, "StorageAccounts", "Free"), _plan(S2, "Containers", "Free"),
                              _plan(S3, "CloudPosture", "Standard")]),
)


@pytest.fixture(scope="module")
def diff():
    return diff_tables(BEFORE, AFTER)


def test_hand_counted_changes(diff):
    assert diff.counts() == {
        "newly_unhealthy": 2,       # k2 on vm1 (Healthy -> Unhealthy), k1 on vm3 (new)
        "resolved": 1,              # k1 on vm1
        "unhealthy_gone": 1,        # k1 on vm2, removed with vm2
        "new_resources": 2,         # vm3, EC2 i-2
        "removed_resources": 1,     # vm2
        "scope_scores": 3,          # s1 +10, s2 -5, connector c1 new
        "control_scores": 1,        # s1/x 2 -> 3 (y unchanged)
        "compliance_changes": 3,    # NS.1 Failed -> Passed, PCI 1.1 gone, PCI 1.2 new (NS.2 only changed case)
        "plans_on": 1,              # s1 VirtualMachines; s3 is a new scope, not a switch
        "plans_off": 1,             # s2 StorageAccounts
        "subscriptions_added": 1,   # s3
        "subscriptions_removed": 0,
        "connectors_added": 1,      # c1
        "connectors_removed": 1,    # c0
    }
    assert set(diff.counts()) == set(CHANGE_LABELS)


def test_change_rows_name_what_changed(diff):
    assert diff.newly_unhealthy["resource_id"].tolist() == [VM3, VM1]  # Critical before Medium
    assert diff.newly_unhealthy["status_before"].tolist() == ["(new)", "Healthy"]
    assert diff.resolved[["assessment_key", "resource_id", "status_after"]].values.tolist() == [["k1", VM1, "Healthy"]]
    assert diff.unhealthy_gone["resource_id"].tolist() == [VM2]
    assert sorted(diff.new_resources["resource_id"]) == sorted([VM3, EC2_2])
    assert diff.new_resources.set_index("resource_id").loc[EC2_2, "environment"] == "AWS"
    assert diff.removed_resources["resource_id"].tolist() == [VM2]
    assert diff.plans_on[["scope_id", "plan"]].values.tolist() == [[S1, "VirtualMachines"]]
    assert diff.plans_off[["scope_id", "plan", "tier_after"]].values.tolist() == [[S2, "StorageAccounts", "Free"]]
    assert diff.connectors_added["connector_id"].tolist() == [C1]
    assert diff.connectors_removed["connector_id"].tolist() == [C0]


def test_score_deltas_in_points(diff):
    scores = diff.scope_scores.set_index("scope_id")
    assert scores.loc[S1, ["before", "after", "delta"]].tolist() == [60.0, 70.0, 10.0]
    assert scores.loc[S2, ["before", "after", "delta"]].tolist() == [50.0, 45.0, -5.0]
    assert pd.isna(scores.loc[C1, "before"]) and scores.loc[C1, "after"] == 80.0
    moved = diff.control_scores[diff.control_scores["delta"] != 0]
    assert moved[["control_id", "current_before", "current_after", "delta"]].values.tolist() == [["x", 2.0, 3.0, 1.0]]


def test_compliance_state_changes(diff):
    rows = diff.compliance_changes[["control", "state_before", "state_after"]].astype(object)
    rows = rows.where(rows.notna(), None).values.tolist()
    assert rows == [["NS.1", "Failed", "Passed"], ["1.1", "Failed", None], ["1.2", None, "Failed"]]


def test_identical_snapshots_have_no_changes():
    same = diff_tables(AFTER, AFTER)
    assert sum(same.counts().values()) == 0


def test_overall_score_delta_and_json(diff):
    def mean_percent(tables):  # a stand-in aggregation: the diff only carries what it is given
        return round(float(tables.secure_scores["percentage"].mean() * 100), 2)

    with_overall = diff_tables(BEFORE, AFTER, overall_score=mean_percent)
    # hand: before mean(60, 50) = 55; after mean(70, 45, 80) = 65
    assert with_overall.overall == {"before": 55.0, "after": 65.0, "delta": 10.0}
    payload = with_overall.as_dict()
    assert payload["counts"]["newly_unhealthy"] == 2
    assert payload["changes"]["compliance_changes"][1]["state_after"] is None
    import json

    json.dumps(payload)  # plain JSON values only
