"""Table contracts hold one object per distinct string and list value: a big tenant repeats a few hundred ids,
names and states over a million rows. Values and dtypes stay exactly what they were."""

from __future__ import annotations

import pandas as pd

from mdcnb.core import schema


def _fresh(text: str) -> str:
    return "".join(list(text))  # a new object with the same value


def test_equal_strings_become_one_object_and_values_are_unchanged():
    rows = [{"assessment_key": _fresh("k1"), "status": _fresh("Healthy"), "categories": [_fresh("Data")]}
            for _ in range(4)] + [{"assessment_key": None, "status": "Unhealthy", "categories": None}]
    frame = schema.ASSESSMENTS.frame(rows)
    assert str(frame["status"].dtype) == "string" and frame["assessment_key"].isna().tolist() == [False] * 4 + [True]
    assert frame["status"].tolist() == ["Healthy"] * 4 + ["Unhealthy"]
    assert len({id(v) for v in frame["status"]}) == 2
    assert frame["categories"].tolist() == [["Data"]] * 4 + [[]]
    assert len({id(v) for v in frame["categories"][:4]}) == 1


def test_lists_with_unhashable_items_are_kept_as_they_are():
    frame = schema.CONNECTORS.frame([{"regions": [{"not": "a string"}]}, {"regions": ("eu-west-1",)}])
    assert frame["regions"].tolist() == [[{"not": "a string"}], ["eu-west-1"]]


def test_a_frame_built_from_shared_values_equals_one_built_from_fresh_values():
    values = [_fresh("/subscriptions/abc") for _ in range(3)]
    shared = schema.SUBSCRIPTIONS.from_columns({"subscription_id": values})
    pd.testing.assert_series_equal(shared["subscription_id"], pd.Series(values, dtype="string", name="subscription_id"))


def test_identity_codes_code_each_object_once_in_order_of_first_appearance():
    import numpy as np

    shared, alone, twin = ["x"], _fresh("ab"), _fresh("ab")  # equal texts, two objects: two codes
    cells = np.array([shared, alone, None, shared, twin, None, alone, shared], dtype=object)
    codes, first = schema.identity_codes(cells)
    assert codes.tolist() == [0, 1, 2, 0, 3, 2, 1, 0] and first.tolist() == [0, 1, 2, 4]
    codes, first = schema.identity_codes(cells[::2])  # a strided view: read as its own cells
    assert codes.tolist() == [0, 1, 2, 3] and first.tolist() == [0, 1, 2, 3]
    codes, first = schema.identity_codes(np.empty(0, dtype=object))
    assert codes.tolist() == [] and first.tolist() == []
