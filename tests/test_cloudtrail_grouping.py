"""The native reader's tables outside the JSON walk: `group_rows` (numbered by `_jsonscan.groups`) and the text
table behind `Scanner.codes`. Expected values are derived here with plain dicts, independently of the code."""

from __future__ import annotations

import random

import numpy as np

from mdcnb.normalize.cloudtrail import _jsonscan
from mdcnb.normalize.cloudtrail.columns import NONE, group_rows


def numbered(rows: list[tuple[int, ...]]) -> tuple[list[int], list[int]]:
    """(group per row, first row per group), groups numbered in order of first appearance, by a dict."""
    seen: dict[tuple[int, ...], int] = {}
    firsts = []
    for i, row in enumerate(rows):
        if row not in seen:
            seen[row] = len(seen)
            firsts.append(i)
    return [seen[row] for row in rows], firsts


def test_group_rows_numbers_groups_in_order_of_first_appearance() -> None:
    rng = random.Random(7)
    widths = (3, 1, 40, 7, 200, 2)
    rows = [tuple(rng.randrange(w) for w in widths) for _ in range(5000)]
    group, first = group_rows([np.array(col, dtype=np.int32) for col in zip(*rows, strict=True)])
    assert (group.tolist(), first.tolist()) == numbered(rows)


def test_group_rows_renumbers_keys_that_would_overflow() -> None:
    """Six columns of values up to 2**20 cannot share one int64 key: the key is renumbered on the way."""
    rng = random.Random(8)
    values = [rng.randrange(1 << 20) for _ in range(30)]
    rows = [tuple(rng.choice(values) for _ in range(6)) for _ in range(3000)]
    rows += rows[:500]  # repeats, so groups have several rows
    group, first = group_rows([np.array(col, dtype=np.int64) for col in zip(*rows, strict=True)])
    assert (group.tolist(), first.tolist()) == numbered(rows)


def test_groups_of_no_keys_and_of_one_key() -> None:
    group, first = _jsonscan.groups(np.zeros(0, dtype=np.int64))
    assert (group, first) == (b"", b"")
    group, first = _jsonscan.groups(np.array([5, 5, 5, -1, 5], dtype=np.int64))
    assert np.frombuffer(group, dtype=np.int64).tolist() == [0, 0, 0, 1, 0]
    assert np.frombuffer(first, dtype=np.int64).tolist() == [0, 3]


def test_text_codes_tell_apart_texts_that_differ_in_any_byte() -> None:
    """Texts of every length up to 40 (the table hashes eight bytes at a time and the rest apart), each also with
    one byte changed at every position: each distinct text gets its own code, the same text always the same."""
    base = "arn:aws:iam::111122223333:role/CspmMonitor"
    texts = [base[:n] for n in range(1, 41)]
    texts += [t[:i] + chr(ord(t[i]) ^ 1) + t[i + 1:] for t in texts for i in range(len(t))]
    texts += ["é" * n for n in range(1, 12)]  # non-ASCII: several bytes a character
    scanner = _jsonscan.Scanner()
    codes = scanner.codes(texts)
    again = scanner.codes(list(reversed(texts)))[::-1]
    assert codes == again
    expected = {text: code for code, text in enumerate(dict.fromkeys(texts), start=2)}
    assert codes == [expected[t] for t in texts]
    assert scanner.codes([None, ""]) == [NONE, 1]
    assert scanner.texts[2:] == list(expected)
