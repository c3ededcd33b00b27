"""A cache of normalised tables for big datasets, so the notebooks of one report (each loading the same
dataset) normalise a million assessments once, not once per notebook.

A cache entry is a pickle of `Tables` in the user's cache directory (`$MDCNB_CACHE_DIR`, else platformdirs'
user cache dir), named by a key over the dataset's path, the size and modification time of each record file,
and the source of the code that produces the tables; any change makes a new key. Only datasets whose record
files hold more than `MIN_BYTES` are cached (small ones load faster than a cache lookup pays off), at most
`KEEP` entries are kept, and `MDCNB_TABLE_CACHE=off` turns caching off. The cache holds only what the dataset
holds (no credential), readable by its owner only.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mdcnb import __version__
from mdcnb.dataset import MANIFEST, RECORD_TYPES, existing_record_path

if TYPE_CHECKING:
    from mdcnb.tables import Tables

MIN_BYTES = 32 * 1024 * 1024
KEEP = 8
_PACKAGE = Path(__file__).resolve().parent
# The code whose change changes the tables of an unchanged dataset.
_CODE = ("schema.py", "dataset.py", "tables.py", "table_cache.py", "normalize")


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


def cached(dataset: Path, build: Callable[[], Tables]) -> Tables:
    """The tables of `dataset` from the cache, or `build()` stored in the cache when worth it."""
    if os.environ.get("MDCNB_TABLE_CACHE", "").lower() in ("off", "0", "no"):
        return build()
    key = cache_key(dataset)
    if key is None:
        return build()
    entry = cache_dir() / f"{key}.pickle"
    try:
        with entry.open("rb") as fh:
            tables = pickle.load(fh)
        tables.dataset = dataset
        return tables
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError):
        pass  # no entry yet, or one written by another version: rebuild it
    tables = build()
    _store(entry, tables)
    return tables


def _store(entry: Path, tables: Tables) -> None:
    """Write the entry atomically (owner-only), then drop the oldest entries beyond `KEEP`. Never fails a load."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(tables, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, entry)
        entries = sorted(entry.parent.glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[KEEP:]:
            old.unlink(missing_ok=True)
    except OSError:
        return
