"""A report page's kernel reads the snapshot without the optional columns its page does not read
(`mdcnb/report/page_columns.json`, `snapshot.stored.read(leave_out=...)`), a kernel that keeps the snapshot
between pages gives each page exactly the columns it reads, and the previous week's tables are read only by a page
that uses them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pandas.testing import assert_frame_equal

from mdcnb import snapshot
from mdcnb.core import schema
from mdcnb.report.page import PAGE_COLUMNS, Page, columns_left_out
from mdcnb.snapshot import stored
from mdcnb.snapshot.parquet import FrameReader, FrameWriter
from mdcnb.sources.dataset import SAMPLE_DATASET
from mdcnb.tables import Tables
from mdcnb.tables.history_weeks import WeeklyHistory

REPO = Path(__file__).resolve().parents[1]
LEFT_OUT = {"assessments": ["assessment_id", "portal_link"]}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """The sample's snapshot, its week recorded in a store (so that the history holds the previous week's tables
    too), written as `mdcnb report` writes it."""
    store = tmp_path_factory.mktemp("store") / "history.duckdb"
    snap = snapshot.build(SAMPLE_DATASET, with_history=False)
    snapshot.record(snap, store, log=lambda _: None)
    folder = tmp_path_factory.mktemp("week") / "snapshot"
    snapshot.write(snap, folder)
    return folder


@pytest.fixture
def shared(monkeypatch):
    """A report kernel's reads: one snapshot kept between reads (and forgotten after the test)."""
    monkeypatch.setenv(stored.SHARED_ENV, "1")
    stored._SHARED.clear()
    yield
    stored._SHARED.clear()


def test_a_read_leaves_out_the_columns_named_in_every_table_set_and_keeps_the_rest_exact(folder, monkeypatch):
    monkeypatch.delenv(stored.SHARED_ENV, raising=False)
    full, part = snapshot.read(folder), snapshot.read(folder, LEFT_OUT)

    assert full.history.previous is not None
    for whole, narrow in ((full.tables, part.tables), (full.history.previous, part.history.previous)):
        assert_frame_equal(narrow.assessments, whole.assessments.drop(columns=["assessment_id", "portal_link"]))
        assert_frame_equal(narrow.resources, whole.resources)
    assert "assessment_id" in part.tables.governance_assignments  # only the table named loses the column


def test_a_kept_snapshot_is_fitted_to_each_reader_dropping_and_reading_back_columns(folder, shared):
    contract = [c.name for c in schema.TABLES["assessments"].columns]
    narrow = snapshot.read(folder, LEFT_OUT)
    assert [c for c in contract if c not in narrow.tables.assessments] == ["assessment_id", "portal_link"]
    narrow.memo[("seen", None)] = 1
    assert snapshot.read(folder, LEFT_OUT).memo  # the same columns: what was computed stays

    whole = snapshot.read(folder)
    assert whole is narrow and not whole.memo  # computed from other columns: forgotten
    assert list(whole.tables.assessments.columns) == contract  # read back where the contract puts them
    stored._SHARED.clear()
    fresh = snapshot.read(folder)
    assert_frame_equal(whole.tables.assessments, fresh.tables.assessments)
    assert_frame_equal(whole.history.previous.assessments, fresh.history.previous.assessments)

    again = snapshot.read(folder, {"assessments": ["risk_factors"]})
    assert [c for c in contract if c not in again.tables.assessments] == ["risk_factors"]
    assert "risk_factors" not in again.history.previous.assessments


def test_a_column_of_an_empty_frame_is_read_back_without_a_file(tmp_path):
    writer = FrameWriter(tmp_path)
    writer.frame("empty", schema.TABLES["exemptions"].frame())
    writer.close()
    reader = FrameReader(tmp_path, writer.entries)
    column = schema.TABLES["exemptions"].columns[0].name
    assert [(name, len(values)) for name, values in reader.columns("empty", [column])] == [(column, 0)]
    reader.close()


def test_each_report_page_leaves_out_the_optional_columns_it_does_not_declare():
    declared = json.loads(PAGE_COLUMNS.read_text(encoding="utf-8"))
    optional = declared["optional"]["assessments"]
    assert "assessment_id" in optional and "status" not in optional
    assert columns_left_out("10_secure_score") == {"assessments": optional}
    assert columns_left_out("60_governance") == {"assessments": [c for c in optional if c != "assessment_id"]}
    assert columns_left_out("my_own_notebook") == {}  # not the report's: every column
    pages = {p.stem for p in (REPO / "notebooks").glob("*.ipynb")}
    assert set(declared["pages"]) == pages


def test_a_page_reads_the_snapshot_with_its_own_columns(folder, shared):
    score = Page("10_secure_score", snapshot=folder).tables().assessments
    assert "assessment_id" not in score and "severity" in score
    governance = Page("60_governance", snapshot=folder).tables().assessments
    assert "assessment_id" in governance and "portal_link" not in governance
    assert "portal_link" in Page("my_own_notebook", snapshot=folder).tables().assessments


def test_no_report_code_names_an_optional_column_that_no_page_declares():
    """What no page declares, no page may read: no module the pages run and no notebook names it."""
    declared = json.loads(PAGE_COLUMNS.read_text(encoding="utf-8"))
    read = {c for page in declared["pages"].values() for columns in page.values() for c in columns}
    unread = [c for columns in declared["optional"].values() for c in columns if c not in read]
    assert len(unread) == 9
    code = [*("\n".join("".join(c["source"]) for c in json.loads(p.read_text(encoding="utf-8"))["cells"])
              for p in REPO.glob("notebooks/*.ipynb")),
            *(p.read_text(encoding="utf-8") for layer in ("analysis", "measures", "figures", "widgets", "report",
                                                          "snapshot") for p in (REPO / "mdcnb" / layer).rglob("*.py"))]
    assert len(code) > 50
    assert not [c for c in unread for text in code if re.search(f"[\"']{c}[\"']", text)]
    assert any(re.search("[\"']assessment_id[\"']", text) for text in code)  # the search finds a name in use


def test_the_previous_week_is_read_when_first_used_with_the_columns_of_the_page_using_it(folder, shared,
                                                                                           monkeypatch):
    names = json.loads((folder / stored.MANIFEST).read_text())["tables"]["history/previous"]["frames"].values()
    read: list[str] = []
    frame = FrameReader.frame
    monkeypatch.setattr(FrameReader, "frame", lambda self, name, leave_out=(): read.append(name)
                        or frame(self, name, leave_out))
    snap = snapshot.read(folder, LEFT_OUT)
    assert not set(names) & set(read)
    previous = snap.history.previous
    assert set(names) <= set(read) and "assessment_id" not in previous.assessments
    assert snap.history.previous is previous  # read once

    stored.forget_computed()  # between two pages: let go, read again with the next page's columns
    whole = snapshot.read(folder).history.previous
    assert whole is not previous and "assessment_id" in whole.assessments
    monkeypatch.delenv(stored.SHARED_ENV)
    assert_frame_equal(whole.assessments, snapshot.read(folder).history.previous.assessments)


def test_a_previous_week_given_as_a_reader_is_read_once_until_forgotten():
    calls: list[int] = []
    week = Tables()
    history = WeeklyHistory("test", None, {}, cloudtrail={}, audits={}, folders={}, latest=week,
                            previous_tables=lambda: calls.append(1) or week, incomplete=[])
    assert history.previous is week and history.baseline is week and calls == [1]
    history.forget_previous()
    assert history.previous is week and calls == [1, 1]
