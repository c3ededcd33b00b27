"""The week-over-week diff on two hand-built snapshots (tests/diff_snapshots.py): every change counted by hand."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from diff_snapshots import AFTER, BEFORE, C0, C1, EC2_2, S1, S2, VM1, VM2, VM3

from mdcnb.analysis.diff import CHANGE_LABELS, diff_tables


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
        "control_scores": 1,        # x 2 -> 3 points (y unchanged)
        "compliance_changes": 3,    # NS.1 Failed -> Passed, PCI 1.1 gone, PCI 1.2 new (NS.2 only changed case)
        "plans_on": 1,              # s1 VirtualMachines; s3 is a new scope, not a switch
        "plans_off": 1,             # s2 StorageAccounts
        "subscriptions_added": 1,   # s3
        "subscriptions_removed": 0,
        "connectors_added": 1,      # c1
        "connectors_removed": 1,    # c0
        "new_overdue": 0,           # no governance assignment in either week
        "lapsed_exemptions": 0,     # no exemption in either week
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
    # one scope of weight 1: the aggregated control keeps its points (x: 2 of 4 -> 3 of 4; y: 1 of 2 both weeks)
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
    # MDC's aggregate over scopes, weights 1: before (6/10 + 5/10) / 2 = 55 %; after (7/10 + 4.5/10 + 8/10) / 3 = 65 %
    assert diff.overall == {"before": 55.0, "after": 65.0, "delta": 10.0}
    payload = diff.as_dict()
    assert payload["counts"]["newly_unhealthy"] == 2
    assert payload["changes"]["compliance_changes"][1]["state_after"] is None
    assert payload["overall"]["delta"] == 10.0
    json.dumps(payload)  # plain JSON values only
