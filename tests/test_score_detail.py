"""Secure score views on the hand-made tenant of score_tables.py; expected figures worked out in the comments."""

from __future__ import annotations

import pandas as pd
import score_tables as st

from mdcnb.analysis import compliance_detail, score, score_detail
from mdcnb.core import schema


def all_scopes():
    tables = st.tables()
    return tables, score.scopes(tables)


def test_by_environment_weighs_scopes_like_mdc():
    _, scopes = all_scopes()
    env = score_detail.by_environment(scopes).set_index("environment")
    # Azure: (round(2 x 6/10, 2) + round(0 x 3/10, 2)) / (2 + 1) x 100 = 1.2 / 3 x 100 = 40.0 (weight 0 counts as 1
    # below the line only); AWS: 1 x 2/5 / 1 x 100 = 40.0
    assert env.loc["Azure", "percentage"] == 40.0 and env.loc["AWS", "percentage"] == 40.0
    assert env.loc["Azure", ["scopes", "current", "max"]].tolist() == [2, 9.0, 20.0]


def test_control_recommendations_count_resources_per_recommendation():
    tables, scopes = all_scopes()
    recs = score_detail.control_recommendations(tables, scopes)
    rows = recs[["control_name", "assessment_key", "severity", "unhealthy", "healthy", "not_applicable", "scopes"]]
    # share = weight / scope max: A = (0.2x10 - 0.2x6) / (2+1+1) x 100 = 20; B = (0.2x5 - 0.2x2) / 4 x 100 = 15
    assert recs["potential_increase"].tolist() == [20.0, 20.0, 15.0]
    assert rows.values.tolist() == [["Enable MFA", "k1", "High", 2, 1, 1, 2],   # r1 (s1), r4 (s2); r2; r3
                                    ["Enable MFA", "k2", "Medium", 1, 0, 0, 1],
                                    ["Encrypt data", "k3", "Low", 2, 0, 0, 1]]  # k4 is preview: absent


def test_filters_by_scope_and_severity():
    tables, scopes = all_scopes()
    prod = scopes[scopes["name"] == "Prod"]
    recs = score_detail.control_recommendations(tables, prod)
    assert recs[["assessment_key", "unhealthy", "healthy"]].values.tolist() == [["k1", 1, 1], ["k2", 1, 0]]
    high = score_detail.control_recommendations(tables, scopes, severities=["high"])
    assert high["assessment_key"].tolist() == ["k1"]


def test_severity_by_control_and_best_control():
    tables, scopes = all_scopes()
    recs = score_detail.control_recommendations(tables, scopes)
    assert score_detail.severity_by_control(recs).values.tolist() == [
        ["Enable MFA", "High", 2], ["Enable MFA", "Medium", 1], ["Encrypt data", "Low", 2]]
    assert score_detail.best_control(score.controls(tables, scopes)) == ("Enable MFA", 20.0)
    assert score_detail.best_control(pd.DataFrame({"control_name": ["x"], "potential_increase": [0.0]})) is None


def test_unhealthy_resources_one_row_per_control_recommendation_resource():
    tables, scopes = all_scopes()
    res = score_detail.unhealthy_resources(tables, scopes)
    assert res[["control_name", "assessment_key", "resource_name"]].values.tolist() == [
        ["Enable MFA", "k1", "r1"], ["Enable MFA", "k1", "r4"], ["Enable MFA", "k2", "r1"],
        ["Encrypt data", "k3", "r5"], ["Encrypt data", "k3", "r6"]]
    assert len(score_detail.unhealthy_resources(tables, scopes, control_ids=[st.B.upper()])) == 2
    assert len(score_detail.unhealthy_resources(tables, scopes, severities=["Medium"])) == 1


def test_scope_names_and_labels_keep_scopes_apart():
    names = score_detail.scope_names(st.tables())
    assert names[f"/subscriptions/{st.S1}"] == "Prod" and names[st.C1] == "aws-acct"
    ids = pd.Series(["/subscriptions/x-00000001", "/subscriptions/x-00000002", "/subscriptions/x-00000003"])
    labels = score_detail.scope_label(ids, pd.Series({ids[0]: "Same", ids[1]: "Same", ids[2]: "Other"}))
    assert labels.tolist() == ["Same · …00000001", "Same · …00000002", "Other"]


def test_pass_rate_matrix_lowest_first_and_capped():
    standards = pd.DataFrame({"scope_id": ["/subscriptions/a", "/subscriptions/a", "/subscriptions/b"],
                              "standard": ["PCI", "ISO", "PCI"], "pass_rate": [0.5, 1.0, 0.0]})
    names = pd.Series({"/subscriptions/a": "A", "/subscriptions/b": "B"})
    matrix, suffix = compliance_detail.pass_rate_matrix(standards, names)
    assert matrix.index.tolist() == ["B", "A"] and suffix == ""  # means 0.0 and 0.75
    assert matrix.loc["A", "PCI"] == 0.5 and pd.isna(matrix.loc["B", "ISO"])
    capped, suffix = compliance_detail.pass_rate_matrix(standards, names, limit=1)
    assert capped.index.tolist() == ["B"] and suffix == " (lowest 1 of 2 scopes)"


def test_failing_summary_counts_and_names_the_first_resources():
    failing = pd.DataFrame({"scope_id": ["/subscriptions/a"], "standard": ["PCI"], "control": ["1.1"],
                            "control_description": ["d"], "assessment_key": ["k"], "description": ["x"],
                            "failed_resources": [5], "resources": [[f"/r/vm{i}" for i in range(5)]]})
    out = compliance_detail.failing_summary(failing, pd.Series({"/subscriptions/a": "A"}))
    assert out[["scope", "unhealthy_resources", "resources_first"]].values.tolist() == [
        ["A", 5, "vm0; vm1; vm2; … 2 more"]]


def test_states_view_names_scopes_and_drops_ids():
    standards = pd.DataFrame({"scope_id": ["/subscriptions/a", "/subscriptions/b"], "subscription_id": ["a", "b"],
                              "standard": ["PCI", "PCI"], "state": ["Failed", "Passed"],
                              "passed_controls": [1, 3], "failed_controls": [3, 0], "skipped_controls": [0, 1],
                              "unsupported_controls": [2, 0], "pass_rate": [0.25, 1.0]})
    out = compliance_detail.states_view(standards, pd.Series({"/subscriptions/a": "Prod"}))
    assert "scope_id" not in out and "subscription_id" not in out
    assert out[["standard", "scope", "state", "pass_rate"]].values.tolist() == [
        ["PCI", "Prod", "Failed", 0.25], ["PCI", "/subscriptions/b", "Passed", 1.0]]  # no name: the id stays


def test_recommendation_rows_counted_by_hand_on_codes():
    """The join and grouping on integer codes against a count by hand: pairs in the order the controls list their
    keys (s1/k1, s1/k2, s2/k1, c1/k3), each pair's assessments in table order; a recommendation renamed on one
    resource and a missing severity are groups of their own; the preview k4 joins nothing."""
    tables = st.tables()
    extra = schema.ASSESSMENTS.frame([st._assessment("k1", st.S1, "r7", "Unhealthy", "High", title="Renamed k1"),
                                      st._assessment("k1", st.S2, "r8", "Healthy", None)])
    tables.assessments = pd.concat([tables.assessments, extra], ignore_index=True)
    rows = score_detail.recommendation_rows(tables)
    got = rows[["pair", "severity", "display_name", "unhealthy", "healthy", "not_applicable", "position", "group"]]
    assert got.astype(object).where(got.notna(), None).values.tolist() == [
        [0, "High", "Recommendation k1", 1, 1, 1, 0, 0],   # s1/k1: r1 U, r2 H, r3 N/A (positions 0-2)
        [0, "High", "Renamed k1", 1, 0, 0, 3, 0],          # s1/k1: r7 (position 3)
        [1, "Medium", "Recommendation k2", 1, 0, 0, 4, 1],  # s1/k2: r1
        [2, "High", "Recommendation k1", 1, 0, 0, 5, 0],   # s2/k1: r4
        [2, None, "Recommendation k1", 0, 1, 0, 6, 0],     # s2/k1: r8, no severity
        [3, "Low", "Recommendation k3", 2, 0, 0, 7, 2]]    # c1/k3: r5, r6
    assert rows["scope_id"].astype(str).tolist() == [f"/subscriptions/{st.S1}"] * 3 + [f"/subscriptions/{st.S2}"] * 2 \
        + [st.C1]
    assert rows["severity_key"].tolist() == ["high", "high", "medium", "high", "", "low"]


def test_inner_join_pairs_left_rows_in_order_each_with_its_right_rows_in_order():
    left, right = pd.Series([2, -1, 0, 2, 5]).to_numpy(), pd.Series([0, 2, 2, -1, 0]).to_numpy()
    # left 0 (2) meets right 1 and 2; left 1 (missing) and left 4 (5) nothing; left 2 (0) right 0 and 4
    pairs = score_detail._inner_join(left, right)
    assert list(zip(*(p.tolist() for p in pairs), strict=True)) == [(0, 1), (0, 2), (2, 0), (2, 4), (3, 1), (3, 2)]
