"""The table cache: a big dataset is normalised once; any change to its files makes a new entry."""

from __future__ import annotations

import os

import pandas as pd
import pytest
from azure_examples import dataset_from
from builders import score_control, secure_score

from mdcnb import tables
from mdcnb.tables import cache as table_cache

SCOPE = "/subscriptions/11111111-0000-0000-0000-000000000001"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MDCNB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MDCNB_TABLE_CACHE", raising=False)
    monkeypatch.setattr(table_cache, "MIN_BYTES", 1)  # cache even this small dataset
    return tmp_path / "cache"


def _dataset(root):
    return dataset_from(root, securescores=[secure_score(SCOPE, 3, 6, 1)], securescorecontrols=[
        score_control(SCOPE, "ctl", current=3, maximum=6, healthy=1, unhealthy=1)])


def test_second_load_comes_from_the_cache(tmp_path, cache, monkeypatch):
    dataset = _dataset(tmp_path / "ds")
    first = tables.load_tables(dataset)
    assert len(list(cache.glob("*.pickle"))) == 1
    assert oct(next(cache.glob("*.pickle")).stat().st_mode & 0o777) == "0o600"

    def fail(path):
        raise AssertionError("normalised again although cached")

    monkeypatch.setattr(tables, "normalise_dataset", fail)
    second = tables.load_tables(dataset)
    for name, frame in first.items():
        pd.testing.assert_frame_equal(frame, second[name])
    assert second.dataset == dataset


def test_a_changed_file_is_normalised_again(tmp_path, cache):
    dataset = _dataset(tmp_path / "ds")
    assert len(tables.load_tables(dataset).secure_scores) == 1
    other = "/subscriptions/11111111-0000-0000-0000-000000000002"
    dataset_from(dataset, securescores=[secure_score(SCOPE, 3, 6, 1), secure_score(other, 1, 2, 1)])
    os.utime(dataset / "securescores.jsonl", ns=(1, 1))  # even with an old modification time: size changed
    assert len(tables.load_tables(dataset).secure_scores) == 2


def test_small_datasets_and_switched_off_cache_write_nothing(tmp_path, cache, monkeypatch):
    dataset = _dataset(tmp_path / "ds")
    monkeypatch.setenv("MDCNB_TABLE_CACHE", "off")
    tables.load_tables(dataset)
    monkeypatch.delenv("MDCNB_TABLE_CACHE")
    monkeypatch.setattr(table_cache, "MIN_BYTES", 10**12)
    tables.load_tables(dataset)
    assert not cache.exists() or not list(cache.glob("*.pickle"))


def test_a_corrupt_entry_is_rebuilt(tmp_path, cache):
    dataset = _dataset(tmp_path / "ds")
    tables.load_tables(dataset)
    entry = next(cache.glob("*.pickle"))
    entry.write_bytes(b"not a pickle")
    assert len(tables.load_tables(dataset).score_controls) == 1
    assert entry.read_bytes() != b"not a pickle"


def test_named_tables_are_read_alone_and_the_others_are_empty(tmp_path, cache, monkeypatch):
    dataset = _dataset(tmp_path / "ds")
    full = tables.load_tables(dataset)
    read: list[object] = []
    real_load = table_cache.pickle.load
    monkeypatch.setattr(table_cache.pickle, "load", lambda fh: read.append(1) or real_load(fh))
    some = tables.load_tables(dataset, names=["secure_scores"])
    assert len(read) == 2  # the index, then that one table: the others are not read
    pd.testing.assert_frame_equal(some.secure_scores, full.secure_scores)
    assert some.score_controls.empty and list(some.score_controls.columns) == list(full.score_controls.columns)
    assert some.manifest == full.manifest and some.dataset == dataset
    with pytest.raises(KeyError, match="no table 'scores'"):
        tables.load_tables(dataset, names=["scores"])


def test_named_tables_without_a_cache_are_the_same(tmp_path, monkeypatch):
    monkeypatch.setenv("MDCNB_TABLE_CACHE", "off")
    dataset = _dataset(tmp_path / "ds")
    some = tables.load_tables(dataset, names=["score_controls"])
    assert len(some.score_controls) == 1 and some.secure_scores.empty
