"""The DuckDB history store: exact round trips, one snapshot per series and week, atomic writes, old stores."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from history_tables import filled_frames

from mdcnb.core import schema
from mdcnb.tables import history, history_columns, history_schema, history_weeks
from mdcnb.tables.history import HistoryError, HistoryStore

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def _assert_same_tables(expected, store, snap) -> None:
    """Every table of the snapshot reads back equal to what was written: values, order, dtypes."""
    for name in history_schema.SNAPSHOT_TABLES:
        pd.testing.assert_frame_equal(expected[name], store.load_table(snap, name), check_exact=True, obj=name)


def test_round_trip_is_exact_for_every_table_and_dtype(tmp_path):
    written = filled_frames(rows=9)
    with HistoryStore(tmp_path / "h.duckdb") as store:
        snap = store.save(written, as_of="2026-11-23T08:00:00Z", source="test", scope={"tenant_id": "t1"})
        _assert_same_tables(written, store, snap)
        back = store.load(snap)  # as `Tables`: the same frames
        pd.testing.assert_frame_equal(written["assessments"], back.assessments, check_exact=True)
    # a value with 100 ns precision (7 fractional digits, as Azure writes them) survives
    assert back.assessments["first_evaluation"].iloc[0] == pd.Timestamp("2026-11-10T10:11:12.1234560Z")
    assert back.assessments["first_evaluation"].iloc[1] == pd.Timestamp("2026-11-11T10:11:12.1234561Z")
    assert snap.row_counts == {name: 9 for name in history_schema.SNAPSHOT_TABLES}


@pytest.mark.parametrize("repeated", [8, 2])
def test_big_tables_read_column_by_column_round_trip_exactly(tmp_path, monkeypatch, repeated):
    """Read column by column, with repeated text columns read as ENUMs: those of one value in 9 rows (8), or of
    up to 4 values, some missing (2)."""
    written = filled_frames(rows=9)
    written["assessments"]["severity"] = pd.array(["High", "Low", None] * 3, dtype="string")
    monkeypatch.setattr(history_columns, "COLUMNWISE_ROWS", 3)  # every 9-row table counts as big here
    monkeypatch.setattr(history_columns, "REPEATED", repeated)
    with HistoryStore(tmp_path / "h.duckdb") as store:
        snap = store.save(written, as_of="2026-11-23T08:00:00Z", source="test")
        _assert_same_tables(written, store, snap)
        back = store.load_table(snap, "assessments")
    assert list(back["severity"]) == ["High", "Low", pd.NA] * 3
    assert len({id(v) for v in back["severity"] if v is not pd.NA}) == 2  # one object per distinct value


@pytest.mark.parametrize("stored", ["in order", "reversed"])
def test_big_tables_are_read_and_copied_in_row_order_however_the_store_holds_them(tmp_path, monkeypatch, stored):
    """A store writes its rows in order, so a big table is read and copied to Parquet without a sort; a store whose
    rows lie in another order (written before, with DuckDB free to reorder) is sorted by row, and both give the rows
    as written."""
    written = filled_frames(rows=9)
    monkeypatch.setattr(history_columns, "COLUMNWISE_ROWS", 3)
    with HistoryStore(tmp_path / "h.duckdb") as store:
        snap = store.save(written, as_of="2026-11-23T08:00:00Z", source="test")
        if stored == "reversed":
            store.con.execute("CREATE TEMP TABLE back AS SELECT * FROM snap_assessments ORDER BY row_no DESC")
            store.con.execute("DELETE FROM snap_assessments")
            store.con.execute("INSERT INTO snap_assessments SELECT * FROM back")
        table = history_schema.SNAPSHOT_TABLES["assessments"]
        held = store.con.execute("SELECT row_no FROM snap_assessments").fetchnumpy()["row_no"].tolist()
        assert held == (list(range(9)) if stored == "in order" else list(range(8, -1, -1)))
        assert history_columns.order_by(store.con, table, snap.snapshot_id) == \
            ("" if stored == "in order" else "ORDER BY row_no")
        _assert_same_tables(written, store, snap)
        store.copy_table(snap, "assessments", tmp_path / "a.parquet", 4)
        copied = duckdb.sql(f"SELECT assessment_id FROM '{tmp_path / 'a.parquet'}'").fetchnumpy()["assessment_id"]
    assert copied.tolist() == [None if pd.isna(i) else i for i in written["assessments"]["assessment_id"]]


def test_read_back_strings_share_one_object_per_value(tmp_path):
    written = filled_frames(rows=9)
    environments = ["".join(["Az", "ure"]) if i % 3 else "".join(["A", "WS"]) for i in range(9)]  # 9 objects
    written["assessments"]["environment"] = pd.Series(environments, dtype="string")
    with HistoryStore(tmp_path / "h.duckdb") as store:
        back = store.load_table(store.save(written, as_of="2026-11-23", source="test"), "assessments")
    assert list(back["environment"]) == environments
    assert len({id(v) for v in back["environment"]}) == 2


def test_empty_tables_round_trip(tmp_path):
    with HistoryStore(tmp_path / "h.duckdb") as store:
        snap = store.save({}, as_of="2026-11-23", source="test")
        for name, table in history_schema.SNAPSHOT_TABLES.items():
            pd.testing.assert_frame_equal(table.frame(), store.load_table(snap, name), obj=name)


def test_same_week_replaces_and_other_weeks_and_series_are_kept(tmp_path):
    path = tmp_path / "h.duckdb"
    with HistoryStore(path) as store:
        store.save(filled_frames(3, week=1), as_of="2026-11-16T00:00:00Z", source="sample", scope={"tenant": "a"})
        store.save(filled_frames(4, week=2), as_of="2026-11-23T00:00:00Z", source="sample", scope={"tenant": "a"})
        store.save(filled_frames(5, week=9), as_of="2026-11-24T00:00:00Z", source="azure", scope={"tenant": "b"})
        rerun = filled_frames(6, week=3)
        store.save(rerun, as_of="2026-11-27T12:00:00Z", source="sample", scope={"tenant": "a"})  # same ISO week
        sample = store.snapshots("sample/a")
        assert [s.week for s in sample] == ["2026-W47", "2026-W48"]
        assert sample[-1].row_counts["assessments"] == 6
        _assert_same_tables(rerun, store, sample[-1])
        assert [s.week for s in store.snapshots("AzureCloud/b")] == ["2026-W48"]
        # no rows of the replaced snapshot are left behind
        ids = {s.snapshot_id for s in store.snapshots()}
        stored = {r[0] for r in store.con.execute("SELECT DISTINCT snapshot_id FROM snap_assessments").fetchall()}
        assert stored == ids and len(ids) == 3


def test_iso_week_and_series_keys():
    assert history.iso_week(pd.Timestamp("2026-01-01")) == "2026-W01"
    assert history.iso_week(pd.Timestamp("2027-01-01")) == "2026-W53"  # ISO year of 1 Jan 2027 is 2026
    # the estate root names the series, so a subscription added next week keeps the series
    a = history.key_of("azure", {"tenant_id": "t1", "subscriptions": ["s1"]})
    b = history.key_of("azure", {"tenant_id": "t1", "subscriptions": ["s1", "s2"]})
    assert a == b == history.SeriesKey("AzureCloud", "t1", "tenant", "t1")
    assert history.key_of("sample", {"x": 1}) != history.key_of("azure", {"x": 1})


def test_find_names_the_stored_weeks_when_a_week_is_missing(tmp_path):
    with HistoryStore(tmp_path / "h.duckdb") as store:
        store.save({}, as_of="2026-11-23", source="s", scope={"tenant": "t"})
        with pytest.raises(HistoryError, match=r"2026-W01.*stored: 2026-W48"):
            store.find("s/t", "2026-W01")


def test_read_only_open_of_a_missing_store_is_a_clear_error(tmp_path):
    with pytest.raises(HistoryError, match="no history store"):
        HistoryStore(tmp_path / "none.duckdb", read_only=True).open()


def test_default_path_honours_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MDCNB_HISTORY", str(tmp_path / "x.duckdb"))
    assert history.default_store_path() == tmp_path / "x.duckdb"
    monkeypatch.delenv("MDCNB_HISTORY")
    assert history.default_store_path().name == "history.duckdb"


# --- a writer killed with SIGKILL in the middle of a snapshot --------------------------------------------------

_KILLED_WRITER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    from history_tables import filled_frames
    from mdcnb.tables.history import HistoryStore

    big = filled_frames(rows=5, week=7, big={{"assessments": 30000, "resources": 10000}})

    def pause_mid_write(name, rows):
        if name == "assessments":
            print("mid-write", rows, flush=True)
            time.sleep(120)      # the parent kills us here, inside the snapshot's transaction

    with HistoryStore({path!r}) as store:
        store.save(big, as_of="2026-11-30T00:00:00Z", source="sample", scope={{"tenant": "a"}},
                   on_table=pause_mid_write)
    print("committed", flush=True)
""")


def test_writer_killed_mid_snapshot_leaves_earlier_snapshots_intact(tmp_path):
    path = tmp_path / "h.duckdb"
    week1, week2 = filled_frames(5, week=1), filled_frames(7, week=2)
    with HistoryStore(path) as store:
        store.save(week1, as_of="2026-11-16T00:00:00Z", source="sample", scope={"tenant": "a"})
        store.save(week2, as_of="2026-11-23T00:00:00Z", source="sample", scope={"tenant": "a"})

    script = _KILLED_WRITER.format(tests=str(TESTS), path=str(path))
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, cwd=ROOT)
    try:
        line = child.stdout.readline()
        assert line.startswith("mid-write 30000"), child.stderr.read()
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    with HistoryStore(path, read_only=True) as store:
        snaps = store.snapshots()
        assert [s.week for s in snaps] == ["2026-W47", "2026-W48"]  # no W49, not even half of it
        _assert_same_tables(week1, store, snaps[0])
        _assert_same_tables(week2, store, snaps[1])
        for name in history_schema.SNAPSHOT_TABLES:
            orphans = store.con.execute(f"SELECT count(*) FROM snap_{name} WHERE snapshot_id NOT IN "
                                        "(SELECT snapshot_id FROM snapshots)").fetchone()[0]
            assert orphans == 0, name
    # and the store still takes the snapshot the killed run was writing
    with HistoryStore(path) as store:
        snap = store.save(filled_frames(3, week=3), as_of="2026-11-30T00:00:00Z", source="sample",
                          scope={"tenant": "a"})
        assert [s.week for s in store.snapshots()] == ["2026-W47", "2026-W48", "2026-W49"]
        assert snap.row_counts["assessments"] == 3


# --- an older store: schema 1, written by the first layout --------------------------------------------------------

# Schema 1, frozen here as it was: snapshots keyed by week, no series, no row_no; and the `connectors` contract of
# that time, which did not yet have `scan_interval_hours`.
_V1_SQL = """
CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);
INSERT INTO meta VALUES ('schema_version', '1');
CREATE TABLE snapshots (snapshot_id BIGINT PRIMARY KEY, week VARCHAR NOT NULL, taken_at TIMESTAMP_NS NOT NULL,
                        source VARCHAR, scope VARCHAR, dataset VARCHAR, tool_version VARCHAR);
CREATE TABLE snap_connectors (snapshot_id BIGINT NOT NULL, connector_id VARCHAR, name VARCHAR, environment VARCHAR,
                              regions VARCHAR[], created_at TIMESTAMP_NS);
CREATE TABLE snap_secure_scores (snapshot_id BIGINT NOT NULL, scope_id VARCHAR, score_name VARCHAR,
                                 percentage DOUBLE, weight BIGINT);
INSERT INTO snapshots VALUES
  (1, '2026-W46', TIMESTAMP_NS '2026-11-09 06:00:00', 'azure', '{"tenant_id": "t1"}', '/data/w46', '0.0.9'),
  (2, '2026-W47', TIMESTAMP_NS '2026-11-16 06:00:00', 'azure', '{"tenant_id": "t1"}', '/data/w47', '0.0.9');
INSERT INTO snap_connectors VALUES
  (1, '/c/aws1', 'aws1', 'AWS', ['us-east-1'], TIMESTAMP_NS '2026-01-02 03:04:05.1234567'),
  (2, '/c/aws1', 'aws1', 'AWS', ['us-east-1', 'eu-west-1'], TIMESTAMP_NS '2026-01-02 03:04:05.1234567'),
  (2, '/c/gcp1', 'gcp1', 'GCP', [], NULL);
INSERT INTO snap_secure_scores VALUES
  (1, '/subscriptions/s2', 'ascScore', 0.5, 3), (1, '/subscriptions/s1', 'ascScore', 0.25, 0),
  (2, '/subscriptions/s2', 'ascScore', 0.6, 3), (2, '/subscriptions/s1', 'ascScore', 0.3, 0);
"""


def _old_store(path: Path) -> Path:
    con = duckdb.connect(str(path))
    con.execute(_V1_SQL)
    con.close()
    return path


@pytest.mark.parametrize("read_only", [False, True])
def test_an_old_schema_store_is_read_by_the_new_code(tmp_path, read_only):
    path = _old_store(tmp_path / "v1.duckdb")
    with HistoryStore(path, read_only=read_only) as store:
        snaps = store.snapshots()
        assert [(s.snapshot_id, s.week, s.series, s.source) for s in snaps] == [
            (1, "2026-W46", "AzureCloud/t1", "azure"), (2, "2026-W47", "AzureCloud/t1", "azure")]
        assert snaps[0].as_of == pd.Timestamp("2026-11-09T06:00:00Z")
        assert snaps[1].row_counts == {"connectors": 2, "secure_scores": 2}
        connectors = store.load_table(snaps[1], "connectors")
        scores = store.load_table(snaps[0], "secure_scores")
    assert list(connectors.columns) == schema.CONNECTORS.names  # today's contract, columns the old store lacks are null
    assert connectors["connector_id"].tolist() == ["/c/aws1", "/c/gcp1"]  # the order they were written in
    assert connectors["regions"].tolist() == [["us-east-1", "eu-west-1"], []]
    assert connectors["scan_interval_hours"].isna().all() and str(connectors["scan_interval_hours"].dtype) == "Int64"
    assert connectors["created_at"].iloc[0] == pd.Timestamp("2026-01-02T03:04:05.1234567Z")
    assert scores["scope_id"].tolist() == ["/subscriptions/s2", "/subscriptions/s1"]
    assert scores["weight"].tolist() == [3, 0]
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(
        history_schema.SCHEMA_VERSION)
    con.close()


def test_a_migrated_store_takes_new_snapshots_and_replaces_its_week(tmp_path):
    path = _old_store(tmp_path / "v1.duckdb")
    with HistoryStore(path) as store:
        store.save(filled_frames(2, week=5), as_of="2026-11-17T00:00:00Z", source="azure", scope={"tenant_id": "t1"})
        assert [(s.snapshot_id, s.week) for s in store.snapshots()] == [(1, "2026-W46"), (3, "2026-W47")]


def test_a_store_from_a_newer_toolkit_is_refused_clearly(tmp_path):
    path = tmp_path / "future.duckdb"
    with HistoryStore(path):
        pass
    con = duckdb.connect(str(path))
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(HistoryError, match=r"schema 99.*upgrade mdcnb"):
        HistoryStore(path).open()


def test_snapshot_catalogue_is_json_clean(tmp_path):
    with HistoryStore(tmp_path / "h.duckdb") as store:
        snap = store.save({}, as_of="2026-11-23", source="s", scope={"subscriptions": ["a", "b"]}, dataset="/d")
    assert snap.scope == {"subscriptions": ["a", "b"]} and snap.dataset == "/d"
    json.dumps(snap.row_counts)


@pytest.mark.parametrize("content", [b"", b"not a database at all\n" * 100], ids=["empty", "garbage"])
def test_a_file_that_is_not_a_store_gives_a_clear_error(tmp_path, content):
    path = tmp_path / "h.duckdb"
    path.write_bytes(content)
    with pytest.raises(HistoryError, match=r"cannot open history store .*not a valid DuckDB database"):
        HistoryStore(path).open()
    # the pull and report hook says so and lets the run carry on (its dataset is on disk)
    said: list[str] = []
    assert history_weeks.record_run(tmp_path, path, log=said.append) is None
    assert said and said[0].startswith(f"history: snapshot not stored in {path}")


def test_a_truncated_store_is_refused_or_read_whole_never_half(tmp_path):
    """Cut a store file at many points: each read either fails with a HistoryError or returns every row."""
    path = tmp_path / "h.duckdb"
    written = filled_frames(50)
    with HistoryStore(path) as store:
        store.save(written, as_of="2026-11-23", source="s", scope={"tenant": "t"})
    data = path.read_bytes()
    outcomes = set()
    for cut in (100, 12288, 300_000, 1_000_000, len(data) // 2, len(data) - 1):
        damaged = tmp_path / f"cut{cut}.duckdb"
        damaged.write_bytes(data[:cut])
        try:
            with HistoryStore(damaged, read_only=True) as store:
                (snap,) = store.snapshots()
                back = store.load_table(snap, "assessments")
        except HistoryError as exc:
            assert str(damaged) in str(exc)
            outcomes.add("refused")
        else:
            pd.testing.assert_frame_equal(written["assessments"], back, check_exact=True)
            outcomes.add("whole")
    assert "refused" in outcomes


def test_reading_a_replaced_snapshot_is_an_error_not_an_empty_week(tmp_path):
    with HistoryStore(tmp_path / "h.duckdb") as store:
        first = store.save(filled_frames(3), as_of="2026-11-23", source="s", scope={"tenant": "t"})
        store.save(filled_frames(4), as_of="2026-11-24", source="s", scope={"tenant": "t"})  # same week
        with pytest.raises(HistoryError, match=f"snapshot {first.snapshot_id} is not in"):
            store.load_table(first, "assessments")


# --- identity: tenants, scopes and complete pulls, pulled for real from the loopback ARM service -----------------

TENANT_A, TENANT_B = "aaaaaaaa-0000-4000-8000-00000000000a", "bbbbbbbb-0000-4000-8000-00000000000b"
LAST_WEEK = pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=7)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    from azure_server import tls

    return tls(tmp_path_factory.mktemp("tls"))


def _overall_score(tables) -> float:
    from mdcnb.analysis import score

    return score.overall(score.scopes(tables))["percentage"]


def test_two_tenants_pulled_into_one_store_in_one_week_keep_their_own_snapshots(tmp_path, tls_files):
    from history_tenants import pull_tenant, tenant_variant

    store_path, said = tmp_path / "h.duckdb", []
    # tenant A scores 4 of 8 points in every subscription, tenant B 6 of 8: 50 % and 75 %
    for name, tenant, points in (("a", TENANT_A, 4.0), ("b", TENANT_B, 6.0)):
        served = tenant_variant(tmp_path / f"served-{name}", tenant=tenant, points=points)
        dataset = pull_tenant(served, tmp_path / f"pull-{name}", tls_files)
        assert history_weeks.record_run(dataset, store_path, log=said.append) is not None, said
    with HistoryStore(store_path, read_only=True) as store:
        snaps = store.snapshots()
        assert [(s.key.cloud, s.key.tenant, s.key.kind) for s in snaps] == [
            ("AzureCloud", TENANT_A, "tenant"), ("AzureCloud", TENANT_B, "tenant")]
        assert snaps[0].week == snaps[1].week and snaps[0].complete is True and snaps[1].complete is True
        assert [_overall_score(store.load(s)) for s in snaps] == [50.0, 75.0]
    # the summary of B's dataset reads B by default, and A when asked for A's tenant
    assert history_weeks.weekly_history(tmp_path / "pull-b", store_path).series == f"AzureCloud/{TENANT_B}"
    chosen = history_weeks.weekly_history(tmp_path / "pull-b", store_path, tenant=TENANT_A.upper())
    assert chosen.series == f"AzureCloud/{TENANT_A}" and _overall_score(chosen.latest) == 50.0


def test_a_tenant_that_gains_a_subscription_continues_its_series(tmp_path, tls_files, capsys):
    from history_tenants import pull_tenant, tenant_variant

    from mdcnb.cli import main

    store_path = tmp_path / "h.duckdb"
    before = pull_tenant(tenant_variant(tmp_path / "served-6", subscriptions=6), tmp_path / "pull-6", tls_files,
                         as_of=LAST_WEEK.isoformat())
    after = pull_tenant(tenant_variant(tmp_path / "served-7", subscriptions=7), tmp_path / "pull-7", tls_files)
    for dataset in (before, after):
        assert history_weeks.record_run(dataset, store_path, log=lambda text: None) is not None
    weeks = history_weeks.weekly_history(after, store_path)
    assert list(weeks.weeks) == [history.iso_week(LAST_WEEK), history.iso_week(pd.Timestamp.now(tz="UTC"))]
    assert [len(t.subscriptions) for t in weeks.weeks.values()] == [6, 7]
    # `mdcnb diff --tenant` compares the two weeks of that tenant's one series
    assert main(["diff", "--history", str(store_path), "--tenant", "72f988bf-86f1-41af-91ab-2d7cd011db47",
                 "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["series"] == "AzureCloud/72f988bf-86f1-41af-91ab-2d7cd011db47"
    assert (payload["from"], payload["to"]) == tuple(weeks.weeks)


def test_an_incomplete_pull_never_replaces_a_complete_week(tmp_path, tls_files, capsys):
    from azure_tenant import subscription_ids
    from history_tenants import pull_tenant, tenant_variant

    from mdcnb.cli import main

    served = tenant_variant(tmp_path / "served")
    complete = pull_tenant(served, tmp_path / "complete", tls_files)
    partial = pull_tenant(served, tmp_path / "partial", tls_files, forbidden=subscription_ids(1))
    assessments = 6 * 4 * 3  # subscriptions x virtual machines x recommendations (azure_tenant)
    said: list[str] = []
    store_path = tmp_path / "h.duckdb"
    assert history_weeks.record_run(complete, store_path, log=said.append) is not None
    assert history_weeks.record_run(partial, store_path, log=said.append) is None
    assert "this pull is incomplete" in said[-1] and "complete snapshot of that week, which is kept" in said[-1]
    with HistoryStore(store_path, read_only=True) as store:
        (kept,) = store.snapshots()
        assert kept.complete is True and kept.dataset == str(complete)
        assert kept.row_counts["assessments"] == assessments

    # the other order: the incomplete pull is stored, marked, listed as such, then replaced by the complete one
    other = tmp_path / "other.duckdb"
    first = history_weeks.record_run(partial, other, log=said.append)
    assert first is not None and first.complete is False and said[-1].endswith("(incomplete pull: later "
                                                                               "complete runs of the week replace it)")
    assert first.row_counts["assessments"] == assessments - 4 * 3  # the forbidden subscription's rows are missing
    assert main(["diff", "--history", str(other), "--list"]) == 0
    assert f"{first.week} (incomplete)" in capsys.readouterr().out
    replaced = history_weeks.record_run(complete, other, log=said.append)
    with HistoryStore(other, read_only=True) as store:
        assert [(s.snapshot_id, s.complete) for s in store.snapshots()] == [(replaced.snapshot_id, True)]


# --- a schema-2 store: tenant-wide pulls keyed by a hash of their scope -------------------------------------------

_V2_SQL = """
CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);
INSERT INTO meta VALUES ('schema_version', '2');
CREATE TABLE snapshots (snapshot_id BIGINT PRIMARY KEY, series VARCHAR NOT NULL, week VARCHAR NOT NULL,
    as_of TIMESTAMP_NS NOT NULL, recorded_at TIMESTAMP_NS NOT NULL, source VARCHAR, scope VARCHAR, dataset VARCHAR,
    fingerprint VARCHAR, tool_version VARCHAR, row_counts VARCHAR);
CREATE TABLE snap_subscriptions (snapshot_id BIGINT NOT NULL, row_no BIGINT NOT NULL, subscription_id VARCHAR,
    tenant_id VARCHAR);
INSERT INTO snapshots VALUES
  (1, 'azure/0a1b2c3d4e5f', '2026-W46', '2026-11-09', '2026-11-09', 'azure', $1, '/gone/w46', NULL, '0.1.0',
   '{"subscriptions": 2}'),
  (2, 'azure/99aa88bb77cc', '2026-W47', '2026-11-16', '2026-11-16', 'azure', $2, $4, NULL, '0.1.0',
   '{"subscriptions": 3}'),
  (3, 'sample/tenantid=s1', '2026-W47', '2026-11-16', '2026-11-16', 'sample', '{"tenant_id": "s1"}', NULL, NULL,
   '0.1.0', '{}'),
  (4, 'azure/1234abcd5678', '2026-W48', '2026-11-23', '2026-11-24', 'azure', $3, '/gone/w48b', NULL, '0.1.0',
   '{"subscriptions": 3}'),
  (5, 'azure/feedbeef0042', '2026-W48', '2026-11-23', '2026-11-23', 'azure', $2, '/gone/w48a', NULL, '0.1.0',
   '{"subscriptions": 3}');
INSERT INTO snap_subscriptions VALUES (1, 0, 's-1', 'T1'), (1, 1, 's-2', 'T1'),
  (2, 0, 's-1', 'T1'), (2, 1, 's-2', 'T1'), (2, 2, 's-3', 'T1'), (4, 0, 's-1', 'T1'), (4, 1, 's-2', 'T1'),
  (4, 2, 's-4', 'T1'), (5, 0, 's-1', 'T1'), (5, 1, 's-2', 'T1'), (5, 2, 's-3', 'T1');
"""


def _tenant_scope(pulled: int) -> str:
    """The scope a tenant-wide pull wrote before it named the tenant."""
    return json.dumps({"kind": "tenant", "subscriptions": [], "management_group": None,
                       "subscriptions_pulled": pulled})


def test_a_schema_2_store_is_rekeyed_by_tenant_on_open(tmp_path):
    # W47's dataset is still on disk: its manifest says the pull was incomplete; the others' are gone
    w47 = tmp_path / "w47"
    w47.mkdir()
    (w47 / "manifest.json").write_text(json.dumps({"source": "azure", "complete": False, "cloud": "AzureCloud"}))
    path = tmp_path / "v2.duckdb"
    con = duckdb.connect(str(path))
    values = {"$1": _tenant_scope(2), "$2": _tenant_scope(3), "$3": _tenant_scope(3), "$4": str(w47)}
    con.execute(re.sub(r"\$\d", lambda m: f"'{values[m.group(0)]}'", _V2_SQL))
    con.close()
    with HistoryStore(path) as store:
        snaps = store.snapshots()
    # one series for the tenant (from its subscriptions' tenant id), whatever the subscriptions pulled; W48 was
    # recorded twice under two old keys: the later recording is kept, as recording the week again keeps it
    assert [(s.snapshot_id, s.series, s.week, s.complete) for s in snaps] == [
        (1, "AzureCloud/t1", "2026-W46", None), (2, "AzureCloud/t1", "2026-W47", False),
        (4, "AzureCloud/t1", "2026-W48", None), (3, "sample/s1", "2026-W47", None)]
    assert [s.label for s in snaps[:2]] == ["2026-W46", "2026-W47 (incomplete)"]
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT DISTINCT snapshot_id FROM snap_subscriptions ORDER BY 1").fetchall() == [
        (1,), (2,), (4,)]
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("3",)
    con.close()
