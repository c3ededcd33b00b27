"""Where CloudTrail log files are and what their path says (reference/aws-cloudtrail.md §2).

    <prefix>/AWSLogs/<acct>/CloudTrail/<region>/YYYY/MM/DD/<acct>_CloudTrail_<region>_<stamp>_<id>.json.gz
    <prefix>/AWSLogs/o-<org>/<acct>/CloudTrail/...                  (organisation trail)
    <prefix>/AWSLogs/<acct>/CloudTrail-Digest/...                   (digest files: skipped)

The date folders are the DELIVERY date (UTC), never earlier than the events inside, and usually the same day.
So a file delivered before `since` holds nothing in range, and files delivered up to `margin_days` after
`until` are still read to catch late deliveries.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

_TRAIL = re.compile(
    r"(?:^|/)AWSLogs/(?:(?P<org>o-[a-z0-9]+)/)?(?P<account>\d{12})/(?P<kind>CloudTrail[A-Za-z-]*)/"
    r"(?P<region>[a-z0-9-]+)/(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/[^/]+$")
_DATED = re.compile(r"(?:^|/)(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/[^/]+$")
LOG_SUFFIXES = (".json.gz", ".json", ".gz")
DEFAULT_MARGIN_DAYS = 1
GZIP_MAGIC = b"\x1f\x8b"  # how a gzip file begins: its bytes, not its name, say it is one


def iso_day(value: str | None) -> str | None:
    """Validate an ISO date (or datetime) and keep its day (a bad one raises ValueError)."""
    if not value:
        return None
    return date.fromisoformat(str(value)[:10]).isoformat()


class ReadError(Exception):
    """A file that could not be fetched (S3 AccessDenied, vanished key, I/O error): becomes a counted skip."""


@dataclass(frozen=True)
class LogFile:
    """One file to read: its location (path or S3 key), the delivery date and account its path shows."""

    location: str
    size: int | None = None
    delivered: date | None = None
    account: str | None = None
    region: str | None = None
    kind: str = "CloudTrail"          # CloudTrail, CloudTrail-Digest, CloudTrail-Insight, ..., "unlisted"
    problem: str | None = None        # why a path found while listing could not be listed or read (kind "unlisted")

    @property
    def is_log(self) -> bool:
        return self.kind == "CloudTrail" and self.location.endswith(LOG_SUFFIXES)


def describe(location: str, size: int | None = None) -> LogFile:
    """What the path of one file says (works for local paths and S3 keys)."""
    norm = location.replace("\\", "/")
    m = _TRAIL.search(norm)
    if m:
        return LogFile(location, size, _date(m), m["account"], m["region"], m["kind"])
    m = _DATED.search(norm)
    kind = "CloudTrail-Digest" if "CloudTrail-Digest" in norm else "CloudTrail"
    return LogFile(location, size, _date(m) if m else None, kind=kind)


def _date(m: re.Match) -> date | None:
    try:
        return date(int(m["y"]), int(m["m"]), int(m["d"]))
    except ValueError:
        return None


def in_window(f: LogFile, since: date | None, until: date | None, margin_days: int = DEFAULT_MARGIN_DAYS) -> bool:
    """Could this file hold events of [since, until]? Files without a path date are always read."""
    if f.delivered is None:
        return True
    if since and f.delivered < since:
        return False
    return not (until and f.delivered > until + timedelta(days=margin_days))


def list_local(root: Path) -> list[LogFile]:
    """Every file below `root` (or `root` itself), described, sorted by delivery date then path. A path that could
    not be listed (a folder without permission, a dangling symlink, a symlink loop) comes back as kind "unlisted"
    with its `problem`, for the scan to count as a skip: its files are missing from the counts, and the result
    says so. Symlinked folders are followed (once each).

    When the tree has an `AWSLogs/` layout, files outside it (e.g. a dataset's `trails.json`) are not logs."""
    root = Path(root)
    found = [LogFile(str(root), root.stat().st_size)] if root.is_file() else list(_walk(str(root), set()))
    files = [f if f.problem else describe(f.location, f.size) for f in found]
    if any("/AWSLogs/" in f.location.replace("\\", "/") for f in files):
        files = [f if f.problem or "/AWSLogs/" in f.location.replace("\\", "/") else replace(f, kind="other")
                 for f in files]
    return sort_files(files)


def _walk(folder: str, visited: set[tuple[int, int]]) -> Iterator[LogFile]:
    """The files below `folder` (sizes from stat), and a LogFile with a `problem` for each path that failed."""
    try:
        info = os.stat(folder)
        if (info.st_dev, info.st_ino) in visited:
            yield _unlisted(folder, "not listed again: a symlink to a folder listed already")
            return
        visited.add((info.st_dev, info.st_ino))
        with os.scandir(folder) as entries:
            children = sorted(entries, key=lambda e: e.name)
    except OSError as exc:
        yield _unlisted(folder, f"cannot list folder ({exc.strerror or exc})")
        return
    for entry in children:
        try:
            if entry.is_dir():
                yield from _walk(entry.path, visited)
            elif entry.is_file():
                yield LogFile(entry.path, entry.stat().st_size)
            elif entry.is_symlink() and not os.path.exists(entry.path):
                yield _unlisted(entry.path, f"broken symlink (target {os.readlink(entry.path)} missing)")
            else:
                yield _unlisted(entry.path, "not a regular file or folder")
        except OSError as exc:
            yield _unlisted(entry.path, f"cannot read ({exc.strerror or exc})")


def _unlisted(location: str, problem: str) -> LogFile:
    return LogFile(location, kind="unlisted", problem=problem)


def sort_files(files) -> list[LogFile]:
    """Delivery-date order (undated first): the scanner relies on it to forget old days' event ids."""
    return sorted(files, key=lambda f: (f.delivered or date.min, f.location))
