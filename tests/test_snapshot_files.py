"""The week's snapshot as files (`mdcnb.snapshot.stored`): Parquet tables and a JSON manifest that read back exactly.

Every frame is compared with `assert_frame_equal` (values, dtypes, categories, index), every other value by type and
value. The inputs are the sample tenant recorded in a real history store, and a frame built here with every dtype the
writer knows."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from mdcnb import snapshot
from mdcnb.analysis import diff
from mdcnb.snapshot.parquet import FrameReader, FrameWriter
from mdcnb.snapshot.stored import MANIFEST
from mdcnb.sources.dataset import SAMPLE_DATASET
from mdcnb.tables.history_columns import COLUMNWISE_ROWS
from mdcnb.tables.history_weeks import StoredWeek


@dataclasses.dataclass
class Compared:
    frames: int = 0
    values: int = 0


def assert_same(written: Any, read: Any, where: str, seen: Compared) -> None:
    """`read` is `written`: frames by `assert_frame_equal`, dataclasses field by field, containers item by item
    (dict keys in order), anything else by type and value (times with their zone)."""
    assert type(read) is type(written), f"{where}: {type(read).__name__} instead of {type(written).__name__}"
    if isinstance(written, pd.DataFrame):
        assert_frame_equal(read, written, check_exact=True, obj=where)
        seen.frames += 1
    elif dataclasses.is_dataclass(written):
        for f in dataclasses.fields(written):
            if f.compare:  # Snapshot.memo is a cache, not data
                assert_same(getattr(written, f.name), getattr(read, f.name), f"{where}.{f.name}", seen)
    elif isinstance(written, dict):
        assert list(read) == list(written), f"{where}: keys"
        for key in written:
            assert_same(written[key], read[key], f"{where}[{key!r}]", seen)
    elif isinstance(written, (list, tuple)):
        assert len(read) == len(written), f"{where}: length"
        for i, (a, b) in enumerate(zip(written, read, strict=True)):
            assert_same(a, b, f"{where}[{i}]", seen)
    else:
        assert read == written, where
        if isinstance(written, datetime):
            assert read.utcoffset() == written.utcoffset(), where
        seen.values += 1


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """The sample's snapshot as `mdcnb report` builds it: its week recorded in a real store and read back, so that
    the history holds stored weeks and the previous week in full."""
    store = tmp_path_factory.mktemp("store") / "history.duckdb"
    snap = snapshot.build(SAMPLE_DATASET, with_history=False)
    snapshot.record(snap, store, log=lambda _: None)
    return snap


def test_the_sample_snapshot_reads_back_exactly_from_parquet_and_json(recorded, tmp_path):
    folder = tmp_path / "week" / "snapshot"
    manifest_path = snapshot.write(recorded, folder)
    read = snapshot.read(folder)

    seen = Compared()
    # stage 1 pairs the compared weeks' assessments for the kernels (a snapshot built here pairs them when compared)
    assert recorded.assessment_match is None
    paired = diff.key_match(recorded.history.previous.assessments, recorded.tables.assessments)
    assert_same(dataclasses.replace(recorded, assessment_match=paired), read, "snapshot", seen)
    # the previous week, copied from the store by DuckDB (never read into pandas) and read when first used
    assert isinstance(recorded.history.previous_tables, StoredWeek)
    assert_same(recorded.history.previous, read.history.previous, "history.previous", seen)
    stored_weeks = recorded.history.weeks
    assert len(stored_weeks) == 6 and recorded.history.previous is not None
    # frames: the tables of every week, the scan, the audits, the prices, the trails
    assert seen.frames > 6 * len(recorded.tables.items()) and seen.values > 100
    # what was one object is one object again: the history's latest week is the week's own tables
    assert recorded.history.latest is recorded.tables and read.history.latest is read.tables

    manifest = json.loads(manifest_path.read_text())
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    listed = {e["file"] for e in manifest["frames"].values() if "file" in e}
    assert files == listed | {MANIFEST, "inventories.json"}  # nothing else, no pickle
    for name in listed:
        data = (folder / name).read_bytes()
        assert data[:4] == data[-4:] == b"PAR1", name
    # row counts as the tables have them (counted here from the snapshot written, not from the manifest's writer)
    own = manifest["tables"]["tables"]["frames"]
    assert {t: manifest["frames"][own[t]]["rows"] for t in own} == {t: len(f) for t, f in recorded.tables.items()}
    assert manifest["frames"][own["assessments"]]["rows"] == 1407  # the sample's assessments (its manifest counts)
    assert not list(folder.parent.glob(".*"))  # the partial folder it was written in is gone
    # a table equal to one written before shares its file: this week's audit, as read back from the store
    stored_audit = recorded.history.audits["2026-W48"]
    assert stored_audit is not recorded.audit.results
    assert_frame_equal(stored_audit, recorded.audit.results)
    assert manifest["frames"]["history/audits/2026-W48"]["file"] == manifest["frames"]["audit/results"]["file"]


def test_every_dtype_and_index_reads_back_exactly(tmp_path):
    times = ["2026-11-27T06:00:00.1234567Z", None, "2026-11-28T23:59:59.0000001Z"]
    frame = pd.DataFrame({
        "string": pd.array(["a", None, "a"], dtype="string"),
        "str": pd.Series(["x", "y", None], dtype="str"),
        "Int64": pd.array([1, None, -3], dtype="Int64"),
        "int32": np.array([1, 2, 3], dtype="int32"),
        "float": [1.5, np.nan, -0.0],
        "boolean": pd.array([True, None, False], dtype="boolean"),
        "bool": [True, False, True],
        "utc": pd.to_datetime(times, utc=True, format="ISO8601").astype("datetime64[ns, UTC]"),
        "paris": pd.to_datetime(times, utc=True, format="ISO8601").tz_convert("Europe/Paris").astype(
            "datetime64[us, Europe/Paris]"),
        "naive": pd.to_datetime(["2026-01-01", None, "2026-01-03"]).astype("datetime64[s]"),
        "severity": pd.Categorical(["Low", None, "High"], categories=["Low", "Medium", "High"], ordered=True),
        "weight": pd.Categorical([3, 1, None]),
        "list": [["a", "b"], [], ["a", "b"]],
        "dict": [{"k": [1, {"x": None}], "n": 2.5}, None, {"k": "v"}],
    }, index=pd.Index([10, 20, 30], name="row"))
    writer = FrameWriter(tmp_path)
    writer.frame("all/dtypes", frame)
    writer.frame("all/empty", frame.iloc[:0])
    assert writer.frame("all/again", frame) == "all/dtypes"  # the same object is written once

    reader = FrameReader(tmp_path, json.loads(json.dumps(writer.entries)))  # as the manifest holds them
    back = reader.frame("all/dtypes")
    assert_frame_equal(back, frame, check_exact=True)
    assert_frame_equal(reader.frame("all/empty"), frame.iloc[:0], check_exact=True)
    assert back["list"][10] is back["list"][30]  # equal lists are one object, as the contracts keep them
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.parquet")) == ["all/dtypes.parquet"]


def test_a_cell_json_would_change_is_refused_when_written(tmp_path):
    frame = pd.DataFrame({"when": [datetime(2026, 11, 27)]}, dtype=object)
    with pytest.raises(TypeError, match="cannot be written to a snapshot as JSON"):
        FrameWriter(Path(tmp_path)).frame("times", frame)


def test_a_big_table_reads_back_exactly_column_by_column(tmp_path):
    """A table over `COLUMNWISE_ROWS` rows is read one column at a time, a column stored as a dictionary as an ENUM
    of its distinct values: the values, the missing cells, the dtypes and the sharing of equal strings and lists
    come back as written, also from a folder whose name holds a quote (the ENUM's query names the file)."""
    rows = COLUMNWISE_ROWS + 1_001
    states = np.array(["Healthy", "Unhealthy", "NotApplicable", None], dtype=object)[np.arange(rows) % 4]
    lists = [["a", "b"], [], ["c"]]
    frame = pd.DataFrame({
        "state": pd.array(states, dtype="string"),
        "id": pd.array([f"/subscriptions/{i:08d}/x" for i in range(rows)], dtype="string"),
        "region": pd.Series(np.array(["eu", "us", None], dtype=object)[np.arange(rows) % 3], dtype="str"),
        "all_missing": pd.array([None] * rows, dtype="string"),
        "tags": [lists[i % 3] for i in range(rows)],
        "extra": [None if i % 2 else {"n": i % 5} for i in range(rows)],
        "count": pd.array(np.arange(rows) % 7, dtype="Int64"),
        "severity": pd.Categorical(np.array(["Low", "High"])[np.arange(rows) % 2], categories=["Low", "High"]),
    })
    folder = tmp_path / "it's"
    folder.mkdir()
    writer = FrameWriter(folder)
    writer.frame("big", frame)
    writer.close()

    back = FrameReader(folder, json.loads(json.dumps(writer.entries))).frame("big")
    assert_frame_equal(back, frame, check_exact=True)
    assert back["state"].isna().sum() == rows // 4 and back["all_missing"].isna().all()
    assert len({id(v) for v in back["state"].array if v is not pd.NA}) == 3  # one object per distinct string
    assert back["tags"][0] is back["tags"][3] and back["extra"][0] is back["extra"][10]  # equal cells: one object


def test_a_read_frame_holds_the_columns_as_restored_not_copies(tmp_path, monkeypatch):
    """Each column read back is put in the frame as it is: copying them all (a dict's columns are copied by
    default) took 180 MB more while a million assessments were read, the first peak of every report kernel."""
    from mdcnb.snapshot import parquet

    rows = 3
    frame = pd.DataFrame({"id": pd.array(["a", "b", None], dtype="string"), "n": np.arange(rows, dtype="int64"),
                          "when": pd.date_range("2026-11-30", periods=rows, tz="UTC")})
    writer = FrameWriter(tmp_path)
    writer.frame("small", frame)
    writer.close()
    restored: dict[str, Any] = {}
    real = parquet._restored

    def kept(column, dtype_name, categories):
        restored[column.name] = real(column, dtype_name, categories)
        return restored[column.name]

    monkeypatch.setattr(parquet, "_restored", kept)
    back = FrameReader(tmp_path, writer.entries).frame("small")
    assert_frame_equal(back, frame, check_exact=True)
    for name in ("id", "when"):  # extension arrays: the frame's column holds the restored array's cells
        assert np.shares_memory(back[name].array._ndarray, restored[name].array._ndarray), name
    assert np.shares_memory(back["n"].to_numpy(), restored["n"].to_numpy())



_PROGRESS_BAR = """
from pathlib import Path
import duckdb
from mdcnb.snapshot.parquet import FrameReader, FrameWriter
from mdcnb.tables.history import HistoryStore
setting = "SELECT current_setting('enable_progress_bar')"
folder = Path({folder!r})
with HistoryStore(folder / "h.duckdb") as store:
    cons = [FrameReader(folder, {{}})._con, FrameWriter(folder)._con, store.con]
    print([duckdb.connect().execute(setting).fetchall()] + [c.execute(setting).fetchall() for c in cons])
"""


def test_no_duckdb_connection_of_mdcnb_shows_a_progress_bar_in_a_kernel(tmp_path):
    """In a notebook kernel DuckDB turns its progress bar on, and a long query under load would put that widget into
    an executed report notebook; mdcnb's connections turn it off (a plain connection, printed first, keeps it)."""
    from jupyter_client.manager import KernelManager

    from mdcnb.report.kernels import transport

    printed: list[str] = []
    manager = KernelManager(kernel_name="python3", config=transport(str(tmp_path)))
    manager.start_kernel()
    client = manager.client()
    try:
        client.start_channels()
        client.wait_for_ready(timeout=120)
        code = _PROGRESS_BAR.format(folder=str(tmp_path))
        reply = client.execute_interactive(code, timeout=120, output_hook=lambda m: printed.append(
            m["content"].get("text", "")))
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    assert reply["content"]["status"] == "ok"
    assert "".join(printed).strip() == "[[(True,)], [(False,)], [(False,)], [(False,)]]"


def test_the_week_diff_of_a_snapshot_read_without_assessment_ids_is_the_diff_of_the_weeks(recorded, tmp_path):
    """The summary page's kernel reads neither week's assessment ids: the pairing stage 1 wrote gives every change
    list the diff of the two weeks in memory (ids and all) gives, row for row."""
    from mdcnb.measures.history import week_diff

    folder = tmp_path / "snapshot"
    snapshot.write(recorded, folder)
    read = snapshot.read(folder, {"assessments": ["assessment_id"]})
    assert "assessment_id" not in read.tables.assessments.columns
    assert "assessment_id" not in read.history.previous.assessments.columns
    expected = diff.diff_tables(recorded.history.previous, recorded.tables)
    got = week_diff(read)
    assert got.counts() == expected.counts() and expected.counts()["newly_unhealthy"] > 0
    for name, frame in expected.lists().items():
        assert_frame_equal(got.lists()[name], frame, check_exact=True, obj=name)
