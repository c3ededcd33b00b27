"""`mdcnb report` runs one way: stage 1 reads the dataset, scans CloudTrail once and writes the history store;
stage 2 (the notebooks) reads only the snapshot stage 1 left as files in the week folder (kept with keep_snapshot)."""

from __future__ import annotations

import os
import shutil

import pytest

from mdcnb import snapshot
from mdcnb.report import NOTEBOOKS_DIR, runner
from mdcnb.report.index import recorded
from mdcnb.sources.dataset import SAMPLE_DATASET
from mdcnb.tables import cloudtrail
from mdcnb.tables.history import HistoryStore

pytestmark = pytest.mark.slow


def test_cloudtrail_is_scanned_once_and_stage_two_touches_neither_logs_nor_store(tmp_path, monkeypatch):
    dataset = tmp_path / "dataset"
    shutil.copytree(SAMPLE_DATASET, dataset)
    store, scans = tmp_path / "history.duckdb", tmp_path / "scans.log"
    real_scan, real_volume = cloudtrail.scan_files, cloudtrail.volume

    def counted_scan(*args, **kwargs):  # stage 1 runs in a process forked from this one: it inherits the count
        with scans.open("a") as fh:
            fh.write(f"{os.getpid()}\n")
        return real_scan(*args, **kwargs)

    real_stage_two = runner._stage_two
    during: dict[str, bool] = {}

    def stage_two_without_logs_or_store(*args, **kwargs):
        """Stage 2 with the trail's logs and the history store taken away: a notebook that scanned would count
        nothing, one that read the store would fail, one that wrote to it would leave a file behind."""
        (dataset / "cloudtrail").rename(tmp_path / "logs-away")
        store.rename(tmp_path / "store-away")
        try:
            return real_stage_two(*args, **kwargs)
        finally:
            during["store written"] = store.exists()
            (tmp_path / "logs-away").rename(dataset / "cloudtrail")
            (tmp_path / "store-away").rename(store)

    monkeypatch.setattr(cloudtrail, "scan_files", counted_scan)
    monkeypatch.setattr(runner, "_stage_two", stage_two_without_logs_or_store)
    result = runner.run_report(runner.ReportOptions(dataset=dataset, out=tmp_path / "out", history=store,
                                                    keep_snapshot=True), log=lambda *a, **k: None)

    assert result.ok, [r.failure() for r in result.notebooks if not r.ok]
    assert [r.name for r in result.notebooks] == sorted(p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb"))
    assert len(scans.read_text().splitlines()) == 1  # one scan per report, in stage 1
    assert during == {"store written": False}
    headlines = {h["measure"]: h["value"] for h in recorded(result.week_dir / "notebooks" / "40_cloudtrail.ipynb")[0]}
    # the logs' CSPM reads (the scanner is checked against an independent count in test_cloudtrail_sample.py):
    # on the page although stage 2 had no logs to read
    expected = real_volume(dataset / "cloudtrail", dataset=dataset).summary()["cspm_read_events"]
    assert headlines["cloudtrail.cspm_read_events"] == expected > 0
    with HistoryStore(store, read_only=True) as opened:
        assert [s.week for s in opened.snapshots()][-1] == "2026-W48"
    assert sorted(p.name for p in result.week_dir.iterdir() if p.is_dir()) == ["assets", "csv", "notebooks",
                                                                             runner.SNAPSHOT_DIR]
    # the page's figure is the kept snapshot's, read back from its files
    kept = snapshot.read(result.week_dir / runner.SNAPSHOT_DIR)
    assert kept.cloudtrail.summary()["cspm_read_events"] == expected


def test_a_notebook_building_its_own_snapshot_scans_once_too(tmp_path, monkeypatch):
    """Interactively (no report) the week's own CloudTrail volume in the history comes from the snapshot's scan."""
    scans: list[int] = []
    real_scan = cloudtrail.scan_files
    monkeypatch.setattr(cloudtrail, "scan_files", lambda *a, **k: scans.append(1) or real_scan(*a, **k))
    snap = snapshot.build(SAMPLE_DATASET, history=tmp_path / "no-store.duckdb")
    assert len(scans) == 1
    own_week = snap.history.cloudtrail[snap.history.week]
    assert own_week["read_only_events"].sum() == snap.cloudtrail.volume["read_only_events"].sum() > 0


def test_the_kernels_start_while_stage_one_builds_the_snapshot(tmp_path, monkeypatch):
    """Stage 2's kernels start (and import mdcnb) while stage 1 runs, not after it: stage 1, before writing the
    snapshot, waits up to 60 s for the report's process to have its two kernels and writes down how many it saw."""
    import time

    import psutil

    seen = tmp_path / "kernels-during-stage-one"
    real_write = snapshot.write

    def write_once_kernels_run(snap, folder):  # in stage 1's process, forked from this one
        report = psutil.Process(os.getppid())
        deadline, kernels = time.monotonic() + 60, []
        while time.monotonic() < deadline and len(kernels) < 2:
            kernels = [p for p in report.children() if "ipykernel_launcher" in " ".join(p.cmdline())]
            time.sleep(0.2)
        seen.write_text(str(len(kernels)))
        return real_write(snap, folder)

    monkeypatch.setattr(snapshot, "write", write_once_kernels_run)
    result = runner.run_report(runner.ReportOptions(out=tmp_path / "out", history=tmp_path / "h.duckdb",
                                                    notebooks=["40", "50"], workers=2), log=lambda *a, **k: None)
    assert result.ok, [r.failure() for r in result.notebooks if not r.ok]
    assert seen.read_text() == "2"
