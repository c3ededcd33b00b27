"""The native CloudTrail reader (`_jsonscan.c`) is exact: wherever it reads a file, msgspec's reader gives the same
values record by record (the records it hands to msgspec included), and wherever it cannot read a file exactly it
declines (returns None) -- above all, it never accepts a text that is not JSON. Expected values come from the json
module or are written by hand. The tests call each reader explicitly, so they hold whatever MDCNB_NATIVE says."""

from __future__ import annotations

import gzip
import json
import os
import random
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from cloudtrail_helpers import CSPM, assume_web, role_call, user_call
from test_cloudtrail_scan import without_whitespace

from mdcnb.normalize.cloudtrail import _jsonscan
from mdcnb.normalize.cloudtrail.columns import FIELDS, Columns
from mdcnb.normalize.cloudtrail.inflate import inflate
from mdcnb.normalize.cloudtrail.parse import read_log
from mdcnb.sample.cloudtrail_synth import Builder, TrailAccount, account_events, pack
from mdcnb.sources.dataset import SAMPLE_DATASET
from mdcnb.tables.cloudtrail import volume

STRATUS = Path(__file__).parent / "fixtures" / "cloudtrail-samples" / "stratus-red-team"
SAMPLE_LOGS = SAMPLE_DATASET / "cloudtrail"
WHEN = "2026-11-02T10:00:00Z"


# ---- the comparable form of a reader's result ---------------------------------------------------------------------
def per_record(cols: Columns | str) -> str | tuple[list[tuple], bool, dict]:
    """A skip reason as it is; else (one row per record: the decoded FIELDS texts, size, readOnly, has eventID,
    eventID hash), strict, issues)."""
    if type(cols) is str:
        return cols
    assert cols.codes.shape == (len(cols), len(FIELDS))
    rows = [(*(cols.texts[c] for c in codes), size, ro, has, h) for codes, size, ro, has, h in zip(
        cols.codes.tolist(), cols.sizes.tolist(), cols.read_only.tolist(), cols.has_id.tolist(),
        cols.id_hashes.tolist(), strict=True)]
    return rows, cols.strict, dict(cols.issues)


def both_readers(data: bytes) -> tuple[Any, Any]:
    """(the native reader's result in the comparable form, or None where it declines; msgspec's)."""
    native = None if _jsonscan.Scanner().scan(data) is None else per_record(read_log(data, native=True))
    return native, per_record(read_log(data, native=False))


def odd_records(data: bytes) -> int:
    """How many records of `data` the native reader hands to msgspec (it reads the file)."""
    scanned = _jsonscan.Scanner().scan(data)
    assert scanned is not None
    return len(scanned[-1]) // 24  # (row, offset, length) as int64


def expected_rows(records: list[dict], sizes: list[int]) -> list[tuple]:
    """Each record's row without its hash, from the json module's dicts, as the strict reader defines the fields:
    eventTime to the hour, a missing identity/issuer/parameter text is "", a missing top-level text is None."""
    rows = []
    for rec, size in zip(records, sizes, strict=True):
        ui = rec["userIdentity"]
        issuer = ui.get("sessionContext", {}).get("sessionIssuer", {}).get("arn", "")
        params = rec.get("requestParameters") or {}
        rows.append((rec["eventTime"][:13], rec.get("eventVersion"), rec.get("recipientAccountId"),
                     rec.get("awsRegion"), rec.get("eventSource"), rec.get("eventName"), issuer, ui.get("arn", ""),
                     ui.get("principalId", ""), ui.get("accountId"), params.get("roleArn", ""),
                     params.get("roleSessionName", ""), size, int(rec["readOnly"]), rec.get("eventID") is not None))
    return rows


def assert_hashes_follow_ids(records: list[dict], rows: list[tuple]) -> None:
    """The same eventID always has the same hash, different eventIDs different hashes."""
    by_id = {}
    for rec, row in zip(records, rows, strict=True):
        if "eventID" in rec:
            assert by_id.setdefault(rec["eventID"], row[-1]) == row[-1]
    assert len(set(by_id.values())) == len(by_id)


def compact(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def assert_exact(data: bytes, records: list[dict], sizes: list[int]) -> None:
    """The native reader reads `data` (every record itself), msgspec agrees record by record, and both equal the
    json module's values."""
    native, general = both_readers(data)
    assert native is not None, "the native reader declined a compact file"
    assert odd_records(data) == 0
    assert native == general
    rows, strict, issues = native
    assert strict and issues == {}
    assert [row[:-1] for row in rows] == expected_rows(records, sizes)
    assert_hashes_follow_ids(records, rows)


# ---- 1. agreement on real and realistic data --------------------------------------------------------------------
def test_sample_tenant_logs_read_natively_and_agree() -> None:
    paths = sorted(p for p in SAMPLE_LOGS.rglob("*.json.gz") if "CloudTrail-Digest" not in str(p))
    assert len(paths) > 500
    total = 0
    for path in paths:
        data, reason = inflate(path.read_bytes())
        assert reason is None
        records = json.loads(data)["Records"]
        assert data == json.dumps({"Records": records}, separators=(",", ":"), ensure_ascii=False).encode()
        assert data.isascii()  # compact ASCII as CloudTrail writes it: the native reader must take it
        assert_exact(data, records, [len(compact(r)) for r in records])
        total += len(records)
    assert total > 10000


@pytest.mark.parametrize("wrapped", [True, False], ids=["Records", "bare-array"])
def test_stratus_records_compact_read_natively_and_agree(wrapped: bool) -> None:
    files = sorted(STRATUS.glob("*.json"))
    assert len(files) == 35
    for path in files:
        records = json.loads(path.read_text())
        data = compact({"Records": records} if wrapped else records)
        assert_exact(data, records, [len(compact(r)) for r in records])


def test_stratus_records_as_delivered() -> None:
    """As delivered (pretty-printed, some strings escaped) the native reader declines and the general path reads
    them; with only the whitespace removed (escapes kept as written) the native reader reads the same values."""
    escaped_files = 0
    for path in sorted(STRATUS.glob("*.json")):
        text = path.read_bytes()
        native, general = both_readers(text)
        assert native is None
        squeezed = without_whitespace(text.decode()).encode()
        escaped_files += b"\\u" in squeezed
        native_squeezed, general_squeezed = both_readers(squeezed)
        assert native_squeezed is not None and native_squeezed == general_squeezed
        rows, strict, issues = general
        assert not strict and issues == {}
        assert rows == native_squeezed[0]
    assert escaped_files == 2  # ec2-user-data and ssm-start-session hold \\u003c, \\u003e, \\u0026: read natively


def test_synthetic_records_read_natively_and_agree() -> None:
    b = Builder(random.Random(11), tenant_id="5f0c6b0e-2b7a-4d67-9f4c-0c1f5a3b9d21")
    acct = TrailAccount("123456789012", ("us-east-1", "eu-west-1"), scan_interval_hours=6,
                        cspm_role_arn="arn:aws:iam::123456789012:role/CspmMonitorAws",
                        other_role_arns=("arn:aws:iam::123456789012:role/DefenderForCloud-AgentlessScanner",),
                        user_events_per_day=600)
    records = list(account_events(b, acct, datetime(2026, 11, 1, tzinfo=UTC), 2))
    assert len(records) > 3000
    for start in range(0, len(records), 700):
        chunk = records[start:start + 700]
        data, reason = inflate(pack(chunk))
        assert reason is None and data.isascii()
        assert_exact(data, chunk, [len(orjson.dumps(r)) for r in chunk])


POLICY_DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                    "Action": "sts:AssumeRole", "Condition": {"StringLike": {
                                                        "aws:userid": "<AROA*> & 'x'"}}}]}


def with_real_world_text(records: list[dict]) -> list[dict]:
    """The records with what real trails carry here and there: UTF-8 user agents and object keys, policy documents
    as escaped JSON strings, and (not seen in real trails, but the reader must decode them) non-ASCII text in the
    fields the counts read."""
    for i, rec in enumerate(records):
        if i % 3 == 0:
            rec["userAgent"] = "Boto3/1.35 md/Botocore#1.35 ua/2.0 os/linux équipe/工具 🚀"
        if i % 5 == 0:
            rec["requestParameters"] = {"bucketName": "b", "key": "rapports/été/資料 🚀.csv"}
        if i % 11 == 0:
            rec["requestParameters"] = {"roleName": "r", "assumeRolePolicyDocument": json.dumps(POLICY_DOC, indent=2)}
        if i % 7 == 0:
            rec["userIdentity"]["principalId"] = "AROAEXAMPLE:Zoë 🚀"
            rec["eventName"] = rec["eventName"] + "\u00e9/\n"  # a newline is escaped however it is written
    return records


@pytest.mark.parametrize("ensure_ascii", [False, True], ids=["utf8", "escaped"])
def test_records_with_non_ascii_text_read_natively_and_agree(ensure_ascii: bool) -> None:
    """Written as UTF-8 (as CloudTrail does) or with every non-ASCII character escaped (surrogate pairs for the
    emoji), the native reader reads every record itself and gives the json module's values."""
    b = Builder(random.Random(12), tenant_id="5f0c6b0e-2b7a-4d67-9f4c-0c1f5a3b9d21")
    acct = TrailAccount("123456789012", ("us-east-1",), scan_interval_hours=6,
                        cspm_role_arn="arn:aws:iam::123456789012:role/CspmMonitorAws", user_events_per_day=300)
    records = with_real_world_text(list(account_events(b, acct, datetime(2026, 11, 1, tzinfo=UTC), 1))[:1500])

    def dumps(doc: Any) -> bytes:
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=ensure_ascii).encode()

    data = dumps({"Records": records})
    assert data.isascii() == ensure_ascii and b"/\\n" in data and b'\\"Version\\"' in data
    assert_exact(data, records, [len(dumps(r)) for r in records])


# ---- 2. targeted variants: the native reader declines, never misreads -------------------------------------------
# READS: every record natively; ODD: the file natively, some records by msgspec; DECLINES: msgspec reads the file.
READS, ODD, DECLINES, SKIPPED, NOT_JSON = "reads", "odd record", "declines", "skipped", "not JSON"


def good_records() -> list[dict]:
    return [role_call(1, CSPM, WHEN), dict(user_call(2, WHEN), note="plain", tags={"k": [1, True, None]}),
            assume_web(3, CSPM, WHEN)]


GOOD = compact({"Records": good_records()})


def edited(change: Callable[[list[dict]], Any], wrapper: Callable[[list], Any] = lambda r: {"Records": r}) -> bytes:
    """The good file with its records changed by `change` (which edits them in place), written compact."""
    records = good_records()
    change(records)
    return compact(wrapper(records))


def swapped(old: bytes, new: bytes, text: bytes = GOOD) -> bytes:
    """The text with the first `old` replaced by `new` (which must be there)."""
    assert old in text
    return text.replace(old, new, 1)


def nested(depth: int) -> bytes:
    """The good file with a skipped member whose arrays make the whole text `depth` deep (the wrapper object, the
    Records array and the record object are 3)."""
    inner = depth - 3
    return swapped(b'"note":"plain"', b'"note":' + b"[" * inner + b"]" * inner)


def update(i: int, **fields: Any) -> Callable[[list[dict]], None]:
    return lambda records: records[i].update(fields)


def drop(i: int, name: str) -> Callable[[list[dict]], None]:
    return lambda records: records[i].pop(name)


def in_identity(i: int, **fields: Any) -> Callable[[list[dict]], None]:
    return lambda records: records[i]["userIdentity"].update(fields)


def skipped_value(value: bytes) -> bytes:
    return swapped(b'"plain"', value)


ODD_RECORD = b'{"eventTime":"2026-11-02T10:00:00Z","userIdentity":{},"note":"\xff"}'  # no readOnly: general path

USER_AGENT = '"userAgent":"aws-cli/2.15 md/prompt#off \u00e9quipe/\u5de5\u5177 \U0001f680"'
POLICY = json.dumps(json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                "Resource": "arn:aws:s3:::b/*", "Condition": {"StringLike": {"s3:prefix": "<a&b>"}}}]},
                               indent=2).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))
# Bytes as real trails carry them: UTF-8 user agents and object keys, escaped policy documents and session names.
REAL_WORLD_VARIANTS: list[tuple[str, bytes, str]] = [
    ("utf8-user-agent", swapped(b'"note":"plain"', b'"note":"plain",' + USER_AGENT.encode()), READS),
    ("utf8-object-key-in-requestParameters", swapped(b'"durationSeconds":3600', '"durationSeconds":3600,'
                                                     '"key":"rapports/\u00e9t\u00e9/\u8cc7\u6599.csv"'.encode()),
     READS),
    ("escaped-policy-document", swapped(b'"durationSeconds":3600', b'"durationSeconds":3600,"policy":'
                                        + POLICY.encode()), READS),
    ("escaped-equals-in-session-name", swapped(b'"roleSessionName":"MicrosoftDefenderForClouds_',
                                               b'"roleSessionName":"a\\u003db\\u0040c_'), READS),
    ("escaped-slash-in-issuer-arn", swapped(b'role/CspmMonitorAws"', b'role\\/CspmMonitorAws"'), READS),
    ("escaped-pair-in-extracted-field", swapped(b'"ListBuckets"', b'"List\\ud83d\\ude80"'), READS),
    ("utf8-4-bytes-in-extracted-field", swapped(b'"ListBuckets"', '"List\U0001f680"'.encode()), READS),
    ("escaped-key-in-identity", swapped(b'"arn":"arn:aws:iam::111122223333:user', b'"\\u0061rn":"arn:aws:iam::1:user'),
     READS),
    ("non-ascii-key", swapped(b'"note"', '"n\u00f6te"'.encode()), READS),
    ("non-ascii-eventTime-after-the-hour", swapped(b'"2026-11-02T10:00:00Z"', '"2026-11-02T10:00:00\u00c5"'.encode()),
     READS),
    ("non-ascii-eventTime-in-the-hour", swapped(b'"2026-11-02T10:00:00Z"', '"2026-11-02T1\u00e9:00:00Z"'.encode()),
     ODD),
    ("escaped-eventID", swapped(b'"eventID":"', b'"eventID":"\\u0030'), ODD),
    ("non-ascii-eventID", swapped(b'"eventID":"', '"eventID":"\u00e9'.encode()), ODD),
    ("invalid-utf8-in-extracted-field", swapped(b'"ListBuckets"', b'"List\x89Buckets"'), ODD),
    *((f"invalid-utf8-{name}", skipped_value(b'"a' + seq + b'b"'), ODD) for name, seq in (
        ("overlong-nul", b"\xc0\x80"), ("overlong-slash", b"\xe0\x80\xaf"), ("encoded-surrogate", b"\xed\xa0\x80"),
        ("past-u10ffff", b"\xf4\x90\x80\x80"), ("lone-continuation", b"\x80"), ("cut-sequence", b"\xe2\x82"),
        ("f5", b"\xf5\x80\x80\x80"))),
    *((f"valid-utf8-{name}", skipped_value(b'"a' + seq + b'b"'), READS) for name, seq in (
        ("u0080", b"\xc2\x80"), ("u07ff", b"\xdf\xbf"), ("u0800", b"\xe0\xa0\x80"), ("ud7ff", b"\xed\x9f\xbf"),
        ("ue000", b"\xee\x80\x80"), ("u10000", b"\xf0\x90\x80\x80"), ("u10ffff", b"\xf4\x8f\xbf\xbf"))),
    ("invalid-utf8-and-no-readOnly", swapped(b'},{"eventVersion":"1.08"',
                                             b'},' + ODD_RECORD + b',{"eventVersion":"1.08"'), ODD),
    ("high-surrogate-then-other-escape", skipped_value(b'"\\ud83d\\u0041"'), NOT_JSON),
    ("high-surrogate-at-the-end", skipped_value(b'"x\\ud83d"'), NOT_JSON),
    ("two-high-surrogates", skipped_value(b'"\\ud83d\\ud83d\\ude00"'), NOT_JSON),
    ("lone-surrogate-in-extracted-field", swapped(b'"ListBuckets"', b'"List\\udc00"'), NOT_JSON),
    ("escape-cut-short-in-extracted-field", swapped(b'"ListBuckets"', b'"List\\u00"'), NOT_JSON),
    ("odd-record-not-json", swapped(b'"readOnly":true', b'"readOnly":tru'), NOT_JSON),
    ("odd-record-with-whitespace", swapped(b'"readOnly":true', b'"readOnly": 1'), DECLINES),
]

VARIANTS: list[tuple[str, bytes, str]] = [
    ("good", GOOD, READS),
    ("space-after-colon", swapped(b'":"', b'": "'), DECLINES),
    ("space-after-comma", swapped(b'","', b'", "'), DECLINES),
    ("newline-between-records", swapped(b"},{", b"},\n{"), DECLINES),
    ("tab-before-array", swapped(b":[", b":\t["), DECLINES),
    ("whitespace-around-the-text", b" \r\n\t" + GOOD + b"\n\n", READS),
    ("form-feed-at-the-end", GOOD + b"\x0c", NOT_JSON),
    ("byte-order-mark", b"\xef\xbb\xbf" + GOOD, NOT_JSON),
    ("non-ascii-in-skipped-string", skipped_value('"caf\u00e9"'.encode()), READS),
    ("non-ascii-in-extracted-field", swapped(b'"ListBuckets"', '"ListB\u00fcckets"'.encode()), READS),
    ("invalid-utf8-in-skipped-string", skipped_value(b'"\xff"'), ODD),
    ("del-in-extracted-field", swapped(b'"ListBuckets"', b'"List\x7fBuckets"'), READS),
    ("escaped-quote-in-skipped-string", skipped_value(b'"a\\"b"'), READS),
    ("escaped-backslash-in-skipped-string", skipped_value(b'"a\\\\b"'), READS),
    ("escaped-A-in-skipped-string", skipped_value(b'"\\u0041"'), READS),
    ("escaped-e-acute-in-skipped-string", skipped_value(b'"caf\\u00e9"'), READS),
    ("escaped-slash-nul-newline-in-skipped-string", skipped_value(b'"\\/\\u0000\\n\\t\\b\\f\\r"'), READS),
    ("bad-escape-in-skipped-string", skipped_value(b'"\\x41"'), NOT_JSON),
    ("short-unicode-escape", skipped_value(b'"\\u00e"'), NOT_JSON),
    ("escaped-key-in-skipped-object", swapped(b'"tags":{"k"', b'"tags":{"\\u006b"'), READS),
    ("escape-in-eventName", swapped(b'"ListBuckets"', b'"List\\u0042uckets"'), READS),
    ("escape-in-eventTime", swapped(b'"2026-11-02T10', b'"2026\\u002d11-02T10'), READS),
    ("escape-in-identity-arn", swapped(b'"arn:aws:iam::111122223333:user', b'"arn:aws:iam::111122223333:user\\/x'),
     READS),
    ("escape-in-known-key", swapped(b'"eventName"', b'"event\\u004eame"'), READS),
    ("escape-in-unknown-record-key", swapped(b'"note"', b'"no\\u0074e"'), READS),
    ("escape-in-Records-key", swapped(b'"Records"', b'"Rec\\u006frds"'), DECLINES),
    ("lone-high-surrogate", skipped_value(b'"\\ud800"'), NOT_JSON),
    ("lone-low-surrogate", skipped_value(b'"\\udc00x"'), NOT_JSON),
    ("surrogate-pair", skipped_value(b'"\\ud83d\\ude00"'), READS),
    ("eventTime-12-chars", edited(update(0, eventTime="2026-11-02T1")), ODD),
    ("eventTime-13-chars", edited(update(0, eventTime="2026-11-02T10")), READS),
    ("eventTime-null", edited(update(0, eventTime=None)), ODD),
    ("eventTime-missing", edited(drop(0, "eventTime")), ODD),
    ("eventTime-number", edited(update(0, eventTime=20261102)), ODD),
    ("readOnly-missing", edited(drop(1, "readOnly")), ODD),
    ("readOnly-null", edited(update(1, readOnly=None)), ODD),
    ("readOnly-string", edited(update(1, readOnly="true")), ODD),
    ("readOnly-false", edited(update(1, readOnly=False)), READS),
    ("userIdentity-missing", edited(drop(1, "userIdentity")), ODD),
    ("userIdentity-null", edited(update(1, userIdentity=None)), ODD),
    ("userIdentity-list", edited(update(1, userIdentity=[])), ODD),
    ("userIdentity-empty", edited(update(1, userIdentity={})), READS),
    ("sessionContext-null", edited(in_identity(0, sessionContext=None)), ODD),
    ("sessionIssuer-null", edited(in_identity(0, sessionContext={"sessionIssuer": None})), ODD),
    ("sessionContext-empty", edited(in_identity(0, sessionContext={})), READS),
    ("identity-arn-null", edited(in_identity(1, arn=None)), ODD),
    ("identity-accountId-null", edited(in_identity(1, accountId=None)), READS),
    ("identity-accountId-number", edited(in_identity(1, accountId=111122223333)), ODD),
    ("requestParameters-null", edited(update(2, requestParameters=None)), READS),
    ("requestParameters-empty", edited(update(2, requestParameters={})), READS),
    ("requestParameters-list", edited(update(2, requestParameters=[])), ODD),
    ("roleArn-number", edited(update(2, requestParameters={"roleArn": 1})), ODD),
    ("eventVersion-null", edited(update(0, eventVersion=None)), READS),
    ("eventVersion-number", edited(update(0, eventVersion=1.08)), ODD),
    ("eventID-null", edited(update(0, eventID=None)), READS),
    ("eventID-missing", edited(drop(0, "eventID")), READS),
    ("eventID-number", edited(update(0, eventID=7)), ODD),
    ("eventIDs-none-a-uuid", edited(lambda rs: [r.update(eventID=f"id-{i}") for i, r in enumerate(rs)]), READS),
    ("duplicate-eventName", swapped(b'"eventName":"ListBuckets"', b'"eventName":"ListBuckets","eventName":"X"'),
     ODD),
    ("duplicate-readOnly", swapped(b'"readOnly":true', b'"readOnly":true,"readOnly":false'), ODD),
    ("duplicate-identity-arn", swapped(b'"arn":"arn:aws:iam::111122223333:user/alice"',
                                       b'"arn":"x","arn":"arn:aws:iam::111122223333:user/alice"'), ODD),
    ("duplicate-unknown-key", swapped(b'"note":"plain"', b'"note":"plain","note":[]'), READS),
    ("record-not-an-object", swapped(b'{"Records":[', b'{"Records":[1,'), ODD),
    ("extra-key-after-Records", GOOD[:-1] + b',"x":1}', DECLINES),
    ("extra-key-before-Records", swapped(b'{"Records"', b'{"x":1,"Records"'), DECLINES),
    ("Records-twice", swapped(b'{"Records":[', b'{"Records":[],"Records":['), DECLINES),
    ("bare-array", edited(lambda rs: None, wrapper=lambda rs: rs), READS),
    ("wrapper-braces-lost", GOOD[1:-1], NOT_JSON),  # msgspec reads a string, then finds more text
    ("empty-Records", b'{"Records":[]}', READS),
    ("empty-bare-array", b"[]", READS),
    ("Records-null", b'{"Records":null}', SKIPPED),
    ("no-Records", b'{"records":[]}', SKIPPED),
    ("scalar", b"42", SKIPPED),
    ("trailing-characters", GOOD + b"x", NOT_JSON),
    ("two-documents", GOOD + GOOD, NOT_JSON),
    ("trailing-comma-in-record", swapped(b'null]}}', b'null]},}'), NOT_JSON),
    ("trailing-comma-in-Records", GOOD[:-2] + b",]}", NOT_JSON),
    ("trailing-comma-in-skipped-object", swapped(b'null]}', b'null],}'), NOT_JSON),
    ("trailing-comma-in-skipped-array", swapped(b'null]', b'null,]'), NOT_JSON),
    ("control-character-in-string", skipped_value(b'"a\nb"'), NOT_JSON),
    ("control-character-in-extracted-field", swapped(b'"ListBuckets"', b'"List\tBuckets"'), NOT_JSON),
    ("missing-colon", swapped(b'"note":"plain"', b'"note""plain"'), NOT_JSON),
    ("missing-comma", swapped(b'"note":"plain",', b'"note":"plain"'), NOT_JSON),
    ("single-quotes", skipped_value(b"'plain'"), NOT_JSON),
    ("unquoted-key", swapped(b'"note":', b"note:"), NOT_JSON),
    *((f"number-{n.decode()}", skipped_value(n), READS) for n in (
        b"-0", b"1.5e-3", b"1E+2", b"0e0", b"-0.0E-0", b"1e400", b"123456789012345678901234567890")),
    *((f"number-{n.decode()}", skipped_value(n), NOT_JSON) for n in (
        b"01", b"-01", b"1.", b".5", b"+1", b"NaN", b"Infinity", b"-Infinity", b"1e", b"1e+", b"-", b"0x10", b"1.e3")),
    *((f"literal-{w.decode()}", skipped_value(w), NOT_JSON) for w in (b"tru", b"nul", b"True", b"truex", b"nulll")),
    ("known-keys-at-other-levels", edited(lambda rs: (in_identity(1, eventName="X", readOnly=False)(rs),
                                                      update(1, requestParameters={"userIdentity": None})(rs))), READS),
    ("empty-extracted-texts", edited(update(1, eventName="", awsRegion="", recipientAccountId="")), READS),
    ("duplicate-roleArn", swapped(b'"roleArn":', b'"roleArn":"x","roleArn":'), ODD),
    ("many-distinct-texts", edited(lambda rs: rs.extend(dict(user_call(10 + i, WHEN), eventName=f"Op{i}")
                                                         for i in range(5000))), READS),
    ("nesting-64-deep", nested(64), READS),
    ("nesting-100-deep", nested(100), DECLINES),
    *REAL_WORLD_VARIANTS,
]


@pytest.mark.parametrize(("text", "expected"), [pytest.param(t, e, id=name) for name, t, e in VARIANTS])
def test_variant(text: bytes, expected: str) -> None:
    native, general = both_readers(text)
    if type(general) is str and general.startswith("not JSON"):
        assert native is None  # never accepts what is not JSON, whatever the table says
    if expected == READS:
        assert native is not None and native == general and odd_records(text) == 0
        assert len(native[0]) == len(records_of(json.loads(text)))
    elif expected == ODD:
        assert native is not None and native == general and odd_records(text) == 1
    else:
        assert native is None
    if expected == DECLINES:
        assert type(general) is tuple  # the general reader reads the file
    elif expected == SKIPPED:
        assert type(general) is str and not general.startswith("not JSON")
    elif expected == NOT_JSON:
        assert type(general) is str and general.startswith("not JSON")


def records_of(doc: Any) -> list:
    return doc["Records"] if type(doc) is dict else doc


def test_variants_that_read_give_the_values_written() -> None:
    """Where the native reader reads a variant written as json.dumps writes it, its values are the json module's."""
    checked = 0
    for name, text, expected in VARIANTS:
        if expected != READS or compact(doc := json.loads(text)) != text:
            continue
        records = records_of(doc)
        rows = both_readers(text)[0][0]
        assert [row[:-1] for row in rows] == expected_rows(records, [len(compact(r)) for r in records]), name
        checked += 1
    assert checked >= 15


def test_an_empty_file_has_no_rows() -> None:
    native, general = both_readers(b'{"Records":[]}')
    assert native == general == ([], True, {})


@pytest.mark.parametrize("wrapped", [True, False], ids=["Records", "bare-array"])
def test_every_truncation_is_declined_and_not_json(wrapped: bool) -> None:
    text = edited(lambda rs: None, wrapper=(lambda rs: {"Records": rs}) if wrapped else (lambda rs: rs))
    for cut in range(len(text)):
        native, general = both_readers(text[:cut])
        assert native is None, cut
        assert type(general) is str and general.startswith("not JSON"), cut


# ---- 3. random mutations ----------------------------------------------------------------------------------------
JSON_BYTES = b'{}[]":,\\ 0123456789-+.eEtrfalsnu/\x00\x7f\x80\xff'


def mutations(text: bytes, rng: random.Random, n: int) -> list[bytes]:
    """n texts, each the given one with one byte flipped, inserted or deleted (half of the new bytes are JSON's
    structural characters and literals, the rest any byte)."""
    out = []
    for _ in range(n):
        at = rng.randrange(len(text))
        new = bytes([rng.choice(JSON_BYTES) if rng.random() < 0.5 else rng.randrange(256)])
        op = rng.randrange(3)
        out.append(text[:at] + new + text[at + 1:] if op == 0 else text[:at] + new + text[at:] if op == 1
                   else text[:at] + text[at + 1:])
    return out


def test_random_mutations_are_read_exactly_or_declined() -> None:
    rng = random.Random(20261128)
    small = edited(lambda rs: rs[1].update(requestParameters={"a": [1.5, -0, "x\\y"], "b": None}))
    read_natively = not_json = 0
    real_world = json.dumps({"Records": with_real_world_text(good_records() * 2)}, separators=(",", ":"),
                            ensure_ascii=False).encode()
    for text in (mutations(small, rng, 16000) + mutations(compact(good_records()), rng, 4000)
                 + mutations(real_world, rng, 8000)):
        native = _jsonscan.Scanner().scan(text)
        general = per_record(read_log(text, native=False))
        if native is not None:
            read_natively += 1
            assert per_record(read_log(text)) == general, text
        if type(general) is str and general.startswith("not JSON"):
            not_json += 1
            assert native is None, text
    assert read_natively > 1000 and not_json > 1000  # both outcomes were exercised


# ---- 4. end to end: compact files (native) and pretty-printed ones (general path) count the same ----------------
def _copy_logs(src: Path, dst: Path, pretty: bool) -> None:
    for path in src.rglob("*.json.gz"):
        data = gzip.decompress(path.read_bytes())
        if pretty:
            data = json.dumps(json.loads(data), indent=2).encode()
        out = dst / path.relative_to(src)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(gzip.compress(data, compresslevel=1))


def _without_source(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k != "source"}


def test_sample_tenant_compact_and_pretty_count_the_same(tmp_path: Path) -> None:
    _copy_logs(SAMPLE_LOGS, tmp_path / "compact", pretty=False)
    _copy_logs(SAMPLE_LOGS, tmp_path / "pretty", pretty=True)
    compact_, pretty = (volume(tmp_path / kind, dataset=SAMPLE_DATASET, processes=1) for kind in ("compact", "pretty"))
    s = _without_source(compact_.summary())
    assert s == _without_source(pretty.summary())
    assert s["files_skipped"] == [] and s["record_issues"] == {} and s["cspm_events"] > 0
    assert s["bytes_total"] == sum(len(compact(r)) for r in _distinct_records(SAMPLE_LOGS))
    assert compact_.volume.equals(pretty.volume) and compact_.hourly.equals(pretty.hourly)


def _distinct_records(root: Path) -> list[dict]:
    seen: dict[str, dict] = {}
    for path in root.rglob("*.json.gz"):
        if "CloudTrail-Digest" not in str(path):
            for rec in json.loads(gzip.decompress(path.read_bytes()))["Records"]:
                seen.setdefault(rec["eventID"], rec)
    return list(seen.values())


# ---- found while writing these tests, fixed in parse.py -------------------------------------
def _mixed_id_file() -> bytes:
    """A file whose eventIDs are a UUID and one id of another shape."""
    return compact({"Records": [user_call(1, WHEN), dict(user_call(2, WHEN), eventID="custom-event-id")]})


def test_event_hash_does_not_depend_on_the_other_ids_in_the_file() -> None:
    native, general = both_readers(_mixed_id_file())
    assert native is not None and native == general


def test_duplicates_across_files_dropped_in_any_layout(tmp_path: Path) -> None:
    first = [user_call(1, WHEN), user_call(2, WHEN)]
    second = [user_call(1, WHEN), dict(user_call(3, WHEN), eventID="custom-event-id")]
    for layout, dumps in (("compact", compact), ("pretty", lambda doc: json.dumps(doc, indent=2).encode())):
        for name, records in (("a", first), ("b", second)):
            (tmp_path / layout).mkdir(exist_ok=True)
            (tmp_path / layout / f"{name}.json").write_bytes(dumps({"Records": records}))
    counts = {layout: volume(tmp_path / layout, processes=1).summary() for layout in ("compact", "pretty")}
    distinct = len({r["eventID"] for r in first + second})
    assert [(s["events_total"], s["duplicates_dropped"]) for s in counts.values()] == [(distinct, 1)] * 2




@pytest.mark.parametrize("text", [swapped(b'"ListBuckets"', b'"List\x89Buckets"'),
                                  b'{"Records":[' + ODD_RECORD + b"]}"], ids=["extracted-field", "odd-record"])
def test_a_record_that_is_not_utf8_is_counted_as_an_issue(tmp_path: Path, text: bytes) -> None:
    """The native reader hands the record to msgspec, which cannot read it as text: the file's other records are
    counted, that one is an issue."""
    assert odd_records(text) == 1
    (tmp_path / "a.json").write_bytes(text)
    s = volume(tmp_path, processes=1).summary()
    assert s["files_skipped"] == [] and s["record_issues"] == {"record is not UTF-8 text (skipped)": 1}
    assert s["events_total"] == len(records_of(json.loads(text.decode(errors="replace")))) - 1


def test_deeply_nested_file_is_skipped_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_bytes(nested(5000))
    s = volume(tmp_path, processes=1).summary()
    assert [Path(x["path"]).name for x in s["files_skipped"]] == ["a.json"]


# ---- one scanner over the files of a task: shared texts, the same values ---------------------------------------
def test_a_scanner_shares_its_texts_across_files_and_reads_each_as_alone() -> None:
    first = compact({"Records": [user_call(1, WHEN), role_call(2, CSPM, WHEN)]})
    second = compact({"Records": [user_call(3, WHEN, account="444455556666"), role_call(4, CSPM, WHEN)]})
    scanner = _jsonscan.Scanner()
    a, b = read_log(first, native=True, scanner=scanner), read_log(second, native=True, scanner=scanner)
    assert a.texts is b.texts is scanner.texts  # one list, grown by the second file
    assert per_record(a) == per_record(read_log(first, native=True))
    assert per_record(b) == per_record(read_log(second, native=True))
    shared = set(a.codes.ravel().tolist()) & set(b.codes.ravel().tolist())
    assert {a.texts[c] for c in shared} >= {"s3.amazonaws.com", CSPM, "2026-11-02T10"}  # the same text, one code
    assert len(scanner.texts) == len(set(scanner.texts))  # each text once


def test_texts_alike_at_both_ends_keep_their_own_codes() -> None:
    """The reader remembers each field's recent texts by their length and first and last eight bytes: texts alike
    in all three (role ARNs of accounts that differ only in the middle digits, event names of one length) meet in
    one place there, and each record still gets its own text, in any order they come in."""
    roles = [f"arn:aws:iam::{account}:role/CspmMonitorAws" for account in ("111122223333", "111199993333",
                                                                           "111122293333", "999922223333")]
    names = ["DescribeVpcs", "DescribeTags", "DescribeKeys"]  # one length, one head, and two alike at the tail too
    rng = random.Random(7)
    records = [role_call(n, rng.choice(roles), WHEN, name=rng.choice(names)) for n in range(300)]
    data = compact({"Records": records})
    assert_exact(data, records, [len(compact(rec)) for rec in records])


NATIVE_PROBE = """
from mdcnb.normalize.cloudtrail import _jsonscan
from mdcnb.normalize.cloudtrail.parse import read_log
scanner = _jsonscan.Scanner()
print(read_log(open(0, "rb").read(), scanner=scanner).texts is scanner.texts)
"""


@pytest.mark.parametrize(("setting", "native"), [(None, True), ("1", True), ("0", False)])
def test_mdcnb_native_0_turns_the_native_reader_off(setting: str | None, native: bool) -> None:
    """`make test` runs the scan tests again with MDCNB_NATIVE=0: then msgspec reads every file (its texts are its
    own, not the scanner's)."""
    env = {k: v for k, v in os.environ.items() if k != "MDCNB_NATIVE"} | ({} if setting is None
                                                                         else {"MDCNB_NATIVE": setting})
    out = subprocess.run([sys.executable, "-c", NATIVE_PROBE], input=GOOD, capture_output=True, env=env, check=True)
    assert out.stdout.decode().strip() == str(native)


def test_id_set_marks_exactly_the_hashes_seen_before() -> None:
    """IdSet against a Python set, batch by batch: repeats within a batch and across batches, the hash 0 (its
    free-slot marker), negative hashes, and growth well past its first table."""
    import numpy as np

    rng = random.Random(5)
    universe = [0, -1, 1, 2**63 - 1, -(2**63)] + [rng.getrandbits(64) - 2**63 for _ in range(30_000)]
    ids, seen = _jsonscan.IdSet(), set()
    for size in (0, 1, 7, 1000, 20_000, 40_000, 3):
        batch = [rng.choice(universe) for _ in range(size)]
        expected = []
        for h in batch:
            expected.append(h in seen)
            seen.add(h)
        marks = ids.add(np.array(batch, dtype=np.int64))
        assert (marks is None) == (not any(expected))
        if marks is not None:
            assert np.frombuffer(marks, dtype=bool).tolist() == expected
        assert len(ids) == len(seen)
    with pytest.raises(ValueError, match="8 bytes each"):
        ids.add(b"1234")
