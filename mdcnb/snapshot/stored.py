"""The snapshot as files: what stage 1 of `mdcnb report` leaves in `<week>/snapshot/` for the notebooks to read.

    snapshot/
        manifest.json                      format and version; every value that is not a table; one entry per table
                                           (its file, rows, columns with their dtypes, size and SHA-256)
        tables/<table>.parquet             the week's normalised tables (an empty table has no file)
        cloudtrail/volume.parquet, cloudtrail/hourly.parquet     the week's one CloudTrail scan
        audit/results.parquet              the AWS readiness audit
        prices/rows.parquet                the price table
        trails.parquet                     the CloudTrail trails
        inventories.json                   the AWS inventory (the audit and the cost page read it)
        history/weeks/<week>/<table>.parquet, history/previous/<table>.parquet, history/cloudtrail/<week>.parquet,
        history/audits/<week>.parquet      the stored weeks, as read back from the history store
        history/assessment_match/after.parquet, .../before.parquet    how the compared weeks' assessments pair up
                                           (`diff.KeyMatch`: the summary page then reads no assessment ids)

A table that appears twice (the history's latest week is the week's own tables) is written once and read back as
one object. Plain JSON and Parquet: nothing in the folder runs code when it is read, any Parquet reader opens the
tables (`duckdb.sql("FROM 'reports/2026-W48/snapshot/tables/assessments.parquet'")`), and `read` checks every file
against the manifest and names, in one line, what is missing, truncated or foreign (`SnapshotError`).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from mdcnb import __version__
from mdcnb.analysis import diff
from mdcnb.core import schema
from mdcnb.snapshot import Options, Snapshot
from mdcnb.snapshot.parquet import FrameReader, FrameWriter, SnapshotError, checked_file, json_text, write_file
from mdcnb.snapshot.readiness import AuditResult
from mdcnb.sources.aws_dataset import AccountInventory, Call
from mdcnb.sources.dataset import Skip
from mdcnb.sources.prices import PriceTable, SiemPrice
from mdcnb.tables import Tables
from mdcnb.tables.cloudtrail.result import VolumeResult
from mdcnb.tables.history import HistoryStore, snapshot_manifest
from mdcnb.tables.history_weeks import StoredWeek, WeeklyHistory

FORMAT = "mdcnb-snapshot"
VERSION = 2  # 2: the assessment match
MANIFEST = "manifest.json"
INVENTORIES = "inventories.json"
PREVIOUS = "history/previous"  # the previous week's table set
SHARED_ENV = "MDCNB_SNAPSHOT_SHARED"  # "1": `read` gives a folder read before back as the same object
LeaveOut = Mapping[str, Collection[str]]  # table -> columns a reader will not look at
_SHARED: dict[Path, _Kept] = {}
_SCAN_FRAMES = ("volume", "hourly")  # the VolumeResult fields that are tables; the others are its accounting


def write(snap: Snapshot, folder: str | Path) -> Path:
    """Write the snapshot to `folder` (replacing what is there, owner-only, whole or not at all: it is written to
    `.<folder>.partial` beside it and renamed into place; a partial folder a killed writer left is replaced);
    the path of its manifest."""
    folder = Path(folder)
    building = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(mode=0o700, parents=True)
    parts = _Writer(FrameWriter(building))
    try:
        body = parts.snapshot(snap)
        manifest = {"format": FORMAT, "version": VERSION, "written_by": f"mdcnb {__version__}", "snapshot": body,
                    "tables": parts.tables, "frames": parts.frames.entries}
        write_file(building, MANIFEST, json_text(manifest, indent=True).encode())
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(building, folder)
    finally:
        parts.frames.close()
        shutil.rmtree(building, ignore_errors=True)
    return folder / MANIFEST


def read(folder: str | Path, leave_out: LeaveOut | None = None) -> Snapshot:
    """The snapshot `write` left in `folder`, every file checked against the manifest; `SnapshotError` (one line,
    naming the file) when one is missing, truncated, damaged or not the one written, or the folder is no snapshot.
    `leave_out` names, per table, columns the reader will not look at: its tables (in every table set) come
    without them, which spares a report kernel the memory of the columns its page does not read.
    With `SHARED_ENV` set (the report's kernels, which run several notebooks each), a folder read before whose
    manifest and files are unchanged gives back the same Snapshot object, its tables given the columns this
    reader wants: the left-out ones dropped, the ones an earlier reader left out read back."""
    folder, leave_out = Path(folder), leave_out or {}
    data = _manifest_bytes(folder)
    manifest = _manifest(folder, data)
    shared = os.environ.get(SHARED_ENV) == "1"
    kept = _SHARED.get(folder.resolve()) if shared else None
    if kept is not None and kept.manifest == data:
        _check_files(folder, manifest)
        kept.fit(folder, manifest, leave_out)
        return kept.snapshot
    frames = FrameReader(folder, manifest.get("frames"))
    snap = _read(folder, manifest, frames, leave_out)
    if shared:
        _SHARED.clear()  # one snapshot kept: the report's
        _SHARED[folder.resolve()] = _Kept(data, snap, frames.frames_read, _table_frames(manifest))
    return snap


@dataclass
class _Kept:
    """A snapshot a report kernel keeps between notebooks, with its table frames by name to fit them to a reader."""

    manifest: bytes
    snapshot: Snapshot
    frames: dict[str, pd.DataFrame]   # frame name -> the frame read (the same object the snapshot holds)
    tables: dict[str, str]            # frame name -> the contract it follows, for every table of a table set

    def fit(self, folder: Path, manifest: dict[str, Any], leave_out: LeaveOut) -> None:
        """Give every kept table the contract's columns but `leave_out`'s, in the contract's order (the previous
        week's too, when it is next read)."""
        history = self.snapshot.history
        if history is not None and isinstance(history.previous_tables, _LaterTableSet):
            if history.previous_tables.leave_out != leave_out:
                history.forget_previous()
            history.previous_tables.leave_out = leave_out
        reader = FrameReader(folder, manifest["frames"])
        try:
            for name, table in self.tables.items():
                if name in self.frames and _fit_columns(self.frames[name], name, table, leave_out, reader):
                    self.snapshot.memo.clear()  # computed from other columns
        finally:
            reader.close()


def _fit_columns(frame: pd.DataFrame, name: str, table: str, leave_out: LeaveOut, reader: FrameReader) -> bool:
    """Drop the columns of `frame` (the frame `name`, following `table`'s contract) that `leave_out` names and read
    back the others it lacks; whether it changed."""
    unwanted = set(leave_out.get(table, ()))
    dropped = [c for c in frame.columns if c in unwanted]
    for column in dropped:
        del frame[column]
    contract = [c.name for c in schema.TABLES[table].columns]
    missing = [c for c in contract if c not in frame.columns and c not in unwanted]
    for column, values in reader.columns(name, missing):
        before = contract[:contract.index(column)]
        frame.insert(sum(c in frame.columns for c in before), column, values)
    return bool(dropped or missing)


def _table_frames(manifest: dict[str, Any]) -> dict[str, str]:
    """Frame name -> its contract, for every table of every table set the manifest lists."""
    return {frame: table for entry in manifest["tables"].values() for table, frame in entry["frames"].items()}


def forget_computed() -> None:
    """Empty what was computed from the kept snapshot (`Snapshot.memo`), keeping the snapshot: a report kernel does
    this between two notebooks, so that the next one starts as in a new kernel, and the last one's figures (the
    compliance page's lists of unhealthy resources, the week's diff) do not stay in memory beside the tables; the
    previous week, read by a page that compares with it, is let go too."""
    for kept in _SHARED.values():
        kept.snapshot.memo.clear()
        if kept.snapshot.history is not None:
            kept.snapshot.history.forget_previous()


def _check_files(folder: Path, manifest: dict[str, Any]) -> None:
    """Every file the manifest lists is there with its size and SHA-256 (`checked_file`)."""
    entries = [e for e in manifest["frames"].values() if "file" in e]
    for entry in [*entries, manifest["snapshot"]["inventories"]]:
        checked_file(folder, entry)


def _read(folder: Path, manifest: dict[str, Any], frames: FrameReader, leave_out: LeaveOut) -> Snapshot:
    try:
        return _Reader(frames, manifest["tables"], leave_out).snapshot(manifest["snapshot"])
    except SnapshotError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SnapshotError(f"snapshot {folder}: manifest.json does not describe a snapshot "
                            f"({type(exc).__name__}: {exc})") from None
    finally:
        frames.close()


def _manifest_bytes(folder: Path) -> bytes:
    path = folder / MANIFEST
    if not path.is_file():
        what = "no snapshot folder" if not folder.is_dir() else f"no {MANIFEST} in it (not a snapshot, or unfinished)"
        raise SnapshotError(f"snapshot {folder}: {what}")
    return path.read_bytes()


def _manifest(folder: Path, data: bytes) -> dict[str, Any]:
    try:
        manifest = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise SnapshotError(f"snapshot {folder}: {MANIFEST} is not valid JSON ({exc}): truncated or damaged") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise SnapshotError(f"snapshot {folder}: {MANIFEST} is not the manifest of an mdcnb snapshot")
    if manifest.get("version") != VERSION:
        raise SnapshotError(f"snapshot {folder} is in format version {manifest.get('version')!r}; mdcnb "
                            f"{__version__} reads version {VERSION}: run the report again")
    return manifest


def _text(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _path(text: str | None) -> Path | None:
    return None if text is None else Path(text)


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _scalars(obj: Any, *leave_out: str) -> dict[str, Any]:
    """A dataclass's fields but `leave_out`, by name (values as they are: JSON takes them)."""
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.name not in leave_out}


@dataclass
class _Writer:
    """Turns a Snapshot into the manifest's `snapshot` part, writing its tables as it goes."""

    frames: FrameWriter
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    _names: dict[int, tuple[str, Tables]] = field(default_factory=dict)

    def table_set(self, name: str, tables: Tables) -> str:
        """Write a `Tables` once (by identity); the name it is listed under in the manifest's `tables`."""
        if id(tables) not in self._names:
            self._listed(name, {t: self.frames.frame(f"{name}/{t}", frame) for t, frame in tables.items()},
                         tables.manifest, tables.dataset)
            self._names[id(tables)] = (name, tables)
        return self._names[id(tables)][0]

    def _listed(self, name: str, frames: dict[str, str], manifest: dict[str, Any], dataset: Path | None) -> None:
        """List a table set in the manifest's `tables`: its frames by table, its dataset manifest and folder."""
        self.tables[name] = {"frames": frames, "manifest": manifest, "dataset": _text(dataset)}

    def snapshot(self, snap: Snapshot) -> dict[str, Any]:
        frame, scan, audit, prices = self.frames.frame, snap.cloudtrail, snap.audit, snap.prices
        return {
            "tables": self.table_set("tables", snap.tables),
            "cloudtrail": {**_scalars(scan, *_SCAN_FRAMES),
                           **{name: frame(f"cloudtrail/{name}", getattr(scan, name)) for name in _SCAN_FRAMES}},
            "audit": {"results": frame("audit/results", audit.results), "as_of": audit.as_of.isoformat(),
                      "skips": [dataclasses.asdict(s) for s in audit.skips]},
            "prices": {**_scalars(prices, "rows", "path"), "rows": frame("prices/rows", prices.rows),
                       "path": _text(prices.path)},
            "siem_price": dataclasses.asdict(snap.siem_price),
            "options": dataclasses.asdict(snap.options),
            "trails": frame("trails", snap.trails),
            "inventories": self.inventories(snap.inventories),
            "history": self.history(snap.history) if snap.history is not None else None,
            "assessment_match": self.assessment_match(snap),  # after the history: it reads the previous week's copy
        }

    def inventories(self, inventories: dict[str, AccountInventory]) -> dict[str, Any]:
        accounts = {account: {**_scalars(inventory, "collected_at", "calls"),
                              "collected_at": inventory.collected_at.isoformat() if inventory.collected_at else None,
                              "calls": {key: [dataclasses.asdict(c) for c in calls]
                                        for key, calls in inventory.calls.items()}}
                    for account, inventory in inventories.items()}
        return {**write_file(self.frames.folder, INVENTORIES, json_text(accounts).encode()), "accounts": len(accounts)}

    def history(self, history: WeeklyHistory) -> dict[str, Any]:
        frame = self.frames.frame
        return {
            "series": history.series, "store": str(history.store),
            "weeks": {week: self.table_set(f"history/weeks/{week}", t) for week, t in history.weeks.items()},
            "cloudtrail": {week: frame(f"history/cloudtrail/{week}", f) for week, f in history.cloudtrail.items()},
            "audits": {week: None if f is None else frame(f"history/audits/{week}", f)
                       for week, f in history.audits.items()},
            "folders": {week: str(path) for week, path in history.folders.items()},
            "latest": self.table_set("history/latest", history.latest),
            "previous": self.previous_week(history),
            "incomplete": list(history.incomplete),
        }

    def assessment_match(self, snap: Snapshot) -> dict[str, str] | None:
        """How the assessments of the weeks the summary compares pair up (`diff.key_match`), so that its kernel needs
        neither week's ids; the previous week's key columns are read back from its copy when it was copied."""
        history = snap.history
        if history is None:
            return None
        match = snap.assessment_match or diff.key_match(self._earlier_keys(history), snap.tables.assessments)
        return {side: self.frames.frame(f"history/assessment_match/{side}", getattr(match, side))
                for side in ("after", "before")}

    def _earlier_keys(self, history: WeeklyHistory) -> pd.DataFrame:
        if not isinstance(history.previous_tables, StoredWeek):
            return history.baseline.assessments
        reader = FrameReader(self.frames.folder, self.frames.entries)
        try:
            return pd.DataFrame(dict(reader.columns(f"{PREVIOUS}/assessments", diff.KEYED)))
        finally:
            reader.close()

    def previous_week(self, history: WeeklyHistory) -> str | None:
        """The previous week's table set: copied from the history store by DuckDB when it is a stored week (reading
        a million assessments into pandas took 14 s and 0.7 GB of stage 1 at 2,000 subscriptions), else written."""
        source = history.previous_tables
        if not isinstance(source, StoredWeek):
            return None if history.previous is None else self.table_set(PREVIOUS, history.previous)
        name = PREVIOUS
        with HistoryStore(source.path, read_only=True) as store:
            week = store.by_id(source.snapshot_id)
            frames = {t: self.frames.copied(f"{name}/{t}", {c: str(d) for c, d in contract.frame().dtypes.items()},
                                            week.row_counts.get(t, 0), functools.partial(store.copy_table, week, t))
                      for t, contract in schema.TABLES.items()}
            self._listed(name, frames, snapshot_manifest(week), None)
        return name


@dataclass
class _Reader:
    """Turns the manifest's `snapshot` part back into a Snapshot, reading each table and table set once."""

    frames: FrameReader
    table_sets: dict[str, dict[str, Any]]
    leave_out: LeaveOut
    _read: dict[str, Tables] = field(default_factory=dict)

    def table_set(self, name: str) -> Tables:
        if name not in self._read:
            entry = self.table_sets[name]
            self._check_contracts(name, entry["frames"])
            self._read[name] = Tables(**{t: self.frames.frame(f, self.leave_out.get(t, ()))
                                         for t, f in entry["frames"].items()},
                                      manifest=entry["manifest"], dataset=_path(entry["dataset"]))
        return self._read[name]

    def _check_contracts(self, name: str, frames: dict[str, str]) -> None:
        """The tables of a set are this mdcnb's contracts, column for column (a snapshot written by a version with
        other contracts would give the analysis tables it does not expect, or silently empty ones)."""
        folder = self.frames.folder
        missing = [t for t in schema.TABLES if t not in frames]
        if missing:
            raise SnapshotError(f"snapshot {folder}: {name} lacks the tables {', '.join(missing)} (written by another "
                                "mdcnb version): run the report again")
        for table, frame in frames.items():
            expected = [c.name for c in schema.TABLES[table].columns] if table in schema.TABLES else None
            if list(self.frames.entries[frame]["columns"]) != expected:
                raise SnapshotError(f"snapshot {folder}: {frame} is not this mdcnb's {table} table (other columns: "
                                    "written by another mdcnb version): run the report again")

    def snapshot(self, part: dict[str, Any]) -> Snapshot:
        frame, scan, audit, prices = self.frames.frame, part["cloudtrail"], part["audit"], part["prices"]
        return Snapshot(
            tables=self.table_set(part["tables"]),
            cloudtrail=VolumeResult(**{k: frame(v) if k in _SCAN_FRAMES else v for k, v in scan.items()}),
            audit=AuditResult(frame(audit["results"]), datetime.fromisoformat(audit["as_of"]),
                              [Skip(**s) for s in audit["skips"]]),
            prices=PriceTable(**{**prices, "rows": frame(prices["rows"]), "path": _path(prices["path"]),
                                 "overrides": tuple(prices["overrides"])}),
            siem_price=SiemPrice(**part["siem_price"]),
            options=Options(**{**part["options"], "overrides": tuple(part["options"]["overrides"])}),
            inventories=self.inventories(part["inventories"]),
            trails=frame(part["trails"]),
            history=self.history(part["history"]) if part["history"] is not None else None,
            assessment_match=None if part["assessment_match"] is None else diff.KeyMatch(
                **{side: frame(name) for side, name in part["assessment_match"].items()}),
        )

    def inventories(self, entry: dict[str, Any]) -> dict[str, AccountInventory]:
        path = checked_file(self.frames.folder, entry)
        accounts = orjson.loads(path.read_bytes())
        if len(accounts) != entry["accounts"]:
            raise SnapshotError(f"snapshot {self.frames.folder}: {INVENTORIES} holds {len(accounts)} accounts, "
                                f"manifest.json says {entry['accounts']}")
        return {account: AccountInventory(**{**inv, "collected_at": _time(inv["collected_at"]),
                                             "calls": {key: [Call(**c) for c in calls]
                                                       for key, calls in inv["calls"].items()}})
                for account, inv in accounts.items()}

    def history(self, part: dict[str, Any]) -> WeeklyHistory:
        frame = self.frames.frame
        return WeeklyHistory(
            series=part["series"], store=Path(part["store"]),
            weeks={week: self.table_set(name) for week, name in part["weeks"].items()},
            cloudtrail={week: frame(name) for week, name in part["cloudtrail"].items()},
            audits={week: None if name is None else frame(name) for week, name in part["audits"].items()},
            folders={week: Path(path) for week, path in part["folders"].items()},
            latest=self.table_set(part["latest"]),
            previous_tables=None if part["previous"] is None else _LaterTableSet(
                self.frames.folder, self.frames.entries, self.table_sets, part["previous"], self.leave_out),
            incomplete=list(part["incomplete"]),
        )


@dataclass
class _LaterTableSet:
    """Reads a table set of the snapshot when called: the previous week's, which only the summary page compares
    with, is read when first used (`WeeklyHistory.previous`), without the columns `leave_out` names."""

    folder: Path
    entries: dict[str, dict[str, Any]]
    table_sets: dict[str, dict[str, Any]]
    name: str
    leave_out: LeaveOut

    def __call__(self) -> Tables:
        frames = FrameReader(self.folder, self.entries)
        try:
            return _Reader(frames, self.table_sets, self.leave_out).table_set(self.name)
        finally:
            frames.close()

