"""The chunked score controls reader gives the per-row path's table exactly, on plain REST records sharing a
definition and on odd ones mixed into them (a key spelled otherwise, a missing score, a repeated id); the expected
figures are worked out by hand, and the test checks the chunked path really ran, so it cannot pass by falling back."""

from __future__ import annotations

import pandas as pd
from azure_examples import dataset_from
from columnar_pair import same_as_per_row

from mdcnb.normalize import score_columns
from mdcnb.sources.dataset import default_dataset

READER = score_columns  # the reader the `chunks` fixture counts
TABLES = ("score_controls",)  # the tables it makes, checked against the per-row path's
SUB = "20ff7fc3-e762-44dd-bd96-b71116dcdc23"
METADATA = "/providers/Microsoft.Security/assessmentMetadata"


def _definition(**props) -> dict:
    return {"id": "/providers/Microsoft.Security/secureScoreControlDefinitions/c1", "name": "c1",
            "properties": {"source": {"sourceType": "BuiltIn"}, "displayName": "MFA (definition)", "maxScore": 10,
                           "assessmentDefinitions": [{"id": f"{METADATA}/AAA"}, {"id": f"{METADATA}/Bbb"}],
                           **props}}


def _control(n: int, sub: str = SUB, **props) -> dict:
    return {"id": f"/subscriptions/{sub.upper()}/providers/Microsoft.Security/secureScores/ascScore/"
                  f"secureScoreControls/CTRL-{n}", "name": f"CTRL-{n}", "type": "microsoft.security/x",
            "properties": {"displayName": "Enable MFA", "healthyResourceCount": n, "unhealthyResourceCount": 1,
                           "notApplicableResourceCount": 0, "score": {"max": 10, "current": 2.5, "percentage": 0.25},
                           "weight": 4, "definition": _definition(), **props}}



def test_sample_score_controls_are_the_per_row_ones(chunks):
    table = same_as_per_row(default_dataset(), TABLES)
    assert len(table["score_controls"]) == 285 and table["skips"].empty  # the sample's controls, none skipped
    assert chunks["columnar"] >= 2 and chunks["per_row"] == 0


def test_plain_and_odd_records(tmp_path, chunks):
    no_name = _control(2, displayName=None)
    cased = _control(3, definition={"Properties": {"MaxScore": 5, "DisplayName": "Cased"}})  # folded: still read
    odd = _control(4, displayName=None)
    odd["properties"]["DisplayName"] = "Odd"  # read by the per-row path's folding only
    records = [
        _control(1), no_name, cased,                                         # lines 1-3: a plain chunk
        odd, _control(1, "0" * 8 + SUB[8:]), _control(6),                     # 4-6: one odd key
        _control(7, score={"max": 10}), _control(8, weight="9"), {**_control(9), "id": _control(1)["id"].lower()},
    ]                                                                        # 7-9: 7 has no current score, 9 repeats 1
    dataset_from(tmp_path, securescorecontrols=records)

    table = same_as_per_row(tmp_path, TABLES)
    assert [(s.location, s.reason.split(" (")[0]) for s in table["skips"].itertuples()] == [
        ("line 7", "missing properties.score.current or properties.score.max"),
        ("line 9", f"duplicate id {_control(1)['id'].lower()}")]
    got = table["score_controls"]
    assert got["control_id"].tolist() == ["ctrl-1", "ctrl-2", "ctrl-3", "ctrl-4", "ctrl-1", "ctrl-6", "ctrl-8"]
    assert got["scope_id"].tolist()[:5] == [f"/subscriptions/{SUB}"] * 4 + [f"/subscriptions/{'0' * 8 + SUB[8:]}"]
    assert got["control_name"].tolist()[:4] == ["Enable MFA", "MFA (definition)", "Enable MFA", "Odd"]
    assert got["healthy"].tolist() == [1, 2, 3, 4, 1, 6, 8]
    assert got["weight"].tolist() == [4, 4, 4, 4, 4, 4, 9]
    assert got["definition_max"].tolist() == [10.0, 10.0, 5.0, 10.0, 10.0, 10.0, 10.0]
    assert got["assessment_keys"][0] == ["aaa", "bbb"] and got["assessment_keys"][2] == []
    assert got["source_type"].tolist()[2:4] == [pd.NA, "BuiltIn"]
    assert (got.loc[0, "current"], got.loc[0, "max"], got.loc[0, "percentage"]) == (2.5, 10.0, 0.25)
    assert chunks["columnar"] == 1 and chunks["per_row"] == 2  # lines 1-3; 4-6 and 7-9
