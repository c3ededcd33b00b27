"""The columnar assessments reader gives the per-row path's tables exactly: on the sample, on the published Azure
examples, on hand-built odd records mixed into plain ones, and (when `MDCNB_LARGE_DATASET` names it) on the large
generated tenant. Each test also checks the columnar path really ran, so it cannot pass by falling back."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import orjson
import pandas as pd
import pytest
from azure_examples import dataset_from, example_items

from mdcnb.normalize import assessment_columns, normalise_dataset
from mdcnb.sources.dataset import default_dataset

SUB = "20ff7fc3-e762-44dd-bd96-b71116dcdc23"
RG = f"/subscriptions/{SUB.upper()}/resourceGroups/RG"


@pytest.fixture
def columnar_chunks(chunk_counter):
    """Counts the chunks the columnar path reads (and those it leaves to the per-row path)."""
    return chunk_counter(assessment_columns)


def _both(dataset: Path) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    return normalise_dataset(dataset).frames(), normalise_dataset(dataset, columnar=False).frames()


def _assert_same(columnar: dict[str, pd.DataFrame], per_row: dict[str, pd.DataFrame]) -> None:
    assert columnar.keys() == per_row.keys()
    for name in columnar:  # same rows in the same order (skips too), same dtypes
        pd.testing.assert_frame_equal(columnar[name], per_row[name], obj=name)


def test_sample_tables_are_the_per_row_tables(columnar_chunks):
    columnar, per_row = _both(default_dataset())
    _assert_same(columnar, per_row)
    assert len(columnar["assessments"]) == 1407  # the manifest's count; the sample has no skip
    assert columnar_chunks["columnar"] >= 1 and columnar_chunks["per_row"] == 0


def test_published_examples_rest_and_resource_graph_cased(tmp_path, columnar_chunks):
    expanded = example_items("assessments/GetAssessmentWithExpand_example.json")[0]  # vmss2 of the list, expanded
    items = [*example_items("assessments/ListAssessments_example.json"), {**expanded, "id": expanded["id"] + "-x"},
             *example_items("recordings/SecurityAssessmentTests.GetAllAssessments-1.json")]
    graph = copy.deepcopy(items)
    for item in graph:  # Resource Graph spelling: PascalCase resourceDetails, lower-case type, subscriptionId
        details = item["properties"]["resourceDetails"]
        item["properties"]["resourceDetails"] = {k[:1].upper() + k[1:]: v for k, v in details.items()}
        item["subscriptionId"] = SUB
    graph = [{**item, "id": item["id"] + "-arg"} for item in graph]
    metadata = example_items("recordings/SecurityAssessmentMetadataTests.GetAllAssessmentMetadata-1.json")
    dataset = dataset_from(tmp_path, assessments=items + graph, assessmentmetadata=metadata)
    columnar, per_row = _both(dataset)
    _assert_same(columnar, per_row)
    assert len(columnar["assessments"]) == 2 * (2 + 1 + 15) and columnar["skips"].empty
    assert columnar_chunks == {"columnar": 1, "per_row": 0}


def _assessment(n: int, key: str = "k1", **props) -> dict:
    resource = f"{RG}/providers/Microsoft.Compute/virtualMachines/VM{n}"
    return {"id": f"{resource}/providers/Microsoft.Security/assessments/{key}", "name": key, "subscriptionId": SUB,
            "properties": {"resourceDetails": {"Source": "Azure", "Id": resource}, "displayName": f"title {key}",
                           "status": {"code": "unhealthy", "statusChangeDate": f"2026-11-0{n % 9 + 1}T00:00:00Z"},
                           **props}}


def _nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"x": value}
    return value


def test_odd_records_mixed_into_plain_chunks(tmp_path, monkeypatch, columnar_chunks):
    monkeypatch.setattr(assessment_columns, "CHUNK", 4)
    plain = [_assessment(n) for n in range(8)]  # lines 1-8: two plain chunks
    aws = _assessment(9, "k2", metadata={"displayName": "inline k2", "severity": "high"})
    aws["properties"]["resourceDetails"] = {"source": "aws", "awsResourceId": "arn:aws:s3:::b1",
                                            "azureResourceId": f"{RG}/AwsRes/B1"}
    aws["properties"]["risk"] = {"level": "critical", "riskFactors": ["Internet exposure", ""]}
    no_id = _assessment(10, "k3", additionalData={"resourceType": "custom/type"})
    no_id["properties"]["resourceDetails"] = {"Source": "OnPremise"}  # resource id from the assessment id
    upper = _assessment(11)
    upper["Properties"] = upper.pop("properties")  # read by the per-row path's folding only
    records = [
        *plain,
        aws, no_id, _assessment(12, links={"azurePortal": "", "azurePortalUri": "portal/k1"}),  # plain, lines 9-11,
        _assessment(13),                                                                        # and 12
        upper,                                                                          # 13: odd spelling, a row
        plain[2],                                                                       # 14: duplicate of line 3
        _assessment(15, "k4") | {"name": 7},                                            # 15: non-text name, a row
        {**_assessment(16), "tags": _nested(70)},                                       # 16: too deep: skipped
        _assessment(17, "k2", metadata={"displayName": "late k2"}),                     # 17-20: plain again,
        _assessment(18), _assessment(19), _assessment(20),                              # k2's metadata from line 9
    ]
    bad_status = _assessment(21)
    bad_status["properties"]["status"]["code"] = "Broken"
    records.append(bad_status)                                                          # 21: skipped
    dataset_from(tmp_path, assessments=records)
    path = tmp_path / "assessments.jsonl"
    lines = path.read_bytes().splitlines()
    lines.insert(5, b'{"id": "not json"')  # line 6 is unreadable; the records after it move down by one
    path.write_bytes(b"\n".join(lines) + b"\n")

    columnar, per_row = _both(tmp_path)
    _assert_same(columnar, per_row)
    skips = [(s.location, s.reason.split(" (")[0].split(":")[0]) for s in columnar["skips"].itertuples()]
    assert skips == [("line 6", "not JSON"), ("line 15", "duplicate id " + orjson.loads(lines[2])["id"].lower()),
                     ("line 17", "nested deeper than 64 levels"), ("line 22", "unknown status.code 'Broken'")]
    rows = columnar["assessments"].set_index("assessment_id")
    assert len(rows) == 21 - 3
    aws_row = rows.loc[aws["id"].lower()]
    assert aws_row["resource_id"] == f"{RG}/awsres/b1".lower() and aws_row["environment"] == "AWS"
    assert aws_row["risk_level"] == "Critical" and list(aws_row["risk_factors"]) == ["Internet exposure"]
    assert aws_row["display_name"] == "title k2" and aws_row["severity"] == "High"
    assert rows.loc[records[16]["id"].lower(), "severity"] == "High"  # k2's metadata: the first record's
    no_id_row = rows.loc[no_id["id"].lower()]
    assert no_id_row["resource_id"] == f"{RG}/providers/Microsoft.Compute/virtualMachines/VM10".lower()
    assert no_id_row["resource_type"] == "custom/type"
    assert rows.loc[records[10]["id"].lower(), "portal_link"] == "portal/k1"
    assert rows.loc[upper["id"].lower(), "status"] == "Unhealthy"
    assert columnar_chunks["columnar"] >= 3 and columnar_chunks["per_row"] >= 2


@pytest.mark.skipif(not os.environ.get("MDCNB_LARGE_DATASET"), reason="set MDCNB_LARGE_DATASET to a large tenant")
@pytest.mark.timeout(3600)  # three loads of a million assessments, one of them record by record
def test_large_tenant_tables_are_the_per_row_tables(columnar_chunks):
    """Worker processes, one process column by column, and record by record give the same tables; the one-process
    load is the one counted (the workers' chunks are counted in their own processes)."""
    dataset = Path(os.environ["MDCNB_LARGE_DATASET"])
    pooled = normalise_dataset(dataset, processes=2).frames()
    one_process = normalise_dataset(dataset, processes=1).frames()
    assert columnar_chunks["columnar"] >= 1 and columnar_chunks["per_row"] == 0
    per_row = normalise_dataset(dataset, columnar=False).frames()
    _assert_same(one_process, per_row)
    _assert_same(pooled, per_row)


def test_raw_metadata_that_is_not_utf8_is_a_skip(tmp_path, monkeypatch, columnar_chunks):
    """msgspec passes the inline metadata through unread (raw), so a byte that is not UTF-8 in it reaches the chunk;
    orjson refuses that line, which becomes the skip the per-row reader gives it, not a crash of the load."""
    monkeypatch.setattr(assessment_columns, "CHUNK", 2)
    records = [_assessment(n, metadata={"displayName": "XX"}) for n in range(1, 5)]
    dataset_from(tmp_path, assessments=records)
    path = tmp_path / "assessments.jsonl"
    lines = path.read_bytes().splitlines()
    lines[2] = lines[2].replace(b'"XX"', b'"X\xffX"')  # line 3, in the second chunk
    path.write_bytes(b"\n".join(lines) + b"\n")

    columnar, per_row = _both(tmp_path)
    _assert_same(columnar, per_row)
    assert [(s.location, s.reason.split(":")[0]) for s in columnar["skips"].itertuples()] == [("line 3", "not JSON")]
    assert columnar["assessments"]["assessment_id"].tolist() == [records[n]["id"].lower() for n in (0, 1, 3)]
    assert columnar_chunks == {"columnar": 1, "per_row": 1}


def test_resource_details_read_raw_are_checked_as_typed(tmp_path, monkeypatch, columnar_chunks):
    """`resourceDetails` is kept as raw text and read once per distinct text: a byte that is not UTF-8 in it is the
    skip the per-row reader gives it, and a value that is no text sends its chunk to the per-row path, which reads
    it as text."""
    monkeypatch.setattr(assessment_columns, "CHUNK", 2)
    records = [_assessment(n) for n in range(1, 7)]
    records[4]["properties"]["resourceDetails"] = {"Source": "Azure", "Id": 5}  # line 5, in the third chunk
    dataset_from(tmp_path, assessments=records)
    path = tmp_path / "assessments.jsonl"
    lines = path.read_bytes().splitlines()
    lines[2] = lines[2].replace(b'VM3"},', b'VM\xff3"},', 1)  # line 3 (second chunk): in resourceDetails only
    assert lines[2].count(b"\xff") == 1
    path.write_bytes(b"\n".join(lines) + b"\n")

    columnar, per_row = _both(tmp_path)
    _assert_same(columnar, per_row)
    assert [(s.location, s.reason.split(":")[0]) for s in columnar["skips"].itertuples()] == [("line 3", "not JSON")]
    rows = columnar["assessments"]
    assert rows["assessment_id"].tolist() == [records[n]["id"].lower() for n in (0, 1, 3, 4, 5)]
    assert rows["resource_id"].tolist()[3] == "5"
    assert columnar_chunks == {"columnar": 1, "per_row": 2}


def test_risks_read_raw_are_checked_as_orjson_and_fold_check_them(tmp_path, monkeypatch, columnar_chunks):
    """`risk` is kept as raw text and read once per distinct text: a huge integer or a byte that is not UTF-8 in it is
    a line orjson refuses, a risk nested too deep one `fold` refuses, and a risk that is no object has no level, as
    in the per-row path (each odd line in a chunk of its own, beside a plain one)."""
    monkeypatch.setattr(assessment_columns, "CHUNK", 2)
    risky = {"level": "high", "riskFactors": ["Sensitive data", None]}
    records = [_assessment(n, risk=risky) for n in range(1, 11)]
    records[2]["properties"]["risk"] = {"level": "HUGE"}  # line 3
    records[4]["properties"]["risk"] = {"level": "high", "riskFactors": [_nested(70)]}  # line 5
    records[9]["properties"]["risk"] = ["high"]  # line 10: no object, no risk
    dataset_from(tmp_path, assessments=records)
    path = tmp_path / "assessments.jsonl"
    lines = path.read_bytes().splitlines()
    lines[2] = lines[2].replace(b'"HUGE"', b"1" * 320)
    lines[6] = lines[6].replace(b'"Sensitive data"', b'"Sensitive\xff data"')  # line 7
    path.write_bytes(b"\n".join(lines) + b"\n")

    columnar, per_row = _both(tmp_path)
    _assert_same(columnar, per_row)
    assert [(s.location, s.reason.split(":")[0]) for s in columnar["skips"].itertuples()] == [
        ("line 3", "not JSON"), ("line 5", "nested deeper than 64 levels"), ("line 7", "not JSON")]
    rows = columnar["assessments"]
    assert rows["assessment_id"].tolist() == [records[n]["id"].lower() for n in (0, 1, 3, 5, 7, 8, 9)]
    assert rows["risk_level"].tolist() == ["High"] * 6 + [pd.NA]
    assert [list(f) for f in rows["risk_factors"]] == [["Sensitive data"]] * 6 + [[]]
    assert columnar_chunks == {"columnar": 1, "per_row": 4}


def test_status_and_links_read_raw_are_typed_as_in_the_record(tmp_path, monkeypatch, columnar_chunks):
    """`status` and `links` are kept as raw text and typed once per distinct text: a status that is no object, a
    link object with a key the plain shape lacks, and a byte that is not UTF-8 in a status each send their chunk to
    the per-row path, which skips or reads them as it always does."""
    monkeypatch.setattr(assessment_columns, "CHUNK", 2)
    records = [_assessment(n, links={"azurePortal": f"p/{n}"}) for n in range(1, 9)]
    records[2]["properties"]["status"] = "Healthy"  # line 3
    records[4]["properties"]["links"] = {"azurePortal": "p/5", "other": "x"}  # line 5
    records[6]["properties"]["status"]["cause"] = "XX"  # line 7
    dataset_from(tmp_path, assessments=records)
    path = tmp_path / "assessments.jsonl"
    lines = path.read_bytes().splitlines()
    lines[6] = lines[6].replace(b'"XX"', b'"X\xffX"')
    path.write_bytes(b"\n".join(lines) + b"\n")

    columnar, per_row = _both(tmp_path)
    _assert_same(columnar, per_row)
    assert [(s.location, s.reason.split(":")[0]) for s in columnar["skips"].itertuples()] == [
        ("line 3", "unreadable record (AttributeError"), ("line 7", "not JSON")]
    rows = columnar["assessments"]
    assert rows["assessment_id"].tolist() == [records[n]["id"].lower() for n in (0, 1, 3, 4, 5, 7)]
    assert rows["portal_link"].tolist() == ["p/1", "p/2", "p/4", "p/5", "p/6", "p/8"]
    assert rows["status"].tolist() == ["Unhealthy"] * 6
    assert columnar_chunks == {"columnar": 1, "per_row": 3}
