"""The dataset layout: raw records on disk, exactly as Azure and AWS return them.

A dataset directory is written by `mdcnb sample` and `mdcnb pull` and read by every command that takes
`--dataset DIR`:

    manifest.json                       when, what scope, which source, tool version, pull log
    subscriptions.jsonl                 one record per line, as ARG `resourcecontainers` or ARM returns it
    securityconnectors.jsonl            native securityConnectors and classic connectors
    pricings.jsonl                      subscription- and resource-level pricings
    assessments.jsonl
    assessmentmetadata.jsonl
    securescores.jsonl
    securescorecontrols.jsonl           with `$expand=definition`
    regulatorycompliancestandards.jsonl
    regulatorycompliancecontrols.jsonl
    regulatorycomplianceassessments.jsonl
    resources.jsonl                     ARG `resources` inventory rows (billing units, Arc machines)
    cloudtrail/AWSLogs/<acct>/CloudTrail/<region>/YYYY/MM/DD/<acct>_CloudTrail_<region>_<stamp>_<id>.json.gz
    history/<ISO week>/                 earlier weekly snapshots, each a dataset of its own (sample tenant)

Any `<type>.jsonl` may be stored gzip-compressed as `<type>.jsonl.gz`; readers open either transparently.
Reading never crashes on a bad line: it is listed as a skip with its file, line and reason.
"""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from mdcnb import __version__
from mdcnb.core.package_data import data_dir

RECORD_TYPES: tuple[str, ...] = (
    "subscriptions",
    "securityconnectors",
    "pricings",
    "assessments",
    "assessmentmetadata",
    "securescores",
    "securescorecontrols",
    "regulatorycompliancestandards",
    "regulatorycompliancecontrols",
    "regulatorycomplianceassessments",
    "resources",
)
MANIFEST = "manifest.json"
CLOUDTRAIL_DIR = "cloudtrail"

SAMPLE_DATASET = data_dir("sample")


def default_dataset() -> Path:
    """The embedded sample tenant (overridable with MDCNB_DATASET)."""
    return Path(os.environ.get("MDCNB_DATASET", SAMPLE_DATASET))


@dataclass
class Skip:
    """A record or file that could not be read, and why."""

    source: str
    location: str
    record_type: str
    reason: str

    def as_row(self) -> dict[str, str]:
        return {"source": self.source, "location": self.location, "record_type": self.record_type,
                "reason": self.reason}


@dataclass
class RawRecords:
    """Raw records of one type read from a dataset, with the lines that could not be read.

    `lines[i]` is the line number of `records[i]` in `source`, so later stages can say where a record that
    cannot be normalised came from.
    """

    record_type: str
    records: list[dict[str, Any]] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    source: str = ""
    lines: list[int] = field(default_factory=list)


def record_path(dataset: Path, record_type: str) -> Path:
    if record_type not in RECORD_TYPES:
        raise ValueError(f"unknown record type {record_type!r}; known: {', '.join(RECORD_TYPES)}")
    return Path(dataset) / f"{record_type}.jsonl"


def existing_record_path(dataset: Path, record_type: str) -> Path | None:
    """The file holding a record type: `<type>.jsonl`, else `<type>.jsonl.gz`, else None."""
    path = record_path(dataset, record_type)
    gz = path.with_name(path.name + ".gz")
    return path if path.exists() else gz if gz.exists() else None


def iter_records(dataset: Path, record_type: str, skips: list[Skip]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Records of one type as (line number, record), read lazily so big files need not fit in memory.

    Plain or gzipped. A missing file yields nothing; a line that is not a JSON object, or a file that ends
    early (truncated gzip), is appended to `skips` and passed over.
    """
    path = existing_record_path(dataset, record_type)
    if path is None:
        return
    with _open(path) as fh:
        for lineno, line in _lines(fh, path, record_type, skips):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                skips.append(Skip(str(path), f"line {lineno}", record_type, f"not JSON: {exc}"))
                continue
            if not isinstance(record, dict):
                skips.append(Skip(str(path), f"line {lineno}", record_type,
                                  f"expected a JSON object, got {type(record).__name__}"))
                continue
            yield lineno, record


def read_records(dataset: Path, record_type: str) -> RawRecords:
    """Read one record type into memory. A missing file is an empty list; a bad line is a counted skip."""
    path = existing_record_path(dataset, record_type) or record_path(dataset, record_type)
    out = RawRecords(record_type, source=str(path))
    for lineno, record in iter_records(dataset, record_type, out.skips):
        out.records.append(record)
        out.lines.append(lineno)
    return out


def read_record_text(dataset: Path, record_type: str) -> str:
    """The raw text of one record file, plain or gzipped: "" when missing, what it holds when truncated."""
    path = existing_record_path(dataset, record_type)
    if path is None:
        return ""
    with _open(path) as fh:
        return b"".join(line for _, line in _lines(fh, path, record_type, [])).decode("utf-8", errors="replace")


def _open(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def _lines(fh: IO[bytes], path: Path, record_type: str, skips: list[Skip]) -> Iterator[tuple[int, bytes]]:
    """Numbered lines of a file; a file that ends early (truncated gzip) becomes a skip, not a crash."""
    lineno = 0
    try:
        for lineno, line in enumerate(fh, start=1):
            yield lineno, line
    except (OSError, EOFError) as exc:
        skips.append(Skip(str(path), f"after line {lineno}", record_type, f"file unreadable: {exc}"))


def write_records(dataset: Path, record_type: str, records: Iterable[dict[str, Any]],
                  compress: bool = False) -> int:
    """Write records as JSON Lines (atomically: a temporary file renamed into place). Returns the count."""
    with DatasetWriter(dataset, compress=compress) as writer:
        for record in records:
            writer.write(record_type, record)
    return writer.counts.get(record_type, 0)


class DatasetWriter:
    """Stream records of several types into a dataset at once (bounded memory), each file written atomically.

    Records are compact JSON (orjson, UTF-8). Every file opened is renamed into place on a clean exit,
    replacing any older `.jsonl`/`.jsonl.gz` of the same type; on an exception the temporary files are
    removed. With `compress=True` files are `<type>.jsonl.gz` with a fixed gzip header (no name, mtime 0),
    so the same records give the same bytes.
    """

    def __init__(self, dataset: Path, compress: bool = False) -> None:
        self.dataset = Path(dataset)
        self.compress = compress
        self.counts: dict[str, int] = {}
        self._files: dict[str, tuple[str, IO[bytes], IO[bytes]]] = {}  # type -> (temp path, writer, raw file)

    def __enter__(self) -> DatasetWriter:
        self.dataset.mkdir(parents=True, exist_ok=True)
        return self

    def write(self, record_type: str, record: dict[str, Any]) -> None:
        if record_type not in self._files:
            self._files[record_type] = self._open(record_type)
            self.counts[record_type] = 0
        self._files[record_type][1].write(orjson.dumps(record) + b"\n")
        self.counts[record_type] += 1

    def _open(self, record_type: str) -> tuple[str, IO[bytes], IO[bytes]]:
        record_path(self.dataset, record_type)  # validates the type
        fd, tmp = tempfile.mkstemp(dir=self.dataset, suffix=".tmp")
        raw = os.fdopen(fd, "wb")
        if self.compress:
            return tmp, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6), raw
        return tmp, raw, raw

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        for record_type, (tmp, fh, raw) in self._files.items():
            fh.close()
            raw.close()  # GzipFile does not close a file object it was given
            if exc_type is not None:
                os.unlink(tmp)
                continue
            path = record_path(self.dataset, record_type)
            gz = path.with_name(path.name + ".gz")
            final, stale = (gz, path) if self.compress else (path, gz)
            os.replace(tmp, final)
            os.chmod(final, 0o644)  # mkstemp makes 0600; datasets are shared read-only data
            stale.unlink(missing_ok=True)


def read_manifest(dataset: Path) -> dict[str, Any]:
    path = Path(dataset) / MANIFEST
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        return {"error": f"{path}: not JSON ({exc})"}


def write_manifest(dataset: Path, *, source: str, scope: dict[str, Any], created: datetime | None = None,
                   counts: dict[str, int] | None = None, pull_log: list[dict[str, Any]] | None = None,
                   extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write `manifest.json`: when, what scope, which source, tool version, record counts, pull log."""
    manifest = {
        "created": (created or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
        "source": source,
        "scope": scope,
        "tool": "mdcnb",
        "tool_version": __version__,
        "counts": counts or {},
        "pull_log": pull_log or [],
        **(extra or {}),
    }
    path = Path(dataset) / MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return manifest


def most_common_tenant(tenants: Iterable[Any]) -> str | None:
    """The tenant id named most often, lower case (ties: the smallest id); None when none is named."""
    counts = Counter(str(t).lower() for t in tenants if t)
    return min(counts, key=lambda t: (-counts[t], t)) if counts else None


def records_tenant(subscriptions: Iterable[dict[str, Any]]) -> str | None:
    """The tenant most of these subscription records belong to (`tenantId`, Resource Graph and REST shapes): a pull's
    tenant, which names its history series."""
    return most_common_tenant(r.get("tenantId") or (r.get("properties") or {}).get("tenantId")
                              for r in subscriptions if isinstance(r, dict))


def cloudtrail_root(dataset: Path) -> Path:
    return Path(dataset) / CLOUDTRAIL_DIR


def iter_datasets(root: Path) -> Iterator[Path]:
    """Dataset directories below `root` (those holding a manifest), sorted by path."""
    yield from sorted(p.parent for p in Path(root).rglob(MANIFEST))
