"""A cache of normalised tables for big datasets, so the notebooks of one report (each loading the same
dataset) normalise a million assessments once, not once per notebook.

A cache entry is one file in the user's cache directory (`$MDCNB_CACHE_DIR`, else platformdirs'
user cache dir), named by a key over the dataset's path, the size and modification time of each record file,
and the source of the code that produces the tables; any change makes a new key. The file holds one pickle per
table and an index of where each starts, so a reader that needs a few tables (`load_tables(names=...)`) reads only
those and never holds a million assessments it does not use. Only datasets whose record
files hold more than `MIN_BYTES` are cached (small ones load faster than a cache lookup pays off), at most
`KEEP` entries are kept, and `MDCNB_TABLE_CACHE=off` turns caching off. The cache holds only what the dataset
holds (no credential), readable by its owner only.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import struct
import tempfile
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mdcnb import __version__
from mdcnb.sources.dataset import MANIFEST, RECORD_TYPES, existing_record_path

if TYPE_CHECKING:
    from mdcnb.tables import Tables

MIN_BYTES = 32 * 1024 * 1024
KEEP = 8
_MAGIC = b"MDCNB-TABLES-1\n"
_TRAILER = struct.Struct("<Q")  # the offset of the index, at the end of the file
_PACKAGE = Path(__file__).resolve().parents[1]
# The code whose change changes the tables of an unchanged dataset.
_CODE = ("core/schema", "sources/dataset.py", "tables/__init__.py", "tables/cache.py", "normalize")


def cache_dir() -> Path:
    configured = os.environ.get("MDCNB_CACHE_DIR")
    if configured:
        return Path(configured)
    import platformdirs

    return platformdirs.user_cache_path("mdcnb") / "tables"


def _code_digest() -> str:
    digest = hashlib.sha256(__version__.encode())
    for name in _CODE:
        path = _PACKAGE / name
        for source in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(source.name.encode())
            digest.update(source.read_bytes())
    return digest.hexdigest()


def cache_key(dataset: Path) -> str | None:
    """The cache key of a dataset, or None when it is too small to be worth caching."""
    files = [p for p in (existing_record_path(dataset, t) for t in RECORD_TYPES) if p is not None]
    manifest = dataset / MANIFEST
    if manifest.exists():
        files.append(manifest)
    stats = [(p.name, p.stat()) for p in files]
    if sum(s.st_size for _, s in stats) < MIN_BYTES:
        return None
    digest = hashlib.sha256(_code_digest().encode())
    digest.update(str(dataset.resolve()).encode())
    for name, stat in stats:
        digest.update(f"{name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:32]


def cached(dataset: Path, build: Callable[[], Tables], names: Collection[str] | None = None) -> Tables:
    """The tables of `dataset` (only `names` when given, the others empty) from the cache, or `build()` stored in
    the cache when worth it."""
    if os.environ.get("MDCNB_TABLE_CACHE", "").lower() in ("off", "0", "no"):
        return build().only(names)
    key = cache_key(dataset)
    if key is None:
        return build().only(names)
    entry = cache_dir() / f"{key}.pickle"
    try:
        return _read(entry, dataset, names)
    except (OSError, EOFError, ValueError, struct.error, pickle.UnpicklingError, AttributeError, ImportError,
            TypeError, KeyError):
        pass  # no entry yet, or a damaged one: rebuild it
    tables = build()
    _store(entry, tables)
    return tables.only(names)


def _read(entry: Path, dataset: Path, names: Collection[str] | None) -> Tables:
    from mdcnb.tables import Tables

    frames, meta = read_frames(entry, names)
    return Tables(**frames, manifest=meta["manifest"], dataset=dataset)


def read_frames(entry: Path, names: Collection[str] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The frames of a file written by `write_frames` (only `names` when given) and its metadata."""
    with entry.open("rb") as fh:
        if fh.read(len(_MAGIC)) != _MAGIC:
            raise ValueError(f"{entry} is not a table cache entry")
        fh.seek(-_TRAILER.size, os.SEEK_END)
        fh.seek(_TRAILER.unpack(fh.read(_TRAILER.size))[0])
        index = pickle.load(fh)
        frames = {}
        for name in index["offsets"] if names is None else names:
            fh.seek(index["offsets"][name])
            frames[name] = pickle.load(fh)
    return frames, {k: v for k, v in index.items() if k != "offsets"}


def _store(entry: Path, tables: Tables) -> None:
    """Write the entry, then drop the oldest entries beyond `KEEP`. Never fails a load."""
    try:
        write_frames(entry, dict(tables.items()), {"manifest": tables.manifest})
        entries = sorted(entry.parent.glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[KEEP:]:
            old.unlink(missing_ok=True)
    except OSError:
        return


def write_frames(entry: Path, frames: Mapping[str, Any], meta: Mapping[str, Any]) -> None:
    """Write named objects (DataFrames) and metadata atomically to one owner-only file, each readable alone."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(_MAGIC)
            offsets = {}
            for name, frame in frames.items():
                offsets[name] = fh.tell()
                pickle.dump(frame, fh, protocol=pickle.HIGHEST_PROTOCOL)
            index_at = fh.tell()
            pickle.dump({**meta, "offsets": offsets}, fh, protocol=pickle.HIGHEST_PROTOCOL)
            fh.write(_TRAILER.pack(index_at))
        os.replace(tmp, entry)
    finally:
        Path(tmp).unlink(missing_ok=True)
