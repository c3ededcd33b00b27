"""Secure score formulas; expected figures from the spec examples quoted in reference/azure-api.md §5 and by hand."""

from __future__ import annotations

import json

import pandas as pd
from azure_examples import dataset_from, example_items
from builders import assessment, metadata, score_control, secure_score, subscription_records

from mdcnb.analysis import compliance, score
from mdcnb.analysis.columns import per_value
from mdcnb.cli import main
from mdcnb.tables import Tables, load_tables

S1, S2 = "/subscriptions/11111111-0000-0000-0000-000000000001", "/subscriptions/11111111-0000-0000-0000-000000000002"


def test_control_current_from_the_documented_examples():
    assert score.control_current(4, 5, 1) == 3.33   # "Encrypt data in transit": 4 x 5/6
    assert score.control_current(4, 6, 72) == 0.31  # docs: 6/78 = 0.0769 ... 0.0769 x 4 = 0.31
    assert score.control_current(2, 0, 0) == 0.0    # only N/A resources: nothing counts


def test_single_scope_percentage_from_the_spec_example(tmp_path):
    tables = load_tables(dataset_from(
        tmp_path, securescores=example_items("securescore/ListSecureScores_example.json"),
        securescorecontrols=example_items("securescore/ListSecureScoreControlsForNameWithExpand_builtin_example.json")))
    scopes = score.scopes(tables)
    assert scopes.loc[0, "percentage"] == 60.33  # 23.53 / 39 = 0.6033
    assert score.overall(scopes) == {"current": 23.53, "max": 39.0, "percentage": 60.33}
    # the controls add up to the stored score: sum of current 23.53, sum of max 39
    controls = tables.score_controls
    assert round(controls["current"].sum(), 2) == 23.53 and controls["max"].sum() == 39


def test_management_group_weighted_query_by_hand():
    # ARG sample: sum(round(w x current/max, 2)) / sum(w, 0 counted as 1), max 0 adds 0 to the numerator.
    frame = pd.DataFrame({"current": [23.53, 34.3, 5.0, 0.0], "max": [39, 60, 10, 0], "weight": [67, 245, 0, 4]})
    # 67 x 23.53/39 = 40.4233 -> 40.42; 245 x 34.3/60 = 140.0583 -> 140.06; weight 0 -> 0; max 0 -> 0
    # (40.42 + 140.06) / (67 + 245 + 1 + 4) = 180.48 / 317 = 0.569338 -> 56.93 %
    assert score.aggregate_percentage(frame["current"], frame["max"], frame["weight"]) == 56.93
    assert score.aggregate_percentage(frame["current"][:0], frame["max"][:0], frame["weight"][:0]) != \
        score.aggregate_percentage(frame["current"][:0], frame["max"][:0], frame["weight"][:0])  # NaN, no error


def _two_scope_dataset(tmp_path):
    connector = f"{S2}/resourcegroups/rg/providers/microsoft.security/securityconnectors/aws-prod"
    return dataset_from(
        tmp_path,
        subscriptions=subscription_records(S1, "Prod") + subscription_records(S2, "Dev"),
        securityconnectors=[{"id": connector, "name": "aws-prod",
                             "properties": {"environmentName": "AWS", "hierarchyIdentifier": "123456789012",
                                            "offerings": []}}],
        securescores=[secure_score(S1, 8, 10, 2), secure_score(connector, 1, 4, 1, environment="AWS")],
        securescorecontrols=[
            score_control(S1, "ctl-x", current=2, maximum=4, healthy=1, unhealthy=1, name="X"),
            score_control(S1, "ctl-y", current=6, maximum=6, healthy=3, unhealthy=0, name="Y"),
            score_control(connector, "ctl-x", current=1, maximum=4, healthy=1, unhealthy=3, name="X"),
            score_control(connector, "ctl-y", current=0, maximum=0, healthy=0, unhealthy=0, not_applicable=2,
                          definition_max=6, name="Y"),
        ])


def test_scopes_overall_and_controls_across_a_subscription_and_a_connector(tmp_path):
    tables = load_tables(_two_scope_dataset(tmp_path))
    scopes = score.scopes(tables).set_index("name")
    assert scopes.loc["Prod", "percentage"] == 80.0 and scopes.loc["aws-prod", "percentage"] == 25.0
    assert scopes.loc["aws-prod", "environment"] == "AWS" and scopes.loc["aws-prod", "account"] == "123456789012"
    # (round(2 x 8/10, 2) + round(1 x 1/4, 2)) / (2 + 1) = (1.6 + 0.25) / 3 = 61.67 %
    assert score.overall(scopes)["percentage"] == 61.67
    controls = score.controls(tables).set_index("control_name")
    # X: impact = 2x4/10 + 1x4/4 = 1.8; achieved = 2x2/10 + 1x1/4 = 0.65
    #    potential = (1.8 - 0.65) / 3 x 100 = 38.33; current = 0.65/1.8 x 4 = 1.44
    assert controls.loc["X", "potential_increase"] == 38.33 and controls.loc["X", "current"] == 1.44
    assert controls.loc["Y", "potential_increase"] == 0.0  # full in S1, all N/A on the connector
    assert list(controls.index) == ["X", "Y"]  # ranked by potential increase
    assert (controls.loc["X", "healthy"], controls.loc["X", "unhealthy"]) == (2, 4)
    # 100 - overall = sum of potential increases when every weight is at least 1
    assert round(100 - 61.67, 2) == round(controls["potential_increase"].sum(), 2)


def test_scope_filters(tmp_path):
    tables = load_tables(_two_scope_dataset(tmp_path))
    assert list(score.scopes(tables, environments=["aws"])["name"]) == ["aws-prod"]
    assert list(score.scopes(tables, subscriptions=[S1.rsplit("/", 1)[1].upper()])["name"]) == ["Prod"]
    assert list(score.scopes(tables, accounts=["999"])["name"]) == ["Prod"]  # accounts restrict connectors only
    assert score.overall(score.scopes(tables, environments=["Azure"]))["percentage"] == 80.0


def test_recomputation_from_assessments_matches_and_flags_disagreement(tmp_path):
    sub = S1.rsplit("/", 1)[1]
    vm = f"{S1}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm"
    records = [
        assessment(f"{vm}1", "k1", "Healthy"), assessment(f"{vm}1", "k2", "Unhealthy"),   # vm1 unhealthy
        assessment(f"{vm}2", "k1", "Healthy"), assessment(f"{vm}2", "k2", "Healthy"),     # vm2 healthy
        assessment(f"{vm}3", "k1", "NotApplicable"),                                       # vm3 N/A
        assessment(f"{vm}4", "k1", "Healthy"), assessment(f"{vm}4", "k3", "Unhealthy"),   # k3 preview: healthy
        assessment(f"{vm}5", "k4", "Unhealthy"),                                           # control Z
    ]
    dataset_from(tmp_path,
                 assessments=records,
                 assessmentmetadata=[metadata("k1"), metadata("k2"), metadata("k3", preview=True), metadata("k4")],
                 securescores=[secure_score(S1, 2.67, 6, 1)],
                 securescorecontrols=[
                     # 2 healthy (vm2, vm4), 1 unhealthy (vm1), 1 N/A (vm3): 4 x 2/3 = 2.67
                     score_control(S1, "ctl-x", current=2.67, maximum=4, healthy=2, unhealthy=1, not_applicable=1,
                                   keys=("k1", "k2", "k3")),
                     # MDC claims 1 healthy; the assessments say 0 healthy, 1 unhealthy
                     score_control(S1, "ctl-z", current=2, maximum=2, healthy=1, unhealthy=0, keys=("k4",)),
                 ])
    tables = load_tables(tmp_path)
    assert tables.assessments["subscription_id"].eq(sub).all()
    recomputed = score.recompute_controls(tables).set_index("control_id")
    assert bool(recomputed.loc["ctl-x", "agrees"]) is True
    assert (recomputed.loc["ctl-x", "healthy"], recomputed.loc["ctl-x", "unhealthy"],
            recomputed.loc["ctl-x", "not_applicable"], recomputed.loc["ctl-x", "current"]) == (2, 1, 1, 2.67)
    assert bool(recomputed.loc["ctl-z", "agrees"]) is False
    assert (recomputed.loc["ctl-z", "healthy"], recomputed.loc["ctl-z", "unhealthy"],
            recomputed.loc["ctl-z", "current"]) == (0, 1, 0.0)
    scopes = score.recompute_scopes(tables).set_index("scope_id")
    assert scopes.loc[S1.lower(), "current"] == 2.67 and scopes.loc[S1.lower(), "max"] == 6
    assert bool(scopes.loc[S1.lower(), "agrees"]) is True  # stored 2.67 / 6


def test_connector_assessments_count_in_the_connector_scope(tmp_path):
    connector = f"{S2}/resourcegroups/rg/providers/microsoft.security/securityconnectors/aws-prod"
    entity = f"{connector}/securityentitydata/aws-s3-bucket-b1-eu-west-1"
    dataset_from(tmp_path,
                 assessments=[assessment(entity, "k1", "Unhealthy", source="Aws", connectorId="guid-1")],
                 securescores=[secure_score(connector, 0, 4, 1, environment="AWS")],
                 securescorecontrols=[score_control(connector, "ctl-x", current=0, maximum=4, healthy=0, unhealthy=1,
                                                    keys=("k1",))])
    recomputed = score.recompute_controls(load_tables(tmp_path))
    assert recomputed.loc[0, "scope_id"] == connector and recomputed.loc[0, "unhealthy"] == 1
    assert bool(recomputed.loc[0, "agrees"]) is True


def test_score_cli_json(tmp_path, capsys):
    dataset = _two_scope_dataset(tmp_path)
    assert main(["score", "--dataset", str(dataset), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["overall"] == {"current": 9.0, "max": 14.0, "percentage": 61.67}
    by_name = {s["name"]: s for s in document["scopes"]}
    assert by_name["Prod"] == {"id": S1.lower(), "name": "Prod", "environment": "Azure", "current": 8.0,
                               "max": 10.0, "percentage": 80.0, "weight": 2}
    assert by_name["aws-prod"]["environment"] == "AWS" and by_name["aws-prod"]["percentage"] == 25.0


def test_score_cli_table_and_skips_on_stderr(tmp_path, capsys):
    dataset = _two_scope_dataset(tmp_path)
    with (dataset / "securescores.jsonl").open("a") as fh:
        fh.write("{broken\n")
    assert main(["score", "--dataset", str(dataset)]) == 0
    captured = capsys.readouterr()
    assert "61.67%" in captured.out and "aws-prod" in captured.out
    assert "1 record(s) skipped" in captured.err and "line 3" in captured.err


def test_score_cli_without_scores(tmp_path, capsys):
    dataset = _two_scope_dataset(tmp_path)
    assert main(["score", "--dataset", str(dataset), "--environment", "GCP"]) == 0
    assert "No secure score" in capsys.readouterr().out
    assert main(["score", "--dataset", str(dataset), "--environment", "GCP", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["overall"] == {"current": 0.0, "max": 0.0, "percentage": None} and document["scopes"] == []
    measures = document["measures"]  # no GCP scope: no score, no scope, no assessment of one
    assert measures["score.overall"] is None and measures["score.scopes"] == 0 and measures["score.unhealthy"] == 0


def test_score_cli_missing_dataset(tmp_path, capsys):
    assert main(["score", "--dataset", str(tmp_path / "missing")]) == 2
    assert "dataset directory not found" in capsys.readouterr().err


def test_analysis_of_an_empty_dataset_gives_empty_tables_not_errors():
    empty = Tables()
    scopes = score.scopes(empty)
    assert scopes.empty and list(scopes.columns) == score.SCOPE_COLUMNS
    overall = score.overall(scopes)
    assert overall["current"] == 0 and overall["percentage"] != overall["percentage"]  # NaN
    for frame in (score.controls(empty), score.recompute_controls(empty), score.recompute_scopes(empty),
                  compliance.standards(empty), compliance.rollup(compliance.standards(empty)),
                  compliance.control_counts(empty), compliance.failing_controls(empty)):
        assert frame.empty and len(frame.columns) > 0


def _hand_counts(controls: pd.DataFrame, assessments: pd.DataFrame, unhealthy: set[int]) -> dict:
    """Per (scope, control): resources not applicable, healthy, unhealthy, by plain Python loops over the rows
    (each resource at the worst status of the control's non-preview assessments of it; rows in `unhealthy` count
    as Unhealthy)."""
    rank = {"notapplicable": 0, "healthy": 1, "unhealthy": 2}
    worst: dict[tuple, int] = {}
    for scope, control, keys in controls[["scope_id", "control_id", "assessment_keys"]].itertuples(index=False):
        for i, a in enumerate(assessments.itertuples(index=False)):
            own = a.connector_id if isinstance(a.connector_id, str) else "/subscriptions/" + a.subscription_id
            status = "unhealthy" if i in unhealthy else str(a.status).lower()
            if a.preview or own != scope or a.assessment_key not in keys or status not in rank:
                continue
            key = (scope, control, a.resource_id)
            worst[key] = max(worst.get(key, -1), rank[status])
    counts: dict[tuple, list[int]] = {}
    for (scope, control, _), r in worst.items():
        counts.setdefault((scope, control), [0, 0, 0])[r] += 1
    return counts


def test_recount_on_codes_matches_a_count_by_hand_with_and_without_a_what_if():
    """recompute_controls (joined once, recounted on integer codes) against loops over a random built table:
    repeats, unknown statuses, previews, connectors, keys shared by controls; and with assessments forced
    unhealthy (the exemption what-if) on the same joined rows."""
    import numpy as np

    from mdcnb.core import schema

    rng = np.random.default_rng(11)
    subs = [f"0000000{i}-0000-0000-0000-000000000000" for i in range(3)]
    connector = f"/subscriptions/{subs[0]}/providers/microsoft.security/securityconnectors/aws1"
    scopes = [f"/subscriptions/{s}" for s in subs] + [connector]
    n = 600
    assessments = schema.ASSESSMENTS.frame([{
        "assessment_key": f"k{rng.integers(0, 6)}", "subscription_id": subs[rng.integers(0, 3)],
        "connector_id": connector if rng.random() < 0.2 else None, "resource_id": f"/r/{rng.integers(0, 40)}",
        "status": ["Healthy", "Unhealthy", "NotApplicable", "unhealthy", "Unknown"][rng.integers(0, 5)],
        "preview": bool(rng.random() < 0.1), "severity": "High", "assessment_id": f"a{i}"} for i in range(n)])
    controls = schema.SCORE_CONTROLS.frame([{
        "score_name": "ascScore", "scope_id": scope, "control_id": f"ctl-{c}", "control_name": f"Control {c}",
        "assessment_keys": [f"k{k}" for k in keys], "max": 3.0, "definition_max": 3.0, "current": 1.0,
        "healthy": 1, "unhealthy": 1, "not_applicable": 0}
        for scope in scopes for c, keys in enumerate([(0, 1), (1, 2, 3), (4,), (5, 0)])])
    tables = Tables(assessments=assessments, score_controls=controls)
    resources = score.control_resources(tables)
    forced = set(rng.choice(n, 60, replace=False).tolist())
    mask = np.zeros(n, dtype=bool)
    mask[list(forced)] = True
    for unhealthy, what_if in ((set(), None), (forced, mask)):
        expected = _hand_counts(controls, assessments, unhealthy)
        got = score.recompute_controls(tables, resources=resources, unhealthy=what_if)
        assert len(got) == len(controls)
        for row in got.itertuples(index=False):
            assert [row.not_applicable, row.healthy, row.unhealthy] == \
                expected.get((row.scope_id, row.control_id), [0, 0, 0])
        assert got["healthy"].sum() + got["unhealthy"].sum() > 0  # the what-if and the baseline count something


def test_assessment_scope_is_the_connector_else_the_subscription_one_string_per_scope():
    """Worked by hand: rows 0 and 3 count in subscription s1's scope, row 1 in its connector's, row 2 (no
    subscription, no connector) in none; the two rows of s1 share one string (a million assessments of 2,000
    subscriptions made one new string per row, about 100 MB), and NA stays NA."""
    assessed = pd.DataFrame({"subscription_id": pd.array(["s1", "s2", None, "s1"], dtype="string"),
                             "connector_id": pd.array([None, "/c/aws", None, None], dtype="string")})
    scope = score.assessment_scope(assessed)
    assert scope.tolist() == ["/subscriptions/s1", "/c/aws", pd.NA, "/subscriptions/s1"]
    assert scope.dtype == "string" and scope.name == "connector_id"
    assert scope[0] is scope[3]


def test_per_value_transforms_each_distinct_value_once():
    seen: list[list[str]] = []

    def lower(values: pd.Series) -> pd.Series:
        seen.append(values.tolist())
        return values.str.lower()

    column = pd.Series(pd.array(["Healthy", "UNHEALTHY", None, "Healthy"], dtype="string"), index=[5, 6, 7, 8])
    out = per_value(column, lower)
    assert seen == [["Healthy", "UNHEALTHY"]]
    assert out.tolist() == ["healthy", "unhealthy", pd.NA, "healthy"] and out.index.tolist() == [5, 6, 7, 8]
