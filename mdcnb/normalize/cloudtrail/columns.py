"""The column-wise form of a file's records (`Columns`), which both readers produce and the counts consume: each
text field (FIELDS) as a code into the file's few distinct texts, with the helpers that code, merge and group them
and the 64-bit eventID hash (`event_hashes`) shared by the native reader and msgspec."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from mdcnb.normalize.cloudtrail import _jsonscan  # built from _jsonscan.c by `pip install` (setup.py)

# The text fields of Columns, in the native reader's order (_jsonscan.c): eventTime to the hour, then as named,
# the identity ARN None only for a record without userIdentity (general path).
FIELDS = ("hour", "eventVersion", "recipientAccountId", "awsRegion", "eventSource", "eventName",
          "userIdentity.sessionContext.sessionIssuer.arn", "userIdentity.arn", "userIdentity.principalId",
          "userIdentity.accountId", "requestParameters.roleArn", "requestParameters.roleSessionName")
(HOUR, VERSION, ACCOUNT, REGION, SOURCE, NAME, ISSUER, IDENTITY_ARN, PRINCIPAL, IDENTITY_ACCOUNT, ROLE_ARN,
 ROLE_SESSION) = range(len(FIELDS))
NONE, EMPTY = 0, 1  # the codes of None and "" in every Columns


@dataclass
class Columns:
    """A file's records column-wise, one row per record: each text field (FIELDS) as a code into `texts`, the
    file's distinct texts (NONE and EMPTY first); the size of each record; readOnly as 1, 0 or -1 (no readOnly
    field, general path only); the eventID as a 64-bit hash (`event_hashes`) where `has_id`. `strict` says every
    record passed the strict reader; otherwise `issues` counts what was odd."""

    texts: list[str | None]
    codes: np.ndarray      # int32, (records, FIELDS)
    sizes: np.ndarray      # int64
    read_only: np.ndarray  # int8
    has_id: np.ndarray     # bool
    id_hashes: np.ndarray  # int64, 0 where not has_id
    strict: bool = True
    issues: Counter = field(default_factory=Counter)

    def __len__(self) -> int:
        return len(self.sizes)

    def rows(self, keep: np.ndarray) -> Columns:
        """The records where `keep` is True."""
        return replace(self, codes=self.codes[keep], sizes=self.sizes[keep], read_only=self.read_only[keep],
                       has_id=self.has_id[keep], id_hashes=self.id_hashes[keep])


def with_path_account(cols: Columns, path_account: str | None) -> Columns:
    """`cols` with the account in the file's path for records without recipientAccountId. (A path account new to
    the texts gives `cols` a list of its own, which `concat` merges.)"""
    missing = cols.codes[:, ACCOUNT] == NONE
    if not path_account or not missing.any():
        return cols
    texts = cols.texts if path_account in cols.texts else [*cols.texts, path_account]
    codes = cols.codes.copy()
    codes[missing, ACCOUNT] = texts.index(path_account)
    return replace(cols, texts=texts, codes=codes)


def concat(parts: list[Columns]) -> Columns:
    """The records of several files as one Columns, their texts merged (one code per distinct text) unless they
    share them already (one scanner read them)."""
    if len(parts) == 1:
        return parts[0]
    if all(cols.texts is parts[0].texts for cols in parts):
        texts, codes = parts[0].texts, [cols.codes for cols in parts]
    else:
        code_of = code_table()
        codes = [np.array(encode(cols.texts, code_of), dtype=np.int32)[cols.codes] for cols in parts]
        texts = list(code_of)
    return Columns(texts, np.concatenate(codes),
                   *(np.concatenate([getattr(cols, name) for cols in parts])
                     for name in ("sizes", "read_only", "has_id", "id_hashes")),
                   strict=all(cols.strict for cols in parts), issues=sum((cols.issues for cols in parts), Counter()))


def code_table() -> dict[str | None, int]:
    return {None: NONE, "": EMPTY}


def encode(texts: Iterable[str | None], code_of: dict[str | None, int]) -> list[int]:
    """The code of each text in `code_of`, a text not yet in it taking the next number."""
    return [code_of.setdefault(text, len(code_of)) for text in texts]


def group_rows(columns: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(each row's group number, the first row of each group) for rows grouped by equal values in all of the
    integer `columns`, groups numbered in order of first appearance. The columns are combined into one int64 key,
    renumbered densely whenever the next would overflow it; numbering is the native reader's hash table
    (`_jsonscan.groups`: a few times faster than sorting, and than pandas' factorize on a task's rows)."""
    key = np.asarray(columns[0], dtype=np.int64)
    for column in columns[1:]:
        width = int(column.max(initial=0)) + 1
        if int(key.max(initial=0)) >= (1 << 62) // width:
            key = _groups(key)[0]
        key = key * width + column
    return _groups(key)


def _groups(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    group, first = _jsonscan.groups(np.ascontiguousarray(key, dtype=np.int64))
    return np.frombuffer(group, dtype=np.int64), np.frombuffer(first, dtype=np.int64)


UUID_CHARS = 36


def event_hashes(ids: list[str]) -> np.ndarray:
    """64-bit hashes of eventIDs, the same in every process and run and whatever else a file holds. CloudTrail's
    eventIDs are 36-character UUIDs: those are hashed by the native reader's hash (splitmix64's finaliser over
    their bytes), all in one call; any other id by BLAKE2b."""
    lengths = np.fromiter(map(len, ids), dtype=np.intp, count=len(ids))
    uuid_shaped = (lengths == UUID_CHARS) & np.fromiter(map(str.isascii, ids), dtype=bool, count=len(ids))
    hashes = np.empty(len(ids), dtype=np.int64)
    shaped = np.flatnonzero(uuid_shaped).tolist()
    hashes[uuid_shaped] = np.frombuffer(_jsonscan.uuid_hashes("".join(map(ids.__getitem__, shaped)).encode()),
                                        dtype=np.int64)
    for i in np.flatnonzero(~uuid_shaped).tolist():
        hashes[i] = _blake2b(ids[i])
    return hashes


def _blake2b(event_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "little", signed=True)
