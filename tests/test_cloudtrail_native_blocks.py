"""The native reader's fast paths at their edges: a string's end, escape, multibyte UTF-8 sequence, control character
or invalid byte at every position around the 16-byte blocks its string loop tests at once (SSE2; and in the bytes
near the end of the text, tested one by one), and the lookup of known keys against names one byte away from them.
Expected values are the json module's (`assert_exact`) or written by hand."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cloudtrail_helpers import CSPM, assume_web, role_call, user_call
from test_cloudtrail_native import WHEN, assert_exact, both_readers, odd_records

from mdcnb.normalize.cloudtrail import _jsonscan

POSITIONS = range(0, 70)  # the block boundaries at 16, 32, 48 and 64 bytes from a string's start, either side
# What may stop the string loop, as a text and as it must be written: escaped (ensure_ascii) or as UTF-8 bytes.
STOPS = [("escaped-quote", '"', True), ("escaped-backslash", "\\", True), ("escaped-e-acute", "\u00e9", True),
         ("escaped-pair", "\U0001f680", True), ("utf8-2", "\u00e9", False), ("utf8-3", "\u8cc7", False),
         ("utf8-4", "\U0001f680", False), ("none", "", True)]


def dumps(doc: Any, ensure_ascii: bool) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=ensure_ascii).encode()


def texts_with(stop: str) -> list[str]:
    """`stop` after k letters, for every k in POSITIONS, with a tail of 17 letters (so the string goes on past the
    next block) and with none (so the closing quote follows it)."""
    return [f"{'a' * k}{stop}{tail}" for k in POSITIONS for tail in ("", "b" * 17)]


@pytest.mark.parametrize(("stop", "ensure_ascii"), [pytest.param(s, e, id=name) for name, s, e in STOPS])
def test_a_string_stop_at_every_position_reads_exactly(stop: str, ensure_ascii: bool) -> None:
    """In an extracted field (eventName) and in a skipped one (userAgent, and a last member just before the end of
    the text): the json module's values, every record read natively."""
    records = []
    for i, text in enumerate(texts_with(stop)):
        rec = dict(role_call(i, CSPM, WHEN) if i % 2 else user_call(i, WHEN), eventName=text, userAgent=text)
        records.append(dict(rec, zLast=text))  # the record's last member: its string ends near `]}` in the last one
    data = dumps({"Records": records}, ensure_ascii)
    assert_exact(data, records, [len(dumps(rec, ensure_ascii)) for rec in records])


@pytest.mark.parametrize("wrapped", [True, False], ids=["Records", "bare-array"])
def test_a_string_ending_at_every_position_before_the_end_of_the_text_reads_exactly(wrapped: bool) -> None:
    """One record whose last member is a string of every length: its end falls in every position of the last
    bytes of the text, which the string loop tests one by one."""
    for k in POSITIONS:
        rec = dict(user_call(1, WHEN), zLast="x" * k + "\u00e9")
        data = dumps({"Records": [rec]} if wrapped else [rec], False)
        assert_exact(data, [rec], [len(dumps(rec, False))])


def test_a_control_character_at_every_position_is_not_json() -> None:
    """A raw newline anywhere in a string, read or skipped: the text is not JSON, which both readers say."""
    for field in ("eventName", "userAgent"):
        for text in texts_with("\n"):
            good = dumps({"Records": [dict(user_call(1, WHEN), **{field: text.replace("\n", "N")})]}, False)
            data = good.replace(text.replace("\n", "N").encode(), text.encode())
            native, general = both_readers(data)
            assert native is None and general.startswith("not JSON"), (field, text)


def test_an_invalid_byte_at_every_position_leaves_its_record_to_the_general_path() -> None:
    """A byte that is not UTF-8 (0xFF) anywhere in a string, read or skipped: the file is read natively but for
    that one record, which msgspec reads (the same values as if it read the file)."""
    for field in ("eventName", "userAgent"):
        for text in texts_with("\xff"):
            marked = text.replace("\xff", "#")
            good = dumps({"Records": [user_call(1, WHEN), dict(user_call(2, WHEN), **{field: marked})]}, True)
            data = good.replace(marked.encode(), text.encode("latin-1"))
            native, general = both_readers(data)
            assert native is not None and native == general and odd_records(data) == 1, (field, text)


KNOWN_KEYS = {  # the keys the reader reads, by the object they are in (FIELDS and what leads to them)
    "record": ("eventTime", "readOnly", "userIdentity", "eventVersion", "eventID", "recipientAccountId",
               "awsRegion", "eventSource", "eventName", "requestParameters"),
    "userIdentity": ("arn", "principalId", "accountId", "sessionContext"),
    "requestParameters": ("roleArn", "roleSessionName"),
}


def one_byte_away(name: str) -> list[str]:
    """`name` with each of its bytes changed in turn (to the next letter), the length kept."""
    return [name[:i] + chr(ord(name[i]) + 1) + name[i + 1:] for i in range(len(name))]


def test_names_one_byte_away_from_a_known_key_are_skipped() -> None:
    """Every known key's near names, as extra members next to the real ones (the values are unchanged) and, for
    eventName, in its place (the record has no eventName: None, as the json module's dict says)."""
    records = []
    for level, names in KNOWN_KEYS.items():
        for name in names:
            for near in one_byte_away(name):
                rec = (assume_web if level == "requestParameters" else role_call)(len(records), CSPM, WHEN)
                where = rec if level == "record" else rec[level]
                where[near] = "decoy"
                records.append(rec)
    for near in one_byte_away("eventName"):
        rec = user_call(len(records), WHEN)
        rec[near] = rec.pop("eventName")
        records.append(rec)
    data = dumps({"Records": records}, True)
    assert_exact(data, records, [len(dumps(rec, True)) for rec in records])
    scanned = _jsonscan.Scanner().scan(data)
    assert scanned is not None and "decoy" not in scanned[0]  # no decoy was read as a field
