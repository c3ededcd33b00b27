"""A dataset's content fingerprint: the history store keeps it with each week, so recording the same data again is
skipped (`history_weeks.record_dataset`).

Hashing a 2,000-subscription tenant reads 2 GB, seconds on every report. So each print is remembered for its
dataset folder with the path, size, modification and change times and inode of every file it covered (as the
table cache remembers its hashes, `tables.cache`): an unchanged folder is not read again, and any change to a file,
or a file added or removed, hashes the folder anew. The memo sits in the table cache's directory; losing it only
costs one hash.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import orjson

MEMO = "fingerprints.json"  # dataset folder -> [signature of its files, fingerprint]
_MEMO_FORMAT = b"1"         # changes when the fingerprint or the signature is computed otherwise


def dataset_fingerprint(dataset: Path) -> str:
    """A content hash of a dataset directory (its files, not its `history/` weeks): same data, same print."""
    root = Path(dataset)
    files = sorted(p for p in root.rglob("*") if p.is_file() and "history" not in p.relative_to(root).parts)
    where, signature = str(root.resolve()), _signature(root, files)
    memo = _read_memo()
    known = memo.get(where)
    if isinstance(known, list) and len(known) == 2 and known[0] == signature:
        return str(known[1])
    fingerprint = _content_hash(root, files)
    memo[where] = [signature, fingerprint]
    _write_memo(memo)
    return fingerprint


def _content_hash(root: Path, files: list[Path]) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _signature(root: Path, files: list[Path]) -> str:
    """What changes whenever a file's content may have: each file's path, size, times and inode."""
    digest = hashlib.blake2b(_MEMO_FORMAT, digest_size=16)
    for path in files:
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}\0{stat.st_size} {stat.st_mtime_ns} {stat.st_ctime_ns} "
                      f"{stat.st_ino}\n".encode())
    return digest.hexdigest()


def _memo_path() -> Path:
    from mdcnb.tables.cache import cache_dir

    return cache_dir() / MEMO


def _read_memo() -> dict[str, object]:
    try:
        memo = orjson.loads(_memo_path().read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return memo if isinstance(memo, dict) else {}


def _write_memo(memo: dict[str, object]) -> None:
    """Replace the memo atomically with an owner-only file; a cache directory that cannot be written is passed over."""
    path = _memo_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(orjson.dumps(memo))
        os.replace(tmp, path)
    except OSError:
        return
    finally:
        Path(tmp).unlink(missing_ok=True)
