"""Compliance roll-ups, hand-counted."""

from __future__ import annotations

import json
import math

from azure_examples import dataset_from
from builders import assessment, compliance_assessment, compliance_control, compliance_standard

from mdcnb.analysis import compliance
from mdcnb.cli import main
from mdcnb.tables import load_tables

A, B = "aaaaaaaa-0000-0000-0000-000000000001", "bbbbbbbb-0000-0000-0000-000000000002"


def _dataset(tmp_path):
    vm = f"/subscriptions/{A}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm"
    return dataset_from(
        tmp_path,
        regulatorycompliancestandards=[
            compliance_standard(A, "PCI-DSS-4", passed=7, failed=4),
            compliance_standard(B, "PCI-DSS-4", passed=3, failed=0, skipped=2, state="Passed"),
            compliance_standard(A, "ISO-27001", passed=0, failed=0, unsupported=9, state="Unsupported"),
        ],
        regulatorycompliancecontrols=[
            compliance_control(A, "PCI-DSS-4", "1.1", "failed"),      # lower case as in the spec example
            compliance_control(A, "PCI-DSS-4", "1.2", "Passed"),
            compliance_control(A, "PCI-DSS-4", "1.3", "FAILED"),
            compliance_control(A, "PCI-DSS-4", "2.1", "skipped"),
            compliance_control(B, "PCI-DSS-4", "1.1", "Passed"),
        ],
        regulatorycomplianceassessments=[
            compliance_assessment(A, "PCI-DSS-4", "1.1", "k1", "Failed", failed_resources=2),
            compliance_assessment(A, "PCI-DSS-4", "1.1", "k2", "Passed"),
            compliance_assessment(A, "PCI-DSS-4", "1.3", "k3", "failed", failed_resources=1),
        ],
        assessments=[
            assessment(f"{vm}1", "k1", "Unhealthy"), assessment(f"{vm}2", "k1", "Unhealthy"),
            assessment(f"{vm}3", "k1", "Healthy"), assessment(f"{vm}1", "k3", "Unhealthy"),
        ])


def test_pass_rate_per_standard_and_scope(tmp_path):
    table = compliance.standards(load_tables(_dataset(tmp_path))).set_index(["subscription_id", "standard"])
    assert round(table.loc[(A, "PCI-DSS-4"), "pass_rate"], 4) == 0.6364   # 7 / (7 + 4)
    assert table.loc[(B, "PCI-DSS-4"), "pass_rate"] == 1.0                # 3 / (3 + 0)
    assert math.isnan(table.loc[(A, "ISO-27001"), "pass_rate"])           # 0 / 0: no rate, no error
    assert table.loc[(A, "ISO-27001"), "unsupported_controls"] == 9


def test_rollup_across_scopes(tmp_path):
    rollup = compliance.rollup(compliance.standards(load_tables(_dataset(tmp_path)))).set_index("standard")
    pci = rollup.loc["PCI-DSS-4"]
    assert (pci["scopes"], pci["passed_controls"], pci["failed_controls"], pci["skipped_controls"]) == (2, 10, 4, 2)
    assert round(pci["pass_rate"], 4) == 0.7143  # 10 / 14
    assert compliance.pass_rate(0, 0) != compliance.pass_rate(0, 0)  # NaN


def test_control_counts_compare_states_case_insensitively(tmp_path):
    counts = compliance.control_counts(load_tables(_dataset(tmp_path))).set_index(["subscription_id", "standard"])
    row = counts.loc[(A, "PCI-DSS-4")]
    assert (row["passed_controls"], row["failed_controls"], row["skipped_controls"]) == (1, 2, 1)
    assert round(row["pass_rate"], 4) == 0.3333


def test_failing_controls_with_assessments_and_resources(tmp_path):
    failing = compliance.failing_controls(load_tables(_dataset(tmp_path)))
    assert list(zip(failing["control"], failing["assessment_key"], strict=True)) == [("1.1", "k1"), ("1.3", "k3")]
    vm = f"/subscriptions/{A}/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm"
    assert failing.loc[0, "resources"] == [f"{vm}1", f"{vm}2"] and failing.loc[0, "failed_resources"] == 2
    assert failing.loc[1, "resources"] == [f"{vm}1"]
    assert compliance.failing_controls(load_tables(tmp_path), subscriptions=[B]).empty


def test_compliance_cli_json(tmp_path, capsys):
    assert main(["compliance", "--dataset", str(_dataset(tmp_path)), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["standards"]
    assert len(rows) == 3
    pci_a = next(r for r in rows if r["standard"] == "PCI-DSS-4" and r["scope"] == f"/subscriptions/{A}")
    assert pci_a == {"scope": f"/subscriptions/{A}", "standard": "PCI-DSS-4", "passed_controls": 7,
                     "failed_controls": 4, "skipped_controls": 0, "unsupported_controls": 0,
                     "pass_rate": 7 / 11}
    assert next(r for r in rows if r["standard"] == "ISO-27001")["pass_rate"] is None


def test_compliance_cli_table_and_tables_command(tmp_path, capsys):
    assert main(["compliance", "--dataset", str(_dataset(tmp_path)), "--standard", "pci-dss-4"]) == 0
    out = capsys.readouterr().out
    assert "PCI-DSS-4" in out and "ISO-27001" not in out and "0.7143" in out
    assert main(["tables"]) == 0
    assert "### `assessments`" in capsys.readouterr().out


def test_unhealthy_resources_match_a_count_by_hand_on_a_built_table():
    """The grouped lists (built on integer codes) against plain Python sets on a random table with repeats,
    mixed-case statuses and missing cells."""
    from types import SimpleNamespace

    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    n = 20_000
    pick = lambda values, p_missing=0.0: [None if rng.random() < p_missing else values[i]  # noqa: E731
                                          for i in rng.integers(0, len(values), n)]
    frame = pd.DataFrame({
        "subscription_id": pd.array(pick([f"sub-{i}" for i in range(40)], 0.01), dtype="string"),
        "assessment_key": pd.array(pick([f"key-{i:03d}" for i in range(60)], 0.01), dtype="string"),
        "resource_id": pd.array(pick([f"/r/{i}" for i in range(3_000)], 0.02), dtype="string"),
        "status": pd.array(pick(["Unhealthy", "unhealthy", "Healthy", "NotApplicable"], 0.05), dtype="string")})
    expected: dict[tuple[str, str], set] = {}
    for sub, key, resource, status in frame.astype(object).itertuples(index=False):
        if status is not pd.NA and status.lower() == "unhealthy" and sub is not pd.NA and key is not pd.NA:
            expected.setdefault((sub, key), set()).add(resource)
    got = compliance.unhealthy_resources(SimpleNamespace(assessments=frame))
    assert list(zip(got["subscription_id"], got["assessment_key"], strict=True)) == sorted(expected)
    for sub, key, resources in got.itertuples(index=False):
        wanted = expected[(sub, key)]
        assert resources == sorted(r for r in wanted if r is not pd.NA) + [pd.NA] * (pd.NA in wanted)
