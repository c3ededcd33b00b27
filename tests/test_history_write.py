"""Writing a week to the history store cheaply: the dataset's fingerprint is remembered while its files are
unchanged, list cells are converted once per distinct list, and DuckDB's memory stays bounded while it writes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from history_tables import filled_frames

from mdcnb.core import schema
from mdcnb.tables import history, history_fingerprint
from mdcnb.tables.history import HistoryStore
from mdcnb.tables.history_columns import store_frame


def _expected_print(root: Path, files: dict[str, bytes]) -> str:
    """The fingerprint as defined: blake2b over each file's relative path, a NUL and its bytes, in path order."""
    digest = hashlib.blake2b(digest_size=16)
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name])
    return digest.hexdigest()


@pytest.fixture
def dataset(tmp_path, monkeypatch) -> tuple[Path, dict[str, bytes]]:
    monkeypatch.setenv("MDCNB_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "ds"
    files = {"manifest.json": b'{"source": "t"}', "assessments.jsonl": b'{"id": 1}\n{"id": 2}\n',
             "cloudtrail/a.json": "ünï".encode()}
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root, files


def test_an_unchanged_dataset_is_not_hashed_again_and_any_change_is(dataset, monkeypatch):
    root, files = dataset
    hashed: list[Path] = []
    real = history_fingerprint._content_hash
    monkeypatch.setattr(history_fingerprint, "_content_hash", lambda r, f: hashed.append(r) or real(r, f))
    assert history_fingerprint.dataset_fingerprint(root) == _expected_print(root, files)
    assert history_fingerprint.dataset_fingerprint(root) == _expected_print(root, files)
    assert len(hashed) == 1  # the second print came from the memo
    (root / "history" / "2026-W01").mkdir(parents=True)
    (root / "history" / "2026-W01" / "x.jsonl").write_bytes(b"older week")  # not part of the print
    assert history_fingerprint.dataset_fingerprint(root) == _expected_print(root, files)
    files["assessments.jsonl"] = b'{"id": 1}\n{"id": 3}\n'  # same size, other content
    stat = (root / "assessments.jsonl").stat()
    (root / "assessments.jsonl").write_bytes(files["assessments.jsonl"])
    os.utime(root / "assessments.jsonl", ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even with its old mtime
    assert history_fingerprint.dataset_fingerprint(root) == _expected_print(root, files)
    (root / "cloudtrail" / "a.json").unlink()
    del files["cloudtrail/a.json"]
    assert history_fingerprint.dataset_fingerprint(root) == _expected_print(root, files)
    assert len(hashed) == 3


@pytest.mark.parametrize("memo", [b"{not json", b"[1, 2]", b'{"x": 1}'])
def test_a_damaged_memo_costs_only_a_hash(dataset, tmp_path, memo):
    root, files = dataset
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / history_fingerprint.MEMO).write_bytes(memo)
    assert history_fingerprint.dataset_fingerprint(root) == _expected_print(root, files)
    assert history_fingerprint.dataset_fingerprint(root) == _expected_print(root, files)


def test_a_fingerprint_given_as_a_function_is_stored_once_the_tables_are_written(tmp_path):
    calls: list[str] = []
    with HistoryStore(tmp_path / "h.duckdb") as store:
        snap = store.save(filled_frames(rows=3), as_of="2026-11-23", source="test",
                          fingerprint=lambda: calls.append("hashed") or "abc123",
                          on_table=lambda name, rows: calls.append(name))
    assert snap.fingerprint == "abc123"
    assert calls[-1] == "hashed" and len(calls) == len(history.SNAPSHOT_TABLES) + 1


def test_list_cells_become_the_same_json_text_whether_shared_or_not():
    shared = ["a", "b"]
    cells = [shared, shared, ["a", "b"], ("x",), [], None, np.array(["q"]), ["ü", "\"quoted\""]]
    frame = pd.DataFrame({"categories": pd.Series(cells, dtype=object)})
    stored = store_frame(schema.ASSESSMENTS, frame)
    assert list(stored["categories"]) == ['["a","b"]', '["a","b"]', '["a","b"]', '["x"]', "[]", "[]", "[]",
                                          '["ü","\\"quoted\\""]']
    assert list(stored["row_no"]) == list(range(len(cells)))
    assert stored["status"].isna().all()  # a column the frame lacks is null


def _big_assessments(rows: int) -> pd.DataFrame:
    """`rows` assessments with 300-character unique ids (about 30 MB per 100,000 rows) and a few shared values."""
    return schema.ASSESSMENTS.from_columns({
        "assessment_id": [f"/subscriptions/{i:08d}/" + "x" * 300 for i in range(rows)],
        "status": ["Healthy", "Unhealthy"] * (rows // 2), "categories": [["Compute"], []] * (rows // 2)})


def _save_measuring_memory(path: Path, frames: dict[str, pd.DataFrame],
                           written: list[str] | None = None) -> tuple[int, pd.DataFrame]:
    """Save `frames`; DuckDB's memory in use right after it wrote the assessments, and the assessments read back.
    `written` collects the name of each table as it is written."""
    used: dict[str, int] = {}
    with HistoryStore(path) as store:
        def measure(name: str, _rows: int) -> None:
            used[name] = store.con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()[0]
            (written if written is not None else []).append(name)

        snap = store.save(frames, as_of="2026-11-23", source="test", on_table=measure)
        limit = store.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        assert limit != history.WRITE_MEMORY  # reading after the write is not held to it
        return used["assessments"], store.load_table(snap, "assessments")


def test_a_big_table_is_written_within_the_write_memory_and_reads_back_exactly(tmp_path, monkeypatch):
    """Unbounded, DuckDB holds about 80 MB for these rows before writing them (1.3 GB for a million real
    assessments); held to 32 MB it writes them out as it goes."""
    monkeypatch.setattr(history, "WRITE_MEMORY", "32MB")
    written = _big_assessments(150_000)
    used, back = _save_measuring_memory(tmp_path / "h.duckdb", {"assessments": written})
    assert used <= 32 * 2**20
    pd.testing.assert_frame_equal(written, back, check_exact=True)


def test_a_write_that_cannot_fit_the_write_memory_is_done_unbounded(tmp_path, monkeypatch):
    monkeypatch.setattr(history, "WRITE_MEMORY", "1MB")  # too little for one row group of these texts
    written, tables = _big_assessments(20_000), []
    _, back = _save_measuring_memory(tmp_path / "h.duckdb", {"assessments": written}, tables)
    assert tables.count("subscriptions") == 2  # the first attempt failed within the assessments
    pd.testing.assert_frame_equal(written, back, check_exact=True)
    with HistoryStore(tmp_path / "h.duckdb", read_only=True) as store:
        assert [s.row_counts["assessments"] for s in store.snapshots()] == [20_000]  # one snapshot, written once
