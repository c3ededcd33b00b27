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


def test_assessment_changes_match_a_hand_count_on_a_built_pair_of_weeks():
    """newly unhealthy / resolved / gone (a key lookup, ordered by severity, title, resource, then key) against
    dictionaries over a random pair of weeks with ties in title and resource, and rows keyed without an id."""
    import numpy as np

    from mdcnb.analysis.diff import assessment_changes
    from mdcnb.core import schema

    rng = np.random.default_rng(5)
    statuses = ["Healthy", "Unhealthy", "NotApplicable"]
    severities = ["Low", "High", "Critical", "Medium", "Unknown"]

    def week(ids):
        rows = []
        for i in ids:
            resource = f"/r/{i % 7}"  # several keys on one resource and title: the key breaks the tie
            rows.append({"assessment_id": None if i % 11 == 0 else f"/a/{i:04d}", "assessment_key": f"k{i}",
                         "resource_id": resource, "display_name": f"Title {i % 3}",
                         "severity": severities[i % 5], "status": statuses[rng.integers(0, 3)],
                         "subscription_id": "s", "resource_name": resource, "resource_type": "vm",
                         "environment": "Azure"})
        return schema.ASSESSMENTS.frame(rows)

    before, after = week(range(0, 400)), week(range(100, 500))
    key = lambda r: r["assessment_id"] or f"{r['assessment_key']}|{r['resource_id']}"  # noqa: E731
    was = {key(r): r for r in before.astype(object).to_dict("records")}
    now = {key(r): r for r in after.astype(object).to_dict("records")}
    rank = {"Critical": 0, "High": 1, "Medium": 2, "Low": 3}
    order = lambda k, rows: (rank.get(rows[k]["severity"], 4), rows[k]["display_name"], rows[k]["resource_id"])  # noqa: E731
    newly = sorted((k for k, r in now.items() if r["status"] == "Unhealthy"
                    and (k not in was or was[k]["status"] != "Unhealthy")), key=lambda k: (*order(k, now), k))
    resolved = sorted((k for k, r in now.items() if r["status"] in ("Healthy", "NotApplicable")
                       and k in was and was[k]["status"] == "Unhealthy"), key=lambda k: (*order(k, now), k))
    gone = sorted((k for k, r in was.items() if r["status"] == "Unhealthy" and k not in now),
                  key=lambda k: order(k, was))  # stable: ties in the week before's row order
    got_newly, got_resolved, got_gone = assessment_changes(before, after)
    keyed = lambda frame: [f"{k}|{r}" if k is not None else None for k, r in  # noqa: E731
                           zip(frame["assessment_key"], frame["resource_id"], strict=True)]
    by_pair = {f"{r['assessment_key']}|{r['resource_id']}": k for k, r in {**was, **now}.items()}
    assert [by_pair[p] for p in keyed(got_newly)] == newly
    assert [by_pair[p] for p in keyed(got_resolved)] == resolved
    assert [by_pair[p] for p in keyed(got_gone)] == gone
    assert list(got_newly["status_before"]) == [was[k]["status"] if k in was else "(new)" for k in newly]
    assert len(newly) > 20 and len(resolved) > 5 and len(gone) > 5


def test_key_match_keeps_the_last_row_of_a_key_and_pairs_null_keys_as_pandas_does():
    """The pairing the summary page reads instead of ids, on weeks built by hand: a key read twice keeps its last
    row, a row with no id and no recommendation key has a null key that pairs with the other week's null key, and
    only the kept rows whose status changed get a place in the key order (a, b, c; null last)."""
    import numpy as np

    from mdcnb.analysis.diff import assessment_changes, key_match
    from mdcnb.core import schema

    def week(rows):
        return schema.ASSESSMENTS.frame([{"assessment_id": i, "assessment_key": i and "k", "resource_id": "/r",
                                          "status": s, "display_name": "T", "severity": "High"} for i, s in rows])

    before = week([("a", "Unhealthy"), ("b", "Healthy"), ("a", "Healthy"), (None, "Unhealthy")])
    after = week([("b", "Unhealthy"), ("a", "Unhealthy"), ("c", "Healthy"), (None, "Healthy"), ("c", "Unhealthy")])
    match = key_match(before, after)
    assert match.after["kept"].tolist() == [True, True, False, True, True]
    assert match.after["before_row"].tolist() == [1, 2, -1, 3, -1]
    np.testing.assert_array_equal(match.after["key_order"].to_numpy(), [2, 1, np.nan, np.nan, 3])
    assert match.before["kept"].tolist() == [False, True, True, True]
    assert match.before["found"].tolist() == [True, True, True, True]
    newly, resolved, gone = assessment_changes(before, after, match)
    assert newly["status_before"].tolist() == ["Healthy", "Healthy", "(new)"]  # a, b, then c by the key order
    assert resolved["status_after"].tolist() == ["Healthy"] and gone.empty
    # a week compared with itself (a first run) pairs each kept row with itself, coded once or twice alike
    itself = key_match(after, after)
    assert itself.after["before_row"].tolist() == [0, 1, -1, 3, 4] and itself.after["key_order"].isna().all()
    assert itself.before["kept"].tolist() == [True, True, False, True, True] and itself.before["found"].all()
    copied = key_match(after, after.copy())
    pd.testing.assert_frame_equal(itself.after, copied.after)
    pd.testing.assert_frame_equal(itself.before, copied.before)
