"""The columnar compliance reader gives the per-row path's tables exactly, on plain records and on odd ones mixed
into them (casing, unknown keys, missing fields, bad counts, repeated ids, an unreadable line); each test also
checks the columnar path really ran, so it cannot pass by falling back."""

from __future__ import annotations

import pandas as pd
from azure_examples import dataset_from
from columnar_pair import same_as_per_row

from mdcnb.normalize import compliance_columns
from mdcnb.sources.dataset import default_dataset

READER = compliance_columns  # the reader the `chunks` fixture counts
TABLES = ("compliance_assessments", "compliance_controls")  # the tables it makes, checked against the per-row path's
SUB = "20ff7fc3-e762-44dd-bd96-b71116dcdc23"
STANDARDS = f"/subscriptions/{SUB.upper()}/providers/Microsoft.Security/regulatoryComplianceStandards"


def _assessment(n: int, state: str = "failed", **props) -> dict:
    return {"id": f"{STANDARDS}/Std-A/regulatoryComplianceControls/NS.{n % 2}/regulatoryComplianceAssessments/"
                  f"KEY-{n}", "name": f"KEY-{n}", "type": "microsoft.security/x", "subscriptionId": SUB,
            "sku": None, "properties": {"description": f" check {n % 2} ", "state": state,
                                        "assessmentType": "AssessmentResult", "passedResources": n,
                                        "failedResources": 1, "skippedResources": 0, **props}}


def _control(n: int, **props) -> dict:
    return {"id": f"{STANDARDS}/Std-A/regulatoryComplianceControls/C.{n}", "name": f"C.{n}",
            "properties": {"description": "control", "state": "Passed", "passedAssessments": n,
                           "failedAssessments": 0, "skippedAssessments": 0, **props}}



def test_sample_compliance_tables_are_the_per_row_tables(chunks):
    columnar = same_as_per_row(default_dataset(), TABLES)
    assert len(columnar["compliance_assessments"]) > 0 and len(columnar["compliance_controls"]) > 0
    assert chunks["columnar"] >= 2 and chunks["per_row"] == 0


def test_odd_records_mixed_into_plain_chunks(tmp_path, chunks):
    upper = _assessment(4)
    upper["properties"]["State"] = upper["properties"].pop("state")  # read by the per-row path's folding only
    extra = _assessment(5, futureField={"new": True})  # a key the plain shape does not know
    assessments = [
        _assessment(1), _assessment(2, "PASSED"), _assessment(3),  # lines 1-3: a plain chunk
        upper, extra, {**_assessment(6), "id": None},                # 4-6: odd, 6 has no id: skipped
        _assessment(7, passedResources="7"), _assessment(8, passedResources=-1), _assessment(1),  # 7-9
        _assessment(10), _assessment(11, description=None), {k: v for k, v in _assessment(12).items()
                                                             if k != "properties"},             # 10-12: plain
        {**_assessment(13), "id": f"{STANDARDS}/Std-A/regulatoryComplianceControls/NS.1"},   # 13: wrong depth
    ]
    controls = [_control(1), _control(2, unsupportedAssessments=3), _control(3), _control(4, state=None)]
    dataset_from(tmp_path, regulatorycomplianceassessments=assessments, regulatorycompliancecontrols=controls)
    path = tmp_path / "regulatorycomplianceassessments.jsonl"
    path.write_bytes(path.read_bytes() + b'{"id": "/subscriptions/x/prov')  # a truncated last line: 14

    columnar = same_as_per_row(tmp_path, TABLES)
    skips = [(s.location, s.reason.split(" (")[0].split(":")[0]) for s in columnar["skips"].itertuples()]
    assert skips == [("line 6", "missing id"), ("line 8", "expected a count from 0 to 2**63 - 1, got -1"),
                     ("line 9", "duplicate id " + assessments[0]["id"].lower()),
                     ("line 13", "unexpected regulatory compliance id shape"), ("line 14", "not JSON")]
    rows = columnar["compliance_assessments"]
    assert rows["assessment_key"].tolist() == ["key-1", "key-2", "key-3", "key-4", "key-5", "key-7", "key-10",
                                               "key-11", "key-12"]
    assert rows["state"].tolist() == ["Failed", "Passed", "Failed", "Failed", "Failed", "Failed", "Failed",
                                      "Failed", pd.NA]  # key-12 has no properties
    assert rows["passed_resources"].tolist() == [1, 2, 3, 4, 5, 7, 10, 11, pd.NA]
    assert rows["description"].tolist()[:2] == ["check 1", "check 0"] and rows["description"].tolist()[7] is pd.NA
    assert set(rows["scope_id"]) == {f"/subscriptions/{SUB}"} and set(rows["subscription_id"]) == {SUB}
    assert rows["control"].tolist()[:2] == ["NS.1", "NS.0"] and set(rows["standard"]) == {"Std-A"}
    assert str(rows["passed_resources"].dtype) == "Int64" and str(rows["state"].dtype) == "string"
    controls_read = columnar["compliance_controls"]
    assert controls_read["control"].tolist() == ["C.1", "C.2", "C.3", "C.4"]
    assert controls_read["unsupported_assessments"].tolist() == [pd.NA, 3, pd.NA, pd.NA]
    assert controls_read["state"].tolist() == ["Passed", "Passed", "Passed", pd.NA]
    assert chunks["columnar"] >= 3 and chunks["per_row"] >= 2  # assessments: lines 1-3 and 10-12; controls: 1-3


def test_ids_of_odd_shapes(tmp_path, chunks):
    other = "0" * 8 + SUB[8:]
    tail = "regulatoryComplianceControls/C.1/regulatoryComplianceAssessments/K-1"
    ids = [  # lines 1-3: a plain chunk; 4-6: a non-ASCII id; 7-9: plain, the parts after the scope read before
        f"/subscriptions/{SUB}/resourceGroups/RG/providers/microsoft.security/REGULATORYCOMPLIANCESTANDARDS/odd"
        "/providers/Microsoft.Security/regulatoryComplianceStandards/Std-B/regulatoryComplianceControls/C.9"
        "/regulatoryComplianceAssessments/K-9",  # the marker twice: the last one ends the scope
        f"/subscriptions/{SUB.upper()}/PROVIDERS/microsoft.security/RegulatoryComplianceStandards/Std-C/{tail}",
        f"  {STANDARDS}/Std-C/regulatoryComplianceControls/C.2/regulatoryComplianceAssessments/K-2/ ",
        f"/subscriptions/{SUB}/resourceGroups/RG-İ/providers/Microsoft.Security/regulatoryComplianceStandards/"
        "Std-É/regulatoryComplianceControls/C.3/regulatoryComplianceAssessments/K-3",  # İ lower-cased: 2 letters
        f"/subscriptions/{other}/providers/Microsoft.Security/regulatoryComplianceStandards/Std-C/{tail}",
        f"{STANDARDS}/Std-C/regulatoryComplianceControls/C.4/regulatoryComplianceAssessments/K-4",
        f"/subscriptions/{other}/providers/Microsoft.Security/regulatoryComplianceStandards/Std-B/"
        "regulatoryComplianceControls/C.9/regulatoryComplianceAssessments/K-9",
        f"/subscriptions/{other}/providers/Microsoft.Security/regulatoryComplianceStandards/Std-C/"
        "regulatoryComplianceControls/C.2/regulatoryComplianceAssessments/K-2",
        f"/subscriptions/{other}/providers/Microsoft.Security/regulatoryComplianceStandards/Std-C/"
        "regulatoryComplianceControls/C.4/regulatoryComplianceAssessments/K-4",
    ]
    dataset_from(tmp_path, regulatorycomplianceassessments=[{**_assessment(n), "id": i} for n, i in enumerate(ids)])

    rows = same_as_per_row(tmp_path, TABLES)["compliance_assessments"].drop(index=3)  # line 4: as the per-row path
    ours, theirs = f"/subscriptions/{SUB}", f"/subscriptions/{other}"              # reads it (compared above)
    assert rows["scope_id"].tolist() == [
        f"{ours}/resourcegroups/rg/providers/microsoft.security/regulatorycompliancestandards/odd", ours, ours,
        theirs, ours, theirs, theirs, theirs]
    assert rows["subscription_id"].tolist() == [SUB] * 3 + [other, SUB] + [other] * 3
    assert rows["standard"].tolist() == ["Std-B", "Std-C", "Std-C", "Std-C", "Std-C", "Std-B", "Std-C", "Std-C"]
    assert rows["control"].tolist() == ["C.9", "C.1", "C.2", "C.1", "C.4", "C.9", "C.2", "C.4"]
    assert rows["assessment_key"].tolist() == ["k-9", "k-1", "k-2", "k-1", "k-4", "k-9", "k-2", "k-4"]
    assert chunks["columnar"] == 2 and chunks["per_row"] == 1
