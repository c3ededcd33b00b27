"""Writing a dataset: record files (JSON Lines, optionally gzip, each written atomically) and `manifest.json`.

Used by `mdcnb pull` (the Azure source), `mdcnb sample` and the tests; `mdcnb.sources.dataset` reads them back.
"""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

import mdcnb
from mdcnb.sources.dataset import MANIFEST, record_path


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


def write_manifest(dataset: Path, *, source: str, scope: dict[str, Any], created: datetime | None = None,
                   counts: dict[str, int] | None = None, pull_log: list[dict[str, Any]] | None = None,
                   extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write `manifest.json`: when, what scope, which source, tool version, record counts, pull log."""
    manifest = {
        "created": (created or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
        "source": source,
        "scope": scope,
        "tool": "mdcnb",
        "tool_version": mdcnb.__version__,
        "counts": counts or {},
        "pull_log": pull_log or [],
        **(extra or {}),
    }
    path = Path(dataset) / MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return manifest
