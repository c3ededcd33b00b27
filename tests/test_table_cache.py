"""The table cache: a big dataset is normalised once; any change to the content of its files makes a new entry, and
an entry read back gives the tables exactly (every dtype of the contracts, nulls, shared lists)."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading

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


def _entries(cache):
    return [p for p in cache.iterdir() if (p / table_cache.ENTRY).exists()] if cache.exists() else []


def _dataset(root):
    return dataset_from(root, securescores=[secure_score(SCOPE, 3, 6, 1)], securescorecontrols=[
        score_control(SCOPE, "ctl", current=3, maximum=6, healthy=1, unhealthy=1)])


def test_second_load_comes_from_the_cache(tmp_path, cache, monkeypatch):
    dataset = _dataset(tmp_path / "ds")
    first = tables.load_tables(dataset)
    assert len(_entries(cache)) == 1
    files = list(_entries(cache)[0].iterdir())
    assert files and all(oct(f.stat().st_mode & 0o777) == "0o600" for f in files)

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
    assert not _entries(cache)


def test_a_corrupt_entry_is_rebuilt(tmp_path, cache):
    dataset = _dataset(tmp_path / "ds")
    tables.load_tables(dataset)
    table = _entries(cache)[0] / "score_controls.parquet"
    table.write_bytes(b"not parquet")
    assert len(tables.load_tables(dataset).score_controls) == 1
    assert table.read_bytes() != b"not parquet"


def test_named_tables_are_read_alone_and_the_others_are_empty(tmp_path, cache, monkeypatch):
    dataset = _dataset(tmp_path / "ds")
    full = tables.load_tables(dataset)
    read: list[str] = []
    real_read = table_cache._read_table
    monkeypatch.setattr(table_cache, "_read_table", lambda con, entry, name, rows: read.append(name) or
                        real_read(con, entry, name, rows))
    some = tables.load_tables(dataset, names=["secure_scores"])
    assert read == ["secure_scores"]  # the others are not read
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


def test_the_sample_read_back_from_the_cache_is_the_sample(tmp_path, cache, monkeypatch):
    """Every dtype of the contracts, nulls and lists, through the Parquet files and back."""
    fresh = tables.load_tables()
    assert _entries(cache)
    monkeypatch.setattr(tables, "normalise_dataset", None)  # a second load must read the entry
    again = tables.load_tables()
    for name, frame in fresh.items():
        pd.testing.assert_frame_equal(again[name], frame, obj=name)
    assert again.manifest == fresh.manifest and len(again.assessments) == 1407


def test_changed_content_with_the_same_size_and_time_is_normalised_again(tmp_path, cache):
    dataset = _dataset(tmp_path / "ds")
    path = dataset / "securescores.jsonl"
    assert tables.load_tables(dataset).secure_scores["current"].tolist() == [3.0]
    stat = path.stat()
    path.write_bytes(path.read_bytes().replace(b'"current":3', b'"current":4'))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
    assert tables.load_tables(dataset).secure_scores["current"].tolist() == [4.0]


def test_a_copy_of_the_dataset_finds_the_same_entry(tmp_path, cache, monkeypatch):
    dataset = _dataset(tmp_path / "ds")
    first = tables.load_tables(dataset)
    copy = tmp_path / "copy"
    shutil.copytree(dataset, copy)
    monkeypatch.setattr(tables, "normalise_dataset", None)
    second = tables.load_tables(copy)
    pd.testing.assert_frame_equal(second.secure_scores, first.secure_scores)
    assert second.dataset == copy and len(_entries(cache)) == 1


def test_a_cache_folder_with_a_quote_in_its_name_is_written(tmp_path, cache, monkeypatch):
    """A home folder such as /home/o'brien: the entry's paths are data, not SQL text."""
    monkeypatch.setenv("MDCNB_CACHE_DIR", str(tmp_path / "o'brien cache"))
    tables.load_tables(_dataset(tmp_path / "ds"))
    assert len(_entries(tmp_path / "o'brien cache")) == 1


def test_equal_texts_held_as_separate_objects_and_nulls_read_back_as_written(tmp_path):
    """Cells are coded by identity: an unshared text is stored once per object, a null as a null, and the entry
    reads back the same values (three rows, two of them equal texts in separate objects, one null)."""
    frame = tables.schema.SUBSCRIPTIONS.from_columns({
        "subscription_id": ["a", "b", "c"], "state": [None, None, "Enabled"],
        "management_group_path": [["root"], ["root"], []]})
    names = ["".join(["Sub", "scription A"]), "".join(["Subscription", " A"]), None]  # two objects
    frame["display_name"] = pd.Series(pd.array(names, dtype="string"))
    assert frame["display_name"][0] is not frame["display_name"][1]
    written = tables.Tables(subscriptions=frame)
    table_cache._write(tmp_path / "entry", written, {})
    read = table_cache._read(tmp_path / "entry", tmp_path, None)
    pd.testing.assert_frame_equal(read.subscriptions, frame)
    assert read.subscriptions["display_name"].tolist() == ["Subscription A", "Subscription A", pd.NA]
    assert read.subscriptions["state"].isna().tolist() == [True, True, False]


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_file_hashed_block_by_block_is_its_sha256(tmp_path):
    """Files of no block, of exactly one 4 MiB block and of two blocks and some bytes, read into one buffer, hash as
    their whole content does (no byte of an earlier block left in the buffer is hashed again)."""
    block = 1 << 22
    for size in (0, block, 2 * block + 3):
        path = tmp_path / f"{size}.jsonl"
        path.write_bytes(bytes(range(251)) * (size // 251) + b"x" * (size % 251))
        assert table_cache._file_sha256(path) == _sha256(path) and path.stat().st_size == size


def test_a_dataset_no_entry_can_match_is_hashed_while_it_is_normalised(tmp_path, cache, monkeypatch):
    """An empty cache: the files are hashed while the tables are built (the hash waits for the build to start; a
    hash before the build would wait in vain), and the entry's key is the code's digest and each file's SHA-256."""
    dataset = _dataset(tmp_path / "ds")
    building = threading.Event()
    normalise, sha256 = tables.normalise_dataset, table_cache._file_sha256

    def build(path):
        building.set()
        return normalise(path)

    def hashed_during_the_build(path):
        assert building.wait(10), "hashed before the tables were built"
        return sha256(path)

    monkeypatch.setattr(tables, "normalise_dataset", build)
    monkeypatch.setattr(table_cache, "_file_sha256", hashed_during_the_build)
    tables.load_tables(dataset)
    files = [dataset / "securescores.jsonl", dataset / "securescorecontrols.jsonl"]  # in RECORD_TYPES order
    key = hashlib.sha256(table_cache._code_digest().encode())
    for path in files:
        key.update(f"{path.name}:{_sha256(path)}".encode())
    assert [p.name for p in _entries(cache)] == [key.hexdigest()[:32]]


def test_an_unchanged_dataset_is_not_hashed_again(tmp_path, cache, monkeypatch):
    """The memo knows every file by its signature: the second load reads the entry without hashing a file."""
    dataset = _dataset(tmp_path / "ds")
    first = tables.load_tables(dataset)
    monkeypatch.setattr(table_cache, "_file_sha256", None)  # a file hashed would fail
    monkeypatch.setattr(tables, "normalise_dataset", None)
    pd.testing.assert_frame_equal(tables.load_tables(dataset).secure_scores, first.secure_scores)


def test_a_changed_byte_in_one_file_of_the_same_size_is_not_read_from_its_entry(tmp_path, cache):
    """The entry's sizes match, so the files are hashed before the build; one byte differs: a new entry."""
    dataset = _dataset(tmp_path / "ds")
    assert tables.load_tables(dataset).score_controls["current"].tolist() == [3.0]
    path = dataset / "securescorecontrols.jsonl"
    path.write_bytes(path.read_bytes().replace(b'"current":3', b'"current":4'))
    assert tables.load_tables(dataset).score_controls["current"].tolist() == [4.0]
    assert len(_entries(cache)) == 2


def test_a_file_changed_while_it_is_read_is_not_stored(tmp_path, cache, monkeypatch):
    """The file grows while the tables are built: the tables (of which content is unknown) are not stored, and the
    next load reads the grown file."""
    dataset = _dataset(tmp_path / "ds")
    normalise = tables.normalise_dataset
    other = "/subscriptions/11111111-0000-0000-0000-000000000002"

    def build_while_it_changes(path):
        built = normalise(path)
        dataset_from(dataset, securescores=[secure_score(SCOPE, 3, 6, 1), secure_score(other, 1, 2, 1)])
        return built

    monkeypatch.setattr(tables, "normalise_dataset", build_while_it_changes)
    assert len(tables.load_tables(dataset).secure_scores) == 1
    assert not _entries(cache)
    monkeypatch.undo()
    monkeypatch.setenv("MDCNB_CACHE_DIR", str(cache))
    monkeypatch.setattr(table_cache, "MIN_BYTES", 1)
    assert len(tables.load_tables(dataset).secure_scores) == 2
