"""A dataset's content fingerprint: the history store keeps it with each week, so recording the same data again is
skipped (`history_weeks.record_dataset`).

Hashing a 2,000-subscription tenant reads 2 GB, seconds on every report. So each print is remembered for its
dataset folder with the path and `tables.cache.file_signature` (size, times, inode) of every file it covered, in a
memo file of the table cache's directory (`tables.cache.read_memo`, as the table cache remembers its own hashes):
an unchanged folder is not read again, and any change to a file, or a file added or removed, hashes the folder
anew. Losing the memo only costs one hash.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

MEMO = "fingerprints.json"  # dataset folder -> [signature of its files, fingerprint] (`tables.cache.read_memo`)
_MEMO_FORMAT = 1            # changes when the fingerprint or the signature is computed otherwise


def dataset_fingerprint(dataset: Path) -> str:
    """A content hash of a dataset directory (its files, not its `history/` weeks): same data, same print."""
    from mdcnb.tables.cache import file_signature, read_memo, write_memo

    root = Path(dataset)
    files = sorted(p for p in root.rglob("*") if p.is_file() and "history" not in p.relative_to(root).parts)
    where = str(root.resolve())
    signature = [_MEMO_FORMAT, *([str(p.relative_to(root)), *file_signature(p)] for p in files)]
    memo = read_memo(MEMO)
    known = memo.get(where)
    if isinstance(known, list) and len(known) == 2 and known[0] == signature:
        return str(known[1])
    fingerprint = _content_hash(root, files)
    memo[where] = [signature, fingerprint]
    write_memo(MEMO, memo)
    return fingerprint


def _content_hash(root: Path, files: list[Path]) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()
