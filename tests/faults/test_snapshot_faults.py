"""Damaged snapshot folders: a missing, truncated, altered or foreign file, a broken or foreign manifest. Reading one
fails with one line that names the folder and the file, never a traceback from deep in DuckDB or JSON, and a
notebook of the report that reads it fails with that line. Each case damages a copy of one real snapshot of the
sample."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
import pytest

from mdcnb import snapshot
from mdcnb.core import schema
from mdcnb.report import runner
from mdcnb.snapshot.stored import MANIFEST, SnapshotError
from mdcnb.sources.dataset import SAMPLE_DATASET

ASSESSMENTS = "tables/assessments.parquet"


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("written") / "snapshot"
    snapshot.write(snapshot.build(SAMPLE_DATASET, with_history=False), folder)
    return folder


@pytest.fixture
def copy(written, tmp_path) -> Path:
    target = tmp_path / "snapshot"
    shutil.copytree(written, target)
    return target


def _edit_manifest(folder: Path, change: Callable[[dict], None]) -> None:
    manifest = json.loads((folder / MANIFEST).read_text())
    change(manifest)
    (folder / MANIFEST).write_text(json.dumps(manifest))


def _entry(manifest: dict, file: str) -> dict:
    return next(e for e in manifest["frames"].values() if e.get("file") == file)


def _relist(folder: Path, file: str) -> None:
    """The manifest updated to the file's present size and digest (someone who 'fixed' the manifest)."""
    data = (folder / file).read_bytes()
    _edit_manifest(folder, lambda m: _entry(m, file).update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest()))


def _missing(folder: Path) -> None:
    (folder / ASSESSMENTS).unlink()


def _truncated(folder: Path) -> None:
    data = (folder / ASSESSMENTS).read_bytes()
    (folder / ASSESSMENTS).write_bytes(data[: len(data) // 2])


def _altered(folder: Path) -> None:  # same size, one byte changed
    data = bytearray((folder / ASSESSMENTS).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / ASSESSMENTS).write_bytes(bytes(data))


def _foreign_table(folder: Path) -> None:  # another table's file in its place, the manifest made to match
    shutil.copyfile(folder / "tables/plans.parquet", folder / ASSESSMENTS)
    _relist(folder, ASSESSMENTS)


def _not_parquet(folder: Path) -> None:
    (folder / ASSESSMENTS).write_bytes(b"PAR1 but not really a Parquet file")
    _relist(folder, ASSESSMENTS)


def _rows(folder: Path) -> None:
    _edit_manifest(folder, lambda m: _entry(m, ASSESSMENTS).update(rows=1408))


def _outside(folder: Path) -> None:
    _edit_manifest(folder, lambda m: _entry(m, ASSESSMENTS).update(file="../../etc/passwd"))


def _manifest_truncated(folder: Path) -> None:
    text = (folder / MANIFEST).read_text()
    (folder / MANIFEST).write_text(text[: len(text) // 2])


def _manifest_foreign(folder: Path) -> None:
    (folder / MANIFEST).write_text(json.dumps({"format": "something else", "files": []}))


def _manifest_newer(folder: Path) -> None:
    _edit_manifest(folder, lambda m: m.update(version=99))


def _manifest_incomplete(folder: Path) -> None:
    _edit_manifest(folder, lambda m: m["snapshot"].pop("audit"))


def _older_contract(folder: Path) -> None:  # as a version whose plans table had one column less wrote it
    _edit_manifest(folder, lambda m: _entry(m, "tables/plans.parquet")["columns"].popitem())


def _table_unknown(folder: Path) -> None:  # as a version without the exemptions table wrote it
    _edit_manifest(folder, lambda m: m["tables"]["tables"]["frames"].pop("exemptions"))


def _no_manifest(folder: Path) -> None:
    (folder / MANIFEST).unlink()


def _inventories_truncated(folder: Path) -> None:
    (folder / "inventories.json").write_bytes((folder / "inventories.json").read_bytes()[:100])


CASES = {
    "missing": (_missing, f"{ASSESSMENTS} is missing"),
    "truncated": (_truncated, f"{ASSESSMENTS} has "),
    "altered": (_altered, f"{ASSESSMENTS} is not the file that was written (its SHA-256 differs)"),
    "foreign table": (_foreign_table, f"{ASSESSMENTS} holds other columns than manifest.json lists ("
                                      f"{', '.join(c.name for c in schema.PLANS.columns[:3])}, ... instead of "
                                      f"{', '.join(c.name for c in schema.ASSESSMENTS.columns[:3])}, ...)"),
    "not parquet": (_not_parquet, f"{ASSESSMENTS} cannot be read as Parquet: "),
    "row count": (_rows, f"{ASSESSMENTS} holds 1407 rows, manifest.json says 1408"),
    "outside": (_outside, "manifest.json names a file outside the folder (../../etc/passwd)"),
    "manifest truncated": (_manifest_truncated, "manifest.json is not valid JSON ("),
    "manifest foreign": (_manifest_foreign, "manifest.json is not the manifest of an mdcnb snapshot"),
    "manifest newer": (_manifest_newer, "is in format version 99; mdcnb "),
    "manifest incomplete": (_manifest_incomplete, "manifest.json does not describe a snapshot (KeyError: 'audit')"),
    "older contract": (_older_contract, "tables/plans is not this mdcnb's plans table (other columns: written by "
                                        "another mdcnb version): run the report again"),
    "table unknown": (_table_unknown, "tables lacks the tables exemptions (written by another mdcnb version)"),
    "no manifest": (_no_manifest, "no manifest.json in it (not a snapshot, or unfinished)"),
    "inventories truncated": (_inventories_truncated, "inventories.json has 100 bytes, "),
}


@pytest.mark.parametrize("case", CASES)
def test_a_damaged_snapshot_is_refused_in_one_line_naming_the_file(copy, case):
    damage, expected = CASES[case]
    damage(copy)
    with pytest.raises(SnapshotError) as raised:
        snapshot.read(copy)
    message = str(raised.value)
    assert message.startswith(f"snapshot {copy}") and expected in message, message
    assert "\n" not in message
    assert raised.value.__suppress_context__ or raised.value.__context__ is None  # no chained traceback


def test_the_undamaged_copy_reads(copy):
    """The cases above damage a snapshot that reads (their failures are the damage's)."""
    assert len(snapshot.read(copy).tables.assessments) == 1407


def test_a_folder_that_is_not_there_is_named(tmp_path):
    with pytest.raises(SnapshotError, match=r"^snapshot .*nowhere: no snapshot folder$"):
        snapshot.read(tmp_path / "nowhere")


@pytest.mark.slow
def test_a_report_notebook_on_a_damaged_snapshot_fails_in_one_line(copy, tmp_path):
    """Stage 2 as the runner executes it: the notebook's failure names the missing file in one line."""
    _missing(copy)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        f"from mdcnb.report.page import Page\nPage('10_read', snapshot={str(copy)!r}).snapshot()")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source = tmp_path / "notebooks" / "10_read.ipynb"
    source.parent.mkdir()
    nbformat.write(notebook, source)
    with runner.local_kernel() as kernel_path, ProcessPoolExecutor(max_workers=1) as worker:  # as the runner does:
        # the kernel's client lives in a worker, not in this process that later tests fork
        result = worker.submit(runner.execute, source, tmp_path / "out" / "10_read.ipynb", {}, kernel_path).result()
    assert not result.ok
    assert result.failure() == (f"notebook 10_read.ipynb failed in cell 1 (from mdcnb.report.page import Page): "
                                f"SnapshotError: snapshot {copy}: {ASSESSMENTS} is missing")
