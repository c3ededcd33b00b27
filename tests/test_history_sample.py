"""The history of the embedded sample: seeding its weekly datasets, reading them back, and the diff of its last two
weeks checked against a plain count over the raw assessment records."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mdcnb.analysis.diff import diff_tables
from mdcnb.sources.dataset import SAMPLE_DATASET, read_records
from mdcnb.tables import history, history_weeks

SAMPLE_WEEKS = ["2026-W43", "2026-W44", "2026-W45", "2026-W46", "2026-W47", "2026-W48"]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("history") / "history.duckdb"
    said: list[str] = []
    snap = history_weeks.record_run(SAMPLE_DATASET, path, log=said.append)
    assert snap is not None and snap.week == "2026-W48", said
    return path


def test_a_first_run_seeds_every_embedded_week(store):
    with history.HistoryStore(store, read_only=True) as opened:
        snaps = opened.snapshots()
    assert [s.week for s in snaps] == SAMPLE_WEEKS
    assert len({s.series for s in snaps}) == 1 and snaps[0].series == "sample/7c1e4b2a-3f5d-4e8a-9b6c-2d1f0e3a4b5c"
    assert snaps[-1].row_counts["cloudtrail_daily"] > 0  # the sample's CloudTrail logs are summarised
    raw = len(read_records(SAMPLE_DATASET / "history" / "2026-W47", "assessments").records)
    assert snaps[-2].row_counts["assessments"] == raw


def test_running_again_rewrites_nothing(store):
    with history.HistoryStore(store, read_only=True) as opened:
        before = [(s.snapshot_id, s.recorded_at) for s in opened.snapshots()]
    assert history_weeks.record_run(SAMPLE_DATASET, store, log=lambda text: None) is not None
    with history.HistoryStore(store, read_only=True) as opened:
        assert [(s.snapshot_id, s.recorded_at) for s in opened.snapshots()] == before


def _statuses(dataset: Path) -> dict[str, str]:
    """assessment id (lower case) -> status code, read straight from the raw records."""
    out = {}
    for record in read_records(dataset, "assessments").records:
        props = {k.lower(): v for k, v in record.get("properties", {}).items()}
        status = {k.lower(): v for k, v in (props.get("status") or {}).items()}
        out[record["id"].lower()] = str(status.get("code", "")).lower()
    return out


def test_the_last_two_weeks_diff_equals_a_plain_count_of_the_raw_records(store):
    before, after = _statuses(SAMPLE_DATASET / "history" / "2026-W47"), _statuses(SAMPLE_DATASET)
    newly = {i for i, s in after.items() if s == "unhealthy" and before.get(i) != "unhealthy"}
    resolved = {i for i, s in before.items() if s == "unhealthy" and after.get(i) in ("healthy", "notapplicable")}
    gone = {i for i, s in before.items() if s == "unhealthy" and i not in after}
    weeks = history_weeks.weekly_history(SAMPLE_DATASET, store)
    changes = diff_tables(weeks.previous, weeks.latest)
    counts = changes.counts()
    assert (counts["newly_unhealthy"], counts["resolved"], counts["unhealthy_gone"]) == (
        len(newly), len(resolved), len(gone))
    assert len(newly) > 0 and len(resolved) > 0  # the sample does change from week to week


def test_weekly_history_window(store):
    weeks = history_weeks.weekly_history(SAMPLE_DATASET, store, since="2026-11-10", until="2026-11-18")
    assert list(weeks.weeks) == ["2026-W46", "2026-W47"]
    assert weeks.week == "2026-W47" and weeks.previous_week == "2026-W46"
    assert weeks.latest.manifest["history"]["week"] == "2026-W47"
    with pytest.raises(history.HistoryError, match="no snapshot"):
        history_weeks.weekly_history(SAMPLE_DATASET, store, since="2027-01-04")


def test_the_latest_week_read_from_the_dataset_equals_the_stored_week(store):
    """The summary page takes the dataset's own week from `load_tables`: it must be the stored week, row for row."""
    weeks = history_weeks.weekly_history(SAMPLE_DATASET, store)
    with history.HistoryStore(store, read_only=True) as opened:
        stored = opened.load(opened.snapshots()[-1])
    assert weeks.latest.manifest == stored.manifest
    for name, frame in stored.items():
        pd.testing.assert_frame_equal(weeks.latest[name], frame, check_exact=True, obj=name)
