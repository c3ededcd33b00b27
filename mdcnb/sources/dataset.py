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
    governanceassignments.jsonl         governance assignments (owner, due date) of assessments
    policyexemptions.jsonl              Azure Policy exemptions (waivers, mitigations), any scope
    cloudtrail/AWSLogs/<acct>/CloudTrail/<region>/YYYY/MM/DD/<acct>_CloudTrail_<region>_<stamp>_<id>.json.gz
    history/<ISO week>/                 earlier weekly snapshots, each a dataset of its own (sample tenant)

Any `<type>.jsonl` may be stored gzip-compressed as `<type>.jsonl.gz`; readers open either transparently.
Reading never crashes on a bad line: it is listed as a skip with its file, line and reason.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson

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
    "governanceassignments",
    "policyexemptions",
)
MANIFEST = "manifest.json"
CLOUDTRAIL_DIR = "cloudtrail"

SAMPLE_DATASET = data_dir("sample")


def default_dataset() -> Path:
    """The embedded sample tenant (overridable with MDCNB_DATASET)."""
    return Path(os.environ.get("MDCNB_DATASET", SAMPLE_DATASET))


class DatasetError(ValueError):
    """A dataset that cannot be read as it stands; the message is one line naming the file and the problem.

    The command line prints it and exits with status 2.
    """


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


def line_object(line: bytes, source: str, lineno: int, record_type: str, skips: list[Skip]) -> dict[str, Any] | None:
    """The line's JSON object; None, with a skip saying why, for a line that is not JSON or not an object."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        skips.append(Skip(source, f"line {lineno}", record_type, f"not JSON: {exc}"))
        return None
    if not isinstance(record, dict):
        skips.append(Skip(source, f"line {lineno}", record_type,
                          f"expected a JSON object, got {type(record).__name__}"))
        return None
    return record


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
    """The file holding a record type: `<type>.jsonl` or `<type>.jsonl.gz`, None when neither name exists.

    A name that exists but is no readable file (a directory, a broken symbolic link) is returned all the same, so
    that reading it becomes a skip instead of passing for an absent file. Both names present is a `DatasetError`:
    either could hold the newer records, and reading one would silently drop the other.
    """
    path = record_path(dataset, record_type)
    gz = path.with_name(path.name + ".gz")
    present = [p for p in (path, gz) if os.path.lexists(p)]
    if len(present) == 2:
        raise DatasetError(f"{path} and {gz.name} both exist: keep the one that holds the current records")
    return present[0] if present else None


def check_dataset(dataset: Path) -> dict[str, Any]:
    """The manifest of a dataset that can be read as it stands, checked before any work starts.

    A `DatasetError` when the directory is missing, its manifest is damaged or a record type is stored twice
    (`read_manifest`, `existing_record_path`).
    """
    if not Path(dataset).is_dir():
        raise DatasetError(f"{dataset}: no such dataset directory")
    for record_type in RECORD_TYPES:
        existing_record_path(dataset, record_type)
    return read_manifest(dataset)


def iter_records(dataset: Path, record_type: str, skips: list[Skip]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Records of one type as (line number, record), read lazily so big files need not fit in memory.

    Plain or gzipped. A missing file yields nothing. A line that is not a JSON object is a skip of that line; a file
    that cannot be opened (a directory, a broken link) or ends early (truncated or corrupt gzip) is a skip saying
    which records were lost, with the count the manifest expected when it gives one.
    """
    for lineno, record, _ in iter_raw_records(dataset, record_type, skips):
        yield lineno, record


@dataclass
class Span:
    """The lines of a plain record file from byte `start` to byte `stop` (both at line starts), read alone; the reader
    sets `lines` to the number of lines it read (blank ones included), so later spans can number theirs."""

    start: int
    stop: int
    lines: int = 0


def line_spans(path: Path, parts: int) -> list[Span]:
    """A plain (not gzipped) record file cut into about `parts` spans of equal size, each cut after a newline."""
    size = path.stat().st_size
    cuts = [0]
    with path.open("rb") as fh:
        for k in range(1, parts):
            fh.seek(max(size * k // parts, cuts[-1]))
            fh.readline()  # to the start of the next line
            cuts.append(min(fh.tell(), size))
    cuts.append(size)
    return [Span(a, b) for a, b in itertools.pairwise(cuts) if b > a]


def iter_raw_records(dataset: Path, record_type: str, skips: list[Skip], span: Span | None = None,
                     decode: Callable[[bytes], Any] | None = None) -> Iterator[tuple[int, Any, bytes]]:
    """`iter_records` with each record's line as read (bytes), for a reader that checks the raw text.

    With a `span`, only its lines, numbered from 1 at its start (a plain file only). `decode` reads lines of a shape
    it knows faster than JSON into objects: its value for a line, or None to read that line as JSON (it must give
    None for any line orjson would refuse)."""
    path = existing_record_path(dataset, record_type)
    if path is None:
        return
    problem = _not_a_file(path)
    if problem:
        skips.append(Skip(str(path), "file", record_type, f"{problem}: {_lost(dataset, record_type, 0)}"))
        return
    read, failed = 0, []
    try:
        with _open(path) as fh:
            for lineno, line in _lines(fh, failed) if span is None else _span_lines(fh, span):
                if not line or line.isspace():  # blank (as `not line.strip()`, without copying the line)
                    continue
                fast = decode(line) if decode is not None else None
                if fast is not None:
                    read += 1
                    yield lineno, fast, line
                    continue
                record = line_object(line, str(path), lineno, record_type, skips)
                if record is None:
                    continue
                read += 1
                yield lineno, record, line
    except OSError as exc:  # cannot be opened (permissions)
        failed.append(("file", exc))
    for where, exc in failed:
        skips.append(Skip(str(path), where, record_type,
                          f"file unreadable ({exc}): {_lost(dataset, record_type, read)}"))


def _not_a_file(path: Path) -> str | None:
    """Why `path` cannot be read as a record file (None when it is a regular file, or a link to one)."""
    if path.is_symlink() and not path.exists():
        return f"broken symbolic link (to {os.readlink(path)})"
    if path.is_dir():
        return "a directory, not a record file"
    if not path.is_file():
        return "not a regular file"
    return None


def _lost(dataset: Path, record_type: str, read: int) -> str:
    """What a file that could not be read to its end lost: every record after the `read` ones, counted when the
    manifest says how many the file holds."""
    try:
        counts = read_manifest(dataset).get("counts") or {}
    except DatasetError:
        counts = {}
    expected = counts.get(record_type)
    if expected is None:
        return f"{read} record(s) read, the rest lost (the manifest does not count them)"
    return f"{read} of {expected} record(s) read, {max(expected - read, 0)} lost"


def read_records(dataset: Path, record_type: str) -> RawRecords:
    """Read one record type into memory. A missing file is an empty list; a bad line is a counted skip."""
    path = existing_record_path(dataset, record_type) or record_path(dataset, record_type)
    out = RawRecords(record_type, source=str(path))
    for lineno, record in iter_records(dataset, record_type, out.skips):
        out.records.append(record)
        out.lines.append(lineno)
    return out


def read_record_text(dataset: Path, record_type: str) -> str:
    """The raw text of one record file, plain or gzipped: "" when missing or no file, what it holds when truncated."""
    path = existing_record_path(dataset, record_type)
    if path is None or _not_a_file(path):
        return ""
    with _open(path) as fh:
        return b"".join(line for _, line in _lines(fh, [])).decode("utf-8", errors="replace")


def _span_lines(fh: IO[bytes], span: Span) -> Iterator[tuple[int, bytes]]:
    """The numbered lines of a span (as `_lines`), counted into `span.lines`."""
    fh.seek(span.start)
    left = span.stop - span.start
    while left > 0:
        line = fh.readline(left)
        if not line:
            break
        left -= len(line)
        span.lines += 1
        yield span.lines, line


READ_BUFFER = 1 << 20  # a plain file's read buffer: with the default 8 KiB, reading lines took 2.7 times the CPU


def _open(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb", buffering=READ_BUFFER)


def _lines(fh: IO[bytes], failed: list[tuple[str, Exception]]) -> Iterator[tuple[int, bytes]]:
    """Numbered lines of a file. A file that ends early or whose compressed stream is corrupt ends the lines and is
    appended to `failed` (where, error), not raised."""
    lineno = 0
    try:
        for lineno, line in enumerate(fh, start=1):
            yield lineno, line
    except (OSError, EOFError, zlib.error) as exc:
        failed.append((f"after line {lineno}", exc))


MAX_MANIFEST_BYTES = 64 << 20
# Manifest keys a reader relies on, with the JSON type each must have when present (null counts as absent).
_MANIFEST_TYPES: dict[str, type] = {"source": str, "scope": dict, "counts": dict, "pull_log": list, "requests": dict,
                                    "incomplete": list, "complete": bool, "week": str}
_MANIFEST_TIMES = ("created", "as_of", "asOf")


def read_manifest(dataset: Path) -> dict[str, Any]:
    """The dataset's `manifest.json` ({} when there is none), checked before anyone relies on it.

    A manifest that is no file, too big, not UTF-8, not a JSON object, holds NaN/Infinity, or gives a key a wrong type
    (times that are no ISO-8601 string, `counts` that are no object of record counts, ...) is a `DatasetError`
    naming the file and the problem: its scope and time decide which history series and week a snapshot belongs
    to, so a guess would file numbers under the wrong tenant or week.
    """
    path = Path(dataset) / MANIFEST
    if not os.path.lexists(path):
        return {}
    problem = _not_a_file(path)
    if problem is None and path.stat().st_size > MAX_MANIFEST_BYTES:
        problem = f"larger than {MAX_MANIFEST_BYTES >> 20} MiB"
    if problem:
        raise DatasetError(f"{path}: {problem}")
    raw = path.read_bytes()
    try:
        manifest = json.loads(raw.decode("utf-8"), parse_constant=_not_finite)
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not valid UTF-8 (byte {exc.start})") from exc
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise DatasetError(f"{path}: not JSON ({exc})") from exc
    if not isinstance(manifest, dict):
        raise DatasetError(f"{path}: expected a JSON object, got {_json_kind(manifest)}")
    problem = _manifest_problem(manifest)
    if problem:
        raise DatasetError(f"{path}: {problem}")
    return manifest


def _not_finite(token: str) -> Any:
    raise ValueError(f"{token} is not a number JSON allows")


def _json_kind(value: Any) -> str:
    kinds = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return kinds.get(type(value), "a number")


def _manifest_problem(manifest: dict[str, Any]) -> str | None:
    """What is wrong with a manifest's known keys, or None."""
    for key, expected in _MANIFEST_TYPES.items():
        value = manifest.get(key)
        if value is not None and type(value) is not expected:
            return f"{key} must be {_json_kind(expected())}, got {_json_kind(value)}"
    for key in _MANIFEST_TIMES:
        value = manifest.get(key)
        if value is not None and not _iso_time(value):
            return f"{key} must be an ISO-8601 time, got {_json_kind(value)} {str(value)[:40]!r}"
    for record_type, count in (manifest.get("counts") or {}).items():
        if type(count) is not int or count < 0:
            return f"counts.{record_type} must be a record count, got {_json_kind(count)} {str(count)[:40]!r}"
    if any(type(entry) is not dict for entry in manifest.get("pull_log") or []):
        return "pull_log must be a list of objects"
    return None


def _iso_time(value: Any) -> bool:
    if type(value) is not str:
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


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
