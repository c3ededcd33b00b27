"""A big dataset normalised by worker processes (`mdcnb.normalize.pooled`) gives exactly the tables and skips of the
record-by-record reader in one process: on the sample, and on assessments files whose later spans hold what only an
earlier span can decide (a duplicate id, a recommendation's metadata) or unreadable lines. Each test also says
whether the spans were joined or read again in one process, so it cannot pass by falling back."""

from __future__ import annotations

import gzip
import shutil

import orjson
import pandas as pd
import pytest
from test_assessment_columns import _assessment

from mdcnb.normalize import assessment_columns, normalise_dataset, pooled
from mdcnb.sources.dataset import default_dataset


@pytest.fixture
def joins(monkeypatch):
    """Every dataset counts as big; the outcome of each join of spans (True: joined, False: read again)."""
    monkeypatch.setattr(pooled, "MIN_BYTES", 1)
    outcomes: list[bool] = []
    join = pooled._joined

    def recorded(spans):
        joined = join(spans)
        outcomes.append(joined is not None)
        return joined

    monkeypatch.setattr(pooled, "_joined", recorded)
    return outcomes


def _assert_same_as_one_process(dataset) -> dict[str, pd.DataFrame]:
    pooled_frames = normalise_dataset(dataset, processes=2).frames()
    reference = normalise_dataset(dataset, columnar=False).frames()
    assert pooled_frames.keys() == reference.keys()
    for name in reference:
        pd.testing.assert_frame_equal(pooled_frames[name], reference[name], obj=name)
    return pooled_frames


def _write_lines(dataset, records, bad: dict[int, bytes] | None = None) -> list[bytes]:
    lines = [orjson.dumps(r) for r in records]
    for at, line in sorted((bad or {}).items()):
        lines.insert(at, line)
    (dataset / "assessments.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    return lines


def test_the_sample_read_by_workers_is_the_sample_read_in_one_process(tmp_path, joins):
    for path in default_dataset().glob("*.jsonl.gz"):  # plain files: the assessments are cut into spans
        with gzip.open(path) as fh:
            (tmp_path / path.name[:-3]).write_bytes(fh.read())
    shutil.copy(default_dataset() / "manifest.json", tmp_path)
    frames = _assert_same_as_one_process(tmp_path)
    assert len(frames["assessments"]) == 1407 and len(frames["resources"]) > 0
    assert joins == [True]  # its spans disagree on first metadata (inline or from the file): read again with the
    # earlier spans' metadata, then joined


def test_metadata_decided_by_an_earlier_span(tmp_path, joins, monkeypatch):
    monkeypatch.setattr(assessment_columns, "CHUNK", 4)
    records = [_assessment(n) for n in range(40)]
    records[1] = _assessment(1, "k2", metadata={"displayName": "first k2", "severity": "low"})
    records[35] = _assessment(35, "k2", metadata={"displayName": "late k2", "severity": "high"})
    _write_lines(tmp_path, records)
    rows = _assert_same_as_one_process(tmp_path)["assessments"].set_index("assessment_id")
    assert rows.loc[records[35]["id"].lower(), "severity"] == "Low"  # the file's first record of k2 decides
    assert joins == [True]


def test_unreadable_lines_of_later_spans_keep_their_line_numbers(tmp_path, joins):
    records = [_assessment(n) for n in range(40)]
    _write_lines(tmp_path, records, {5: b'{"id": "not json"', 30: b"[1, 2]", 38: b"  "})
    frames = _assert_same_as_one_process(tmp_path)
    assert [s.location for s in frames["skips"].itertuples()] == ["line 6", "line 31"]  # line 39 is blank
    assert len(frames["assessments"]) == 40 and joins == [True]


def test_a_duplicate_in_a_later_span_is_read_again_in_one_process(tmp_path, joins):
    records = [_assessment(n) for n in range(40)]
    records.append(records[2])  # line 41 repeats line 3
    _write_lines(tmp_path, records)
    frames = _assert_same_as_one_process(tmp_path)
    assert [(s.location, s.reason.split(" (")[0]) for s in frames["skips"].itertuples()] == [
        ("line 41", "duplicate id " + records[2]["id"].lower())]
    assert len(frames["assessments"]) == 40 and joins == [False]


def test_a_skipped_record_in_a_later_span_is_read_again_in_one_process(tmp_path, joins):
    records = [_assessment(n) for n in range(40)]
    records[37]["properties"]["status"]["code"] = "Broken"  # maybe a duplicate too: only one process can tell
    _write_lines(tmp_path, records)
    frames = _assert_same_as_one_process(tmp_path)
    assert [s.location for s in frames["skips"].itertuples()] == ["line 38"]
    assert joins == [False]


def test_a_line_orjson_refuses_in_a_raw_part_of_a_later_span_is_joined(tmp_path, joins):
    """A byte that is not UTF-8 in a part msgspec keeps raw (here the status of line 35) reaches its chunk, which the
    per-row path reads: the line is a skip, not a record read, so the spans are still joined."""
    records = [_assessment(n) for n in range(40)]
    records[34]["properties"]["status"]["cause"] = "XX"
    lines = _write_lines(tmp_path, records)
    lines[34] = lines[34].replace(b'"XX"', b'"X\xffX"')
    (tmp_path / "assessments.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    frames = _assert_same_as_one_process(tmp_path)
    assert [(s.location, s.reason.split(":")[0]) for s in frames["skips"].itertuples()] == [("line 35", "not JSON")]
    assert len(frames["assessments"]) == 39 and joins == [True]


def test_the_table_cache_writes_the_joined_codes_and_reads_back_the_tables(tmp_path, joins, monkeypatch):
    """The join hands the codes of the assessments' text columns (the ids' too: each row its own) to the cache's
    writer, which writes them instead of coding those columns again; the entry reads back the tables the join made."""
    from mdcnb import tables
    from mdcnb.core import schema
    from mdcnb.tables import cache as table_cache

    monkeypatch.setenv("MDCNB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MDCNB_TABLE_CACHE", raising=False)
    monkeypatch.setattr(table_cache, "MIN_BYTES", 1)
    monkeypatch.setenv(pooled.PROCESSES_ENV, "2")
    records = [_assessment(n) for n in range(40)]
    for n, record in enumerate(records):
        if n != 3:  # line 4: no cause, a null among the texts
            record["properties"]["status"]["cause"] = f"cause {n % 3}"
    (tmp_path / "ds").mkdir()
    _write_lines(tmp_path / "ds", records)
    coded_again: list[str] = []
    codes = table_cache._codes
    monkeypatch.setattr(table_cache, "_codes", lambda series, dtype: coded_again.append(series.name) or
                        codes(series, dtype))
    built = tables.load_tables(tmp_path / "ds")
    texts = [c.name for c in schema.ASSESSMENTS.columns if c.dtype == schema.STRING]
    assert joins == [True] and "assessment_id" in texts and not set(texts) & set(coded_again)  # ids too
    monkeypatch.setattr(tables, "normalise_dataset", None)  # the second load reads the entry
    read = tables.load_tables(tmp_path / "ds")
    pd.testing.assert_frame_equal(read.assessments, built.assessments)
    causes = read.assessments["cause"]
    assert len(causes) == 40 and causes.isna().tolist() == [n == 3 for n in range(40)]
    assert causes[0] == "cause 0" and causes[5] == "cause 2" and causes.nunique() == 3
