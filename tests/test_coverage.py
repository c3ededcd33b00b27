"""Coverage analysis and figures on hand-built tables; expected values are counted by hand from the rows."""

from __future__ import annotations

import pandas as pd

from mdcnb.analysis import coverage
from mdcnb.analysis import readiness as aws_audit
from mdcnb.core import schema
from mdcnb.figures import coverage as figures

SETTINGS = pd.DataFrame([
    # scope_id, scope_type, level, environment, subscription_id, plan, enabled, sub_plan, trial_days, deprecated
    ("/subscriptions/a", "subscription", "subscription", "Azure", "a", "VirtualMachines", True, "P2", 12.0, False),
    ("/subscriptions/a", "subscription", "subscription", "Azure", "a", "StorageAccounts", False, "", 0.0, False),
    ("/subscriptions/a", "subscription", "subscription", "Azure", "a", "Dns", False, "", 0.0, True),
    ("/subscriptions/a", "subscription", "subscription", "Azure", "a", "Arm", False, "", 0.0, False),
    ("/subscriptions/a/rg/vm1", "resource", "resource", "Azure", "a", "VirtualMachines", False, "", 0.0, False),
    ("/conn/x", "connector", "connector", "AWS", "a", "VirtualMachines", True, "P1", 0.0, False),
], columns=["scope_id", "scope_type", "level", "environment", "subscription_id", "plan", "enabled", "sub_plan",
            "trial_days", "deprecated"])

UNITS = pd.DataFrame([
    # two storage accounts, one deallocated-style zero-unit VM, the subscription itself for Arm and Dns
    ("/subscriptions/a", "subscription", "sa1", "microsoft.storage/storageaccounts", "StorageAccounts", 1.0),
    ("/subscriptions/a", "subscription", "sa2", "microsoft.storage/storageaccounts", "StorageAccounts", 1.0),
    ("/subscriptions/a", "subscription", "/subscriptions/a", "subscription", "Arm", 1.0),
    ("/subscriptions/a", "subscription", "/subscriptions/a", "subscription", "Dns", float("nan")),
    ("/subscriptions/a", "subscription", "vm9", "microsoft.compute/virtualmachines", "VirtualMachines", 0.0),
], columns=["scope_id", "scope_type", "resource_id", "resource_type", "plan", "units"])


def test_plan_matrix_labels_every_scope_and_plan():
    matrix = coverage.plan_matrix(SETTINGS, {"/subscriptions/a": "prod"}).set_index("scope")
    assert list(matrix["level"]) == ["subscription", "resource", "connector"]
    assert matrix.loc["prod", "VirtualMachines"] == "Standard P2 (trial 12 d)"
    assert matrix.loc["prod", "StorageAccounts"] == "Free"
    assert matrix.loc["prod", "Dns"] == "Free [deprecated]"
    assert matrix.loc["vm1", "VirtualMachines"] == "Free"
    assert matrix.loc["x", "VirtualMachines"] == "Standard P1" and matrix.loc["x", "StorageAccounts"] == ""


def test_plans_off_only_where_protected_resources_exist():
    off = coverage.plans_off_with_resources(SETTINGS, UNITS, {"/subscriptions/a": "prod"})
    # StorageAccounts off with 2 accounts; Dns is deprecated, Arm per-subscription: both left out
    assert off[["subscription", "plan", "resources"]].values.tolist() == [["prod", "StorageAccounts", 2]]


def _results():
    rows = []
    for account, name, check, status, evidence in [
        ("111111111111", "prod", "connector.classic_and_native", "fail", "both"),
        ("111111111111", "prod", "servers.arc_machine", "fail", "2 of 3 running"),
        ("222222222222", "dev", "servers.arc_machine", "fail", "1 of 1 running"),
        ("222222222222", "dev", "connector.classic_and_native", "pass", "native only"),
        ("333333333333", None, "org.member_connectors", "could not check", "denied"),
        ("333333333333", None, "connector.classic_and_native", "not applicable", "no connector"),
    ]:
        rows.append({"account_id": account, "account_name": name, "check_id": check, "status": status,
                     "evidence": evidence})
    return schema.AWS_AUDIT.frame(rows)


def test_pitfalls_come_from_failing_audit_checks():
    counts = coverage.pitfall_counts(_results()).set_index("pitfall")["accounts"]
    assert counts["AWS account on both the classic and the native connector"] == 1
    assert counts["EC2 instance without Azure Arc"] == 2
    assert counts["Organisation member account without a connector"] == 0  # "could not check" is not a finding
    assert len(coverage.pitfalls(_results())) == 3


def test_readiness_matrix_figure_colours_each_cell_by_status():
    results = _results()
    fig = figures.readiness_matrix(results)
    heat = fig.data[0]
    assert list(heat.x) == ["connector.classic_and_native", "servers.arc_machine", "org.member_connectors"]
    assert list(heat.y) == ["111111111111 prod", "222222222222 dev", "333333333333"]
    codes = {s: i for i, s in enumerate(figures.STATUS_COLORS)}
    assert heat.z[2][2] == codes["could not check"] and heat.z[1][0] == codes["pass"]
    assert "2 of 3 running" in heat.text[0][1]


def test_outcome_and_pitfall_bars_carry_the_counts():
    counts = aws_audit.status_counts(_results())
    fig = figures.check_outcomes(counts)
    fails = next(t for t in fig.data if t.name == "fail")
    assert dict(zip(fails.y, fails.x, strict=True))["servers.arc_machine"] == 2
    pitfalls = coverage.pitfall_counts(_results())
    bars = figures.pitfall_counts(pitfalls).data[0]
    assert list(bars.x) == list(pitfalls["accounts"])


def test_connector_overview_and_counts():
    connectors = schema.CONNECTORS.frame([
        {"connector_id": "c1", "name": "org", "kind": "native", "environment": "AWS", "hierarchy_id": "1",
         "regions": [], "offering_types": ["DefenderForServersAws", "CspmMonitorAws"], "scan_interval_hours": 12},
        {"connector_id": "c2", "name": "old", "kind": "classic", "environment": "AWS", "hierarchy_id": "1"},
        {"connector_id": "c3", "name": "gcp", "kind": "native", "environment": "GCP", "hierarchy_id": "9",
         "regions": ["us-central1"], "offering_types": ["CspmMonitorGcp"]},
    ])
    overview = coverage.connectors_overview(connectors).set_index("name")
    assert list(overview.index) == ["old", "org", "gcp"]  # by environment, kind, account
    assert overview.loc["org", "offerings"] == "CspmMonitorAws, DefenderForServersAws"
    assert overview.loc["org", "regions"] == "all regions" and overview.loc["gcp", "regions"] == "us-central1"
    by_env = coverage.connectors_by_environment(connectors)
    assert by_env.values.tolist() == [["AWS", "classic", 1], ["AWS", "native", 1], ["GCP", "native", 1]]
    fig = figures.connectors_by_environment(by_env)
    assert sorted(t.name for t in fig.data) == ["classic", "native"]
    assert len(coverage.only(connectors, "environment", ["aws"])) == 2


def test_readiness_over_time_bars_follow_the_weeks():
    weekly = pd.DataFrame([("2026-W47", "pass", 10, 2), ("2026-W47", "fail", 3, 2), ("2026-W48", "pass", 12, 2),
                           ("2026-W48", "fail", 1, 2)], columns=["week", "status", "results", "accounts"])
    fig = figures.readiness_over_time(weekly)
    fails = next(t for t in fig.data if t.name == "fail")
    assert list(fails.x) == ["2026-W47", "2026-W48"] and list(fails.y) == [3, 1]
    assert "2026-W47 to 2026-W48" in fig.layout.title.text


def test_plan_matrix_heatmap_colours_each_cell_by_state():
    fig = figures.plan_matrix(coverage.plan_matrix(SETTINGS, {"/subscriptions/a": "prod"}))
    heat = fig.data[0]
    states = list(figures.PLAN_STATES)
    assert list(heat.y) == ["prod", "vm1 (resource)", "x (connector)"]
    cell = {(y, x): (states[heat.z[i][j]], heat.text[i][j], heat.customdata[i][j])
            for i, y in enumerate(heat.y) for j, x in enumerate(heat.x)}
    assert cell["prod", "VirtualMachines"] == ("trial", "trial", "Standard P2 (trial 12 d)")
    assert cell["prod", "Dns"] == ("deprecated", "", "Free [deprecated]")
    assert cell["prod", "StorageAccounts"] == ("Free", "", "Free")
    assert cell["x (connector)", "VirtualMachines"] == ("Standard", "P1", "Standard P1")
    assert cell["x (connector)", "StorageAccounts"] == ("no setting", "", "no setting")


def test_plan_labels_made_once_per_distinct_setting_match_each_row_by_hand():
    """Rows repeating a setting get the same label as rows labelled one by one; a missing trial is no trial."""
    rows = [(True, "P2", 0.0, False, "Standard P2"), (False, "", 0.0, False, "Free"),
            (True, "P1", 12.0, False, "Standard P1 (trial 12 d)"), (True, "", None, True, "Standard [deprecated]"),
            (True, "P2", 0.0, False, "Standard P2"), (False, "", 0.0, False, "Free"),
            (True, "P1", 12.0, False, "Standard P1 (trial 12 d)"), (True, "", None, True, "Standard [deprecated]")]
    settings = pd.DataFrame([{"scope_id": f"/subscriptions/s{i}", "level": "subscription", "plan": "VirtualMachines",
                              "enabled": e, "sub_plan": p, "trial_days": t, "deprecated": d}
                             for i, (e, p, t, d, _) in enumerate(rows)], index=range(10, 10 + len(rows)))
    labelled = coverage.plan_labels(settings)
    assert labelled["setting"].tolist() == [label for *_, label in rows]
    assert labelled.index.tolist() == list(range(10, 10 + len(rows)))
