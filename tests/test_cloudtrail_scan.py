"""Local CloudTrail scanning: identity rules, de-duplication, layouts, date pruning, bad input, real records."""

from __future__ import annotations

import gzip
import json
import os
import random
import subprocess
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from cloudtrail_helpers import (
    ACCT,
    ACCT2,
    CSPM,
    SCANNER,
    SESSION,
    assume_web,
    log_path,
    role_call,
    user_call,
    write_log,
)
from cloudtrail_helpers import write_log as write_log_any

from mdcnb.normalize.cloudtrail.counts import ScanOptions
from mdcnb.normalize.cloudtrail.identity import RoleMatcher
from mdcnb.sample.cloudtrail_synth import Builder, TrailAccount, write_account_logs
from mdcnb.tables.cloudtrail import scan, volume
from mdcnb.tables.cloudtrail.scan import scan_records

STRATUS = Path(__file__).parent / "fixtures" / "cloudtrail-samples" / "stratus-red-team"


def compact_size(rec: dict) -> int:
    return len(json.dumps(rec, separators=(",", ":"), ensure_ascii=False).encode())


def without_whitespace(text: str) -> str:
    """JSON text with the whitespace between tokens removed and every string kept exactly as written."""
    out, in_string, escaped = [], False, False
    for ch in text:
        if in_string:
            escaped, in_string = (False, True) if escaped else (ch == "\\", ch != '"')
        elif ch in " \t\r\n":
            continue
        else:
            in_string = ch == '"'
        out.append(ch)
    return "".join(out)


@pytest.fixture(params=[True, False], ids=["compact", "spaced"])
def tenant_logs(tmp_path: Path, request: pytest.FixtureRequest) -> dict:
    """A small trail bucket copy: one account, an organisation-layout account, a duplicate, a digest, an old file;
    written compact as CloudTrail does (the fast path) and with spaces (the general path)."""
    write_log = partial(write_log_any, compact=request.param)
    day = "2026-11-02T10:0{}:00Z"
    cspm_reads = [role_call(i, CSPM, day.format(i)) for i in (1, 2, 3)]
    cspm_write = role_call(4, CSPM, day.format(4), name="CreateTags", read_only=False)
    scanner = [role_call(i, SCANNER, day.format(5)) for i in (5, 6)]
    impostor = role_call(7, f"arn:aws:iam::{ACCT}:role/AppRole", day.format(6))  # MDC session name, not CSPM
    users = [user_call(i, day.format(7), read_only=i % 2 == 0) for i in (8, 9, 10, 11)]
    assume_cspm = assume_web(12, CSPM, day.format(1))
    assume_scanner = assume_web(13, SCANNER, day.format(2))
    a = [*cspm_reads, cspm_write, *scanner, impostor, *users, assume_cspm, assume_scanner]
    write_log(log_path(tmp_path, ACCT, "us-east-1", "2026-11-02", "20261102T1010Z_A"), a)
    # the same event delivered in a second file, plus one new user event
    write_log(log_path(tmp_path, ACCT, "us-east-1", "2026-11-02", "20261102T1015Z_B"),
              [cspm_reads[0], user_call(14, day.format(8))])
    cspm2 = f"arn:aws:iam::{ACCT2}:role/CspmMonitorAws"
    c = [role_call(15, cspm2, "2026-11-03T01:00:00Z", region="eu-west-1"),
         role_call(16, cspm2, "2026-11-03T01:01:00Z", region="eu-west-1"), user_call(17, "2026-11-03T02:00:00Z", ACCT2)]
    write_log(log_path(tmp_path, ACCT2, "eu-west-1", "2026-11-03", "20261103T0105Z_C", org="o-abc123def4"), c)
    digest = tmp_path / f"AWSLogs/{ACCT}/CloudTrail-Digest/us-east-1/2026/11/02/{ACCT}_CloudTrail-Digest_x.json.gz"
    write_log(digest, [])
    write_log(log_path(tmp_path, ACCT, "us-east-1", "2026-10-01", "20261001T0005Z_OLD"),
              [role_call(18, CSPM, "2026-10-01T00:00:00Z")])
    return {"root": tmp_path, "cspm": [*cspm_reads, cspm_write], "acct2_cspm": c[:2], "assume": assume_cspm}


def test_identity_rules_dedup_layouts_and_pruning(tenant_logs: dict) -> None:
    res = volume(tenant_logs["root"], since="2026-11-01", until="2026-11-30", processes=1)
    s = res.summary()
    # hand count: file A 13 events, file B 1 new + 1 duplicate, org file 3; the October file is pruned by its path
    assert s["events_total"] == 13 + 1 + 3
    assert s["duplicates_dropped"] == 1
    assert s["files_pruned_by_path_date"] == 1
    assert s["digest_files_skipped"] == 1
    assert s["files_read"] == 3 and s["files_skipped"] == []
    # CSPM = sessionIssuer is a CspmMonitorAws role, in either account; the impostor with the MDC session is not
    assert s["cspm_events"] == 4 + 2
    assert s["cspm_read_events"] == 3 + 2
    assert s["cspm_bytes"] == sum(compact_size(r) for r in tenant_logs["cspm"] + tenant_logs["acct2_cspm"])
    assert s["assume_role_events"] == 1
    assert s["other_mdc_role_events"] == {"DefenderForCloud-AgentlessScanner": 3, "AppRole": 1}
    assert s["by_account"][ACCT2] == {"events_total": 3, "events_read_only": 3, "cspm_read_events": 2,
                                      "cspm_bytes": sum(compact_size(r) for r in tenant_logs["acct2_cspm"])}
    assert set(res.volume.loc[res.volume["actor"] == "cspm", "account_id"]) == {ACCT, ACCT2}


def test_explicit_role_arn_restricts_cspm(tenant_logs: dict) -> None:
    s = volume(tenant_logs["root"], role_arns=[CSPM], since="2026-11-01", processes=1).summary()
    assert s["cspm_events"] == 4  # ACCT2's CspmMonitorAws is no longer "the" CSPM role given
    assert s["other_mdc_role_events"]["CspmMonitorAws"] == 2  # ...but still an MDC role by its session name


def test_without_window_nothing_is_pruned(tenant_logs: dict) -> None:
    s = volume(tenant_logs["root"], processes=1).summary()
    assert s["files_pruned_by_path_date"] == 0 and s["events_total"] == 18 and s["cspm_events"] == 7


def test_event_window_uses_event_time_not_path(tmp_path: Path) -> None:
    # an event of Nov 30 delivered on Dec 1 belongs to November: read thanks to the delivery margin
    write_log(log_path(tmp_path, ACCT, "us-east-1", "2026-12-01", "20261201T0005Z_L"),
              [role_call(1, CSPM, "2026-11-30T23:58:00Z"), role_call(2, CSPM, "2026-12-01T00:01:00Z")])
    s = volume(tmp_path, since="2026-11-01", until="2026-11-30", processes=1).summary()
    assert (s["cspm_events"], s["events_outside_window"], s["files_read"]) == (1, 1, 1)
    s0 = volume(tmp_path, since="2026-11-01", until="2026-11-30", margin_days=0, processes=1).summary()
    assert (s0["files_pruned_by_path_date"], s0["cspm_events"]) == (1, 0)


def test_late_duplicate_beyond_the_id_window_is_dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rec = role_call(1, CSPM, "2026-11-01T10:00:00Z")
    write_log(log_path(tmp_path, ACCT, "us-east-1", "2026-11-01", "20261101T1005Z_A"), [rec])
    write_log(log_path(tmp_path, ACCT, "us-east-1", "2026-11-02", "20261102T1005Z_B"), [rec])
    write_log(log_path(tmp_path, ACCT, "us-east-1", "2026-11-09", "20261109T1005Z_C"), [rec])
    s = volume(tmp_path, processes=1).summary()  # the three files are read in one task: every copy is caught
    assert (s["duplicates_dropped"], s["late_events_not_deduplicated"], s["cspm_events"]) == (2, 0, 1)
    monkeypatch.setattr(scan, "FILES_PER_TASK", 1)  # one task per file, as files weeks apart are in a long scan
    s = volume(tmp_path, processes=1).summary()
    assert s["duplicates_dropped"] == 2  # Nov 2 copy caught at once; Nov 9 copy (its day forgotten) by the 2nd pass
    assert (s["late_events_checked"], s["late_events_not_deduplicated"]) == (1, 0)
    assert s["cspm_events"] == 1


def test_parallel_equals_serial(tmp_path: Path) -> None:
    b = Builder(random.Random(7))
    for acct in ("210987654321", "123456789012"):
        write_account_logs(tmp_path, b, TrailAccount(acct, ("us-east-1", "eu-west-1"), 6,
                                                     f"arn:aws:iam::{acct}:role/CspmMonitorAws",
                                                     user_events_per_day=40),
                           datetime(2026, 11, 1, tzinfo=UTC), 2)
    serial = volume(tmp_path, processes=1)
    parallel = volume(tmp_path, processes=2)
    assert parallel.summary() == serial.summary()
    assert parallel.volume.equals(serial.volume)
    assert parallel.hourly.equals(serial.hourly)


real_scan_paths = scan._scan_paths


def _die_on_the_third_task(files):
    if "/2026/11/03/" in files[0].location:
        os._exit(9)  # as the kernel's OOM killer would end it: no answer, no exception
    return real_scan_paths(files)


def test_a_worker_that_dies_gives_a_clear_error_not_a_hang(tmp_path: Path, monkeypatch, capsys) -> None:
    from mdcnb.cli import main

    for day in range(1, 6):
        write_log(log_path(tmp_path, ACCT, "us-east-1", f"2026-11-0{day}", "A"),
                  [user_call(day, f"2026-11-0{day}T10:00:00Z")])
    monkeypatch.setattr(scan, "FILES_PER_TASK", 1)
    monkeypatch.setattr(scan, "_scan_paths", _die_on_the_third_task)  # forked workers inherit it
    with pytest.raises(scan.WorkerDied, match="a scan worker process died"):
        volume(tmp_path, processes=2)
    assert main(["cloudtrail", "volume", "--logs", str(tmp_path), "--processes", "2"]) == 2
    assert "nothing was counted" in capsys.readouterr().err


def test_synthetic_account_counts_follow_the_scan_interval(tmp_path: Path) -> None:
    from mdcnb.sample.cloudtrail_synth import CSPM_GLOBAL, CSPM_REGIONAL

    regions = ("us-east-1", "eu-west-1", "ap-southeast-2")
    acct = TrailAccount("210987654321", regions, 12, "arn:aws:iam::210987654321:role/CspmMonitorAws",
                        user_events_per_day=30)
    write_account_logs(tmp_path, Builder(random.Random(3)), acct, datetime(2026, 11, 1, tzinfo=UTC), 3)
    s = volume(tmp_path, since="2026-11-01", until="2026-11-03", processes=1).summary()
    per_scan = sum(n for *_, n in CSPM_GLOBAL) + len(regions) * sum(n for *_, n in CSPM_REGIONAL)
    assert s["cspm_read_events"] == 3 * 2 * per_scan  # 3 days x 2 scans (every 12 h)
    assert s["assume_role_events"] == 3 * 2


def test_stratus_records_match_an_independent_count() -> None:
    records = [r for p in sorted(STRATUS.glob("*.json")) for r in json.loads(p.read_text())]
    res = volume(STRATUS, processes=1)
    s = res.summary()
    assert s["events_total"] == len({r["eventID"] for r in records}) == 310
    assert s["events_read_only"] == sum(1 for r in records if r.get("readOnly") is True)
    # bytes as delivered: each file is a bare array, so its records' text is the array's minus brackets and commas
    arrays = [(without_whitespace(p.read_text()), len(json.loads(p.read_text()))) for p in STRATUS.glob("*.json")]
    assert s["bytes_total"] == sum(len(text.encode()) - 2 - (n - 1) for text, n in arrays)
    assert s["bytes_total"] == sum(compact_size(r) for r in records) + 5 * 5  # 5 escapes like \u003c kept as written
    assert s["cspm_events"] == 0 and s["files_skipped"] == [] and s["other_files_ignored"] == 1  # the LICENSE
    per_account = Counter(r["recipientAccountId"] for r in records)
    assert {a: v["events_total"] for a, v in s["by_account"].items()} == dict(per_account)
    per_api = Counter((r["eventSource"], r["eventName"]) for r in records)
    got = res.volume.groupby(["event_source", "event_name"])["events"].sum().to_dict()
    assert got == dict(per_api)


def test_bad_input_corpus_gives_counted_skips(tmp_path: Path) -> None:
    good = {"Records": [user_call(1, "2026-11-02T00:00:00Z")]}
    blob = gzip.compress(json.dumps(good).encode())
    (tmp_path / "truncated.json.gz").write_bytes(blob[:-12])
    (tmp_path / "corrupt.json.gz").write_bytes(blob[:10] + b"\x00" * 20 + blob[30:])
    (tmp_path / "not-json.json").write_bytes(b"this is not json")
    (tmp_path / "no-records.json").write_text('{"Foo": []}')
    (tmp_path / "records-object.json").write_text('{"Records": {"a": 1}}')
    (tmp_path / "scalar.json").write_text("42")
    (tmp_path / "empty.json.gz").write_bytes(b"")
    (tmp_path / "empty-gzip.json.gz").write_bytes(gzip.compress(b""))
    pad = "x" * 1500
    big = [dict(user_call(100 + i, "2026-11-02T01:00:00Z"), requestParameters={"pad": pad}) for i in range(12000)]
    big_blob = json.dumps({"Records": big}).encode()
    assert len(big_blob) > 16 * 1024 * 1024
    (tmp_path / "big.json.gz").write_bytes(gzip.compress(big_blob, compresslevel=1))
    odd = [1, "x", {"eventVersion": "1.08"},
           dict(user_call(2, "2026-11-02T00:00:00Z"), eventVersion="2.0"),
           {k: v for k, v in user_call(3, "2026-11-02T00:00:00Z").items() if k != "userIdentity"},
           {k: v for k, v in user_call(4, "2026-11-02T00:00:00Z").items() if k != "readOnly"}]
    (tmp_path / "odd-records.json").write_text(json.dumps({"Records": odd}))
    s = volume(tmp_path, processes=1).summary()
    reasons = {Path(x["path"]).name: x["reason"] for x in s["files_skipped"]}
    assert reasons["truncated.json.gz"].startswith("truncated gzip")
    assert reasons["corrupt.json.gz"].startswith("corrupt gzip")
    assert reasons["not-json.json"].startswith("not JSON")
    assert reasons["no-records.json"] == "JSON object without a Records array"
    assert reasons["records-object.json"].startswith("Records is a dict")
    assert reasons["scalar.json"].startswith("JSON int")
    assert reasons["empty.json.gz"] == "empty file"
    assert reasons["empty-gzip.json.gz"] == "empty file (gzip of nothing)"
    assert len(reasons) == 8 and s["files_read"] == 2
    assert s["events_total"] == 12000 + 3  # the 16 MB+ file is read in full; 3 odd records are countable
    assert s["events_read_only"] == 12000 + 2  # the record without readOnly is not read-only
    assert s["record_issues"] == {
        "record is not a JSON object (skipped)": 2, "no eventTime (skipped)": 1,
        "unknown eventVersion 2.0 (parsed best-effort)": 1, "no userIdentity (counted as not MDC)": 1,
        "no readOnly (counted as not read-only)": 1}


def test_compact_and_pretty_files_count_the_same(tmp_path: Path) -> None:
    """The fast path (compact files) and the general path (any other layout) agree to the byte; a string escaped
    in the file (\\u003c) counts as delivered, a non-ASCII one by its UTF-8 bytes."""
    recs = [dict(user_call(i, f"2026-11-02T0{i}:00:00Z"), userAgent=f"<agent é {i}>") for i in range(1, 4)]
    recs.append(assume_web(4, CSPM, "2026-11-02T05:00:00Z"))
    text = json.dumps({"Records": recs}, separators=(",", ":"), ensure_ascii=False).replace("<", "\\u003c")
    (tmp_path / "compact").mkdir()
    (tmp_path / "compact" / "a.json").write_text(text, encoding="utf-8")
    (tmp_path / "pretty").mkdir()
    (tmp_path / "pretty" / "a.json").write_text(json.dumps(json.loads(text), indent=2, ensure_ascii=False)
                                                .replace("<", "\\u003c"), encoding="utf-8")
    compact, pretty = volume(tmp_path / "compact", processes=1), volume(tmp_path / "pretty", processes=1)
    expected = len(text.encode()) - len('{"Records":[]}') - (len(recs) - 1)
    assert compact.summary()["bytes_total"] == pretty.summary()["bytes_total"] == expected
    assert compact.volume.equals(pretty.volume) and compact.hourly.equals(pretty.hourly)
    assert compact.summary()["assume_role_events"] == 1


def test_event_hashes_are_stable_across_processes_and_distinct() -> None:
    from mdcnb.normalize.cloudtrail.columns import event_hashes

    rng = random.Random(3)
    ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(5000)]
    ids += [f"00000000-0000-4000-8000-{n:012x}" for n in range(5000)]  # ids one bit apart
    others = ["not-a-uuid", "x" * 35 + "é"]  # not UUID-shaped: hashed one by one
    here = event_hashes(ids).tolist() + event_hashes(others).tolist()
    code = ("import json, sys; from mdcnb.normalize.cloudtrail.columns import event_hashes; "
            "ids = json.load(sys.stdin); "
            "print(json.dumps(event_hashes(ids[:-2]).tolist() + event_hashes(ids[-2:]).tolist()))")
    there = subprocess.run([sys.executable, "-c", code], input=json.dumps(ids + others), capture_output=True,
                           text=True, check=True).stdout
    assert json.loads(there) == here  # the same in another interpreter (str hash() would differ)
    assert len(set(here)) == len(ids) + len(others)


def _inflaters() -> list:
    """Both one-call inflaters: zlib's (the fallback) and isal's (a dependency: its absence fails here)."""
    from isal import isal_zlib

    from mdcnb.normalize.cloudtrail.inflate import ZLIB, Inflater

    return [ZLIB, Inflater("isal", isal_zlib.decompress, isal_zlib.error)]


def test_inflater_is_isal_unless_turned_off_or_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """isal's inflater is used when it can be imported; MDCNB_INFLATE=zlib or a failed import gives zlib's."""
    from mdcnb.normalize.cloudtrail.inflate import ZLIB, fastest_inflater

    monkeypatch.delenv("MDCNB_INFLATE", raising=False)
    assert fastest_inflater().name == "isal"
    monkeypatch.setenv("MDCNB_INFLATE", "zlib")
    assert fastest_inflater() is ZLIB
    monkeypatch.delenv("MDCNB_INFLATE")
    monkeypatch.setitem(sys.modules, "isal", None)  # `import isal` raises ImportError
    assert fastest_inflater() is ZLIB


@pytest.mark.parametrize("inflater", _inflaters(), ids=lambda i: i.name)
def test_oversized_file_is_skipped_not_loaded(inflater) -> None:
    from mdcnb.normalize.cloudtrail.inflate import inflate as inflate_with
    from mdcnb.normalize.cloudtrail.parse import read_log

    inflate = partial(inflate_with, inflater=inflater)
    text = b'{"Records": [' + b" " * 5000 + b"]}"
    assert inflate(gzip.compress(text), max_bytes=1000) == (None, "larger than 1000 bytes decompressed")
    assert inflate(gzip.compress(text)) == (text, None)
    assert len(read_log(text)) == 0


@pytest.mark.parametrize("inflater", _inflaters(), ids=lambda i: i.name)
def test_inflate_does_not_trust_the_gzip_trailer(inflater) -> None:
    """The stated size only sizes the buffer: a trailer that lies about it (up to 4 GiB) is a corrupt file, whether
    inflated in one call or, too big for that, step by step; a broken checksum or a cut stream gives its reason
    (zlib's words, whichever inflater tried first)."""
    from mdcnb.normalize.cloudtrail.inflate import inflate as inflate_with

    inflate = partial(inflate_with, inflater=inflater)

    text = b'{"Records": [' + b'{"eventID": "x"},' * 3000 + b'{}]}'
    packed = gzip.compress(text)
    assert inflate(packed) == inflate(packed, max_bytes=len(text)) == (text, None)
    for stated in (0, 1, len(text) - 1, len(text) + 1, 2**32 - 1):
        lying = packed[:-4] + stated.to_bytes(4, "little")
        for limit in (1 << 30, len(text)):
            assert inflate(lying, max_bytes=limit) == (
                None, "corrupt gzip (Error -3 while decompressing data: incorrect length check)")
    bad_crc = packed[:-8] + bytes(4) + packed[-4:]
    assert inflate(bad_crc) == (None, "corrupt gzip (Error -3 while decompressing data: incorrect data check)")
    assert inflate(packed[:-9]) == (None, "truncated gzip (end of stream missing)")
    assert inflate(gzip.compress(b" \n")) == (None, "empty file (gzip of nothing)")


@pytest.mark.parametrize("inflater", _inflaters(), ids=lambda i: i.name)
def test_inflate_reads_every_gzip_member(tmp_path: Path, inflater) -> None:
    """Concatenated gzip members are one gzip file: all of it is read (a JSON text split across members is whole
    again), files concatenated whole make a text that is not JSON (a counted skip, not the first file alone), zero
    padding is allowed, anything else after the stream is named."""
    from mdcnb.normalize.cloudtrail.inflate import inflate as inflate_with

    inflate = partial(inflate_with, inflater=inflater)

    text = json.dumps({"Records": [user_call(i, "2026-11-02T00:00:00Z") for i in range(3)]}).encode()
    members = gzip.compress(text[:100]) + gzip.compress(text[100:1000]) + gzip.compress(text[1000:])
    assert inflate(members) == (text, None)
    assert inflate(members, max_bytes=len(text)) == (text, None)
    assert inflate(members, max_bytes=len(text) - 1) == (None, f"larger than {len(text) - 1} bytes decompressed")
    assert inflate(gzip.compress(text) + bytes(512)) == (text, None)
    assert inflate(gzip.compress(text) + b"junk") == (None, "corrupt gzip (data after the end of the gzip stream)")
    assert inflate(members[:-3]) == (None, "truncated gzip (end of stream missing)")
    write_log(log_path(tmp_path, ACCT, "us-east-1", "2026-11-02", "A"), [user_call(9, "2026-11-02T00:00:00Z")])
    whole = log_path(tmp_path, ACCT, "us-east-1", "2026-11-02", "AB")
    whole.write_bytes(gzip.compress(text) + gzip.compress(b'{"Records":[]}'))
    s = volume(tmp_path, processes=1).summary()
    assert s["files_read"] == 1 and s["events_total"] == 1
    skipped = [(Path(f["path"]).name, f["reason"].split(" (")[0]) for f in s["files_skipped"]]
    assert skipped == [(whole.name, "not JSON")]


def test_session_name_alone_never_makes_cspm(tmp_path: Path) -> None:
    recs = [role_call(1, SCANNER, "2026-11-02T00:00:00Z", session=SESSION),
            role_call(2, f"arn:aws:iam::{ACCT}:role/path/to/CspmMonitorAws", "2026-11-02T00:00:00Z")]
    write_log(tmp_path / "f.json", recs, gz=False)
    res = volume(tmp_path, processes=1)
    actors = dict(zip(res.volume["role_name"], res.volume["actor"], strict=True))
    assert actors == {"DefenderForCloud-AgentlessScanner": "mdc_other", "CspmMonitorAws": "cspm"}


def test_dataset_connectors_give_the_role_arns(tmp_path: Path) -> None:
    """A connector with a custom CSPM role name: only its cloudRoleArn is CSPM; the default name is not assumed."""
    from mdcnb.sources.dataset_write import write_records

    custom = f"arn:aws:iam::{ACCT}:role/mdc-cspm-reader"
    scanner_role = f"arn:aws:iam::{ACCT}:role/custom-scanner"
    offerings = [{"offeringType": "CspmMonitorAws", "nativeCloudConnection": {"cloudRoleArn": custom}},
                 {"offeringType": "DefenderCspmAws",
                  "vmScanners": {"enabled": True, "configuration": {"cloudRoleArn": scanner_role}}}]
    connector = {
        "id": "/subscriptions/a5caac9c-5c04-49af-b3d0-e204f40345d5/resourceGroups/rg/providers/Microsoft.Security/"
              "securityConnectors/aws-111122223333", "name": "aws-111122223333",
        "type": "Microsoft.Security/securityConnectors", "location": "westeurope",
        "properties": {"environmentName": "AWS", "hierarchyIdentifier": ACCT,
                       "environmentData": {"environmentType": "AwsAccount", "scanInterval": 12},
                       "offerings": offerings}}
    dataset = tmp_path / "ds"
    write_records(dataset, "securityconnectors", [connector])
    logs = tmp_path / "logs"
    write_log(logs / "a.json", [role_call(1, custom, "2026-11-02T00:00:00Z"),
                                role_call(2, CSPM, "2026-11-02T00:00:00Z", session="ci"),
                                role_call(3, scanner_role, "2026-11-02T00:00:00Z", session="other-session"),
                                assume_web(4, custom, "2026-11-02T00:00:00Z")], gz=False)
    s = volume(logs, dataset=dataset, processes=1).summary()
    assert s["role_arns"] == [custom]
    assert s["cspm_events"] == 1 and s["assume_role_events"] == 1
    # the scanner role is MDC's by the connector, whatever its session name; the default-named role with a
    # non-MDC session is still an MDC role by its default name
    assert s["other_mdc_role_events"] == {"CspmMonitorAws": 1, "custom-scanner": 1}


def test_default_processes_honours_the_environment(monkeypatch):
    from mdcnb.tables.cloudtrail import scan

    monkeypatch.delenv(scan.PROCESSES_ENV, raising=False)
    cores = scan.default_processes()
    assert cores == len(os.sched_getaffinity(0)) >= 1
    monkeypatch.setenv(scan.PROCESSES_ENV, "1")
    assert scan.default_processes() == 1
    monkeypatch.setenv(scan.PROCESSES_ENV, "zero")  # not a count: the usable cores
    assert scan.default_processes() == cores


def test_account_falls_back_to_the_path_then_the_caller(tmp_path: Path) -> None:
    """recipientAccountId, else the account in the file's path, else userIdentity.accountId; files of one task that
    need the path's account are counted with the others."""
    def without_recipient(rec: dict) -> dict:
        return {k: v for k, v in rec.items() if k != "recipientAccountId"}

    when = "2026-11-02T10:00:00Z"
    write_log(log_path(tmp_path, ACCT2, "us-east-1", "2026-11-02", "A"),
              [without_recipient(user_call(1, when, account=ACCT)), user_call(2, when)])  # path says ACCT2
    write_log(log_path(tmp_path, ACCT, "us-east-1", "2026-11-02", "B"), [user_call(3, when, account=ACCT2)])
    s = volume(tmp_path, processes=1).summary()
    # ACCT2: event 1 (its path), event 3 (recipient); ACCT: event 2 (recipient)
    assert {a: v["events_total"] for a, v in s["by_account"].items()} == {ACCT2: 2, ACCT: 1}
    records = [without_recipient(user_call(4, when, account=ACCT2)), user_call(5, when)]  # no path: the caller's
    s = scan_records(records, ScanOptions(RoleMatcher.build())).summary()
    assert {a: v["events_total"] for a, v in s["by_account"].items()} == {ACCT2: 1, ACCT: 1}


def test_totals_take_a_file_of_more_new_keys_than_they_can_hold() -> None:
    """The merged counters grow to any number of new keys at once (they start with room for 1,024)."""
    keys = [(f"2026-11-{1 + i % 28:02d}", str(i)) for i in range(3000)]
    totals = scan.Totals(2)
    totals.add(keys, np.ones((3000, 2), dtype=np.int64))
    totals.add(keys[:10], np.full((10, 2), 5, dtype=np.int64))
    merged = dict(zip(totals.counted().keys, totals.counted().counts.tolist(), strict=True))
    assert len(merged) == 3000 and merged[keys[0]] == [6, 6] and merged[keys[2999]] == [1, 1]


def test_counts_do_not_depend_on_the_task_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each file a task of its own, or 8 or 32 files to a task, on two processes: the same counts, and the copies
    planted by hand (within a task or across tasks, by the task size) are dropped."""
    rng = random.Random(5)
    ids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(300)]
    for f in range(40):
        day = f"2026-11-{1 + f // 20:02d}"
        recs = [role_call(0, CSPM, f"{day}T{f % 20:02d}:0{k}:00Z") | {"eventID": ids[f * 7 + k]} for k in range(7)]
        if f % 10 == 9:  # a copy of the first event of the file 5 before (the same day): 4 copies in all
            recs.append(role_call(0, CSPM, f"{day}T{(f - 5) % 20:02d}:00:00Z") | {"eventID": ids[(f - 5) * 7]})
        write_log(log_path(tmp_path, ACCT, "us-east-1", day, f"{f:04d}"), recs, compact=True)
    summaries = []
    for per_task in (1, 8, 32):
        monkeypatch.setattr(scan, "FILES_PER_TASK", per_task)
        summaries.append(volume(tmp_path, processes=2).summary())
    assert (summaries[0]["events_total"], summaries[0]["cspm_read_events"]) == (40 * 7, 40 * 7)
    assert summaries[0]["duplicates_dropped"] == 4
    assert summaries[1] == summaries[0] and summaries[2] == summaries[0]
