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

Reading never crashes on a bad line: it is listed as a skip with its file, line and reason.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from mdcnb import __version__

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

SAMPLE_DATASET = Path(__file__).resolve().parent.parent / "data" / "sample"


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


def iter_records(dataset: Path, record_type: str, skips: list[Skip]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Records of one type as (line number, record), read lazily so big files need not fit in memory.

    A missing file yields nothing; a line that is not a JSON object is appended to `skips` and passed over.
    """
    path = record_path(dataset, record_type)
    if not path.exists():
        return
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, start=1):
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
    out = RawRecords(record_type, source=str(record_path(dataset, record_type)))
    for lineno, record in iter_records(dataset, record_type, out.skips):
        out.records.append(record)
        out.lines.append(lineno)
    return out


def write_records(dataset: Path, record_type: str, records: Iterable[dict[str, Any]]) -> int:
    """Write records as JSON Lines (atomically: a temporary file renamed into place). Returns the count."""
    path = record_path(dataset, record_type)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp",
                                     encoding="utf-8") as tmp:
        for record in records:
            tmp.write(json.dumps(record, separators=(",", ":"), ensure_ascii=False))
            tmp.write("\n")
            count += 1
    os.replace(tmp.name, path)
    return count


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


def cloudtrail_root(dataset: Path) -> Path:
    return Path(dataset) / CLOUDTRAIL_DIR


def iter_datasets(root: Path) -> Iterator[Path]:
    """Dataset directories below `root` (those holding a manifest), sorted by path."""
    yield from sorted(p.parent for p in Path(root).rglob(MANIFEST))
